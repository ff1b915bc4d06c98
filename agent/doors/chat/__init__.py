"""``zoomqa chat``: a conversation in the terminal, with slash commands and picture requests."""

"""``zoomqa faq``: grounded FAQ entries from a list of questions, as Markdown, JSON or HTML."""

"""The front doors: ``zoomqa ask``, the terminal chat, the Slack bot and the FAQ generator.

Each door talks only to :class:`~zoomqa.agent.turn.assistant.Assistant` and renders its
:class:`~zoomqa.agent.turn.reply.Reply`; doors never import one another (shared pieces:
``options``, ``render``, ``terminal_view``).
"""

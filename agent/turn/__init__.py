"""One turn of a conversation: condense a follow-up, plan and run any enlargement, answer.

:class:`~zoomqa.agent.turn.assistant.Assistant` is the agent every front door talks to; the
planner lets an OpenAI-compatible model call the upscaler itself, and ``enlarge_requests``
reads the same requests deterministically for the offline writers.
"""

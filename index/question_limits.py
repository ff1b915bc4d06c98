"""What a question must be before anything is loaded for it: not empty, and not too long.

Kept apart from retrieval (which imports LangChain, FAISS and the embedder) so that a front
door can refuse an empty or oversized question at once, with the same words the search uses.
"""

from __future__ import annotations

from zoomqa.errors import ZoomqaError

MAX_QUESTION_CHARS = 4000


def check_question(question: str) -> str:
    """The question with its whitespace collapsed; ZoomqaError when it is empty or longer than
    :data:`MAX_QUESTION_CHARS`."""
    text = " ".join(question.split())
    if not text:
        raise ZoomqaError("the question is empty; ask something about image super-resolution")
    if len(text) > MAX_QUESTION_CHARS:
        raise ZoomqaError(f"the question is {len(text)} characters long; keep it under {MAX_QUESTION_CHARS}")
    return text

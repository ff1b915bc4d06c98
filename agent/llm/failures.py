"""When a model cannot answer, the person still gets an answer: the offline one, and one line on why.

A failure of the model's *server* (HTTP 5xx, a dropped or refused connection, a timeout, the
deadline, a reply that cannot be read, rate-limiting that outlasts the retries) is
:class:`ModelUnavailable`: the turn is answered offline and :attr:`ModelUnavailable.note` says
why. A refused *request* (any other 4xx: a wrong key, model or parameter) stays a plain
:class:`~zoomqa.errors.ZoomqaError` with the server's own message, because only the person can fix it.
"""

from __future__ import annotations

from zoomqa.errors import ZoomqaError

OFFLINE = "this is the offline answer."


class ModelUnavailable(ZoomqaError):
    """The model could not answer this time; the message is one line that says why."""

    @property
    def note(self) -> str:
        """What the person reads above the offline answer (and ``fallback_reason`` holds)."""
        return f"{self}; {OFFLINE}"


def is_offline_note(reason: str | None) -> bool:
    """Whether an answer's ``fallback_reason`` is a model failure (rather than the grounding guard's verdict)."""
    return bool(reason) and str(reason).endswith(OFFLINE)

"""The error a user can cause and fix: the front doors print its message, never a traceback."""

from __future__ import annotations


class ZoomqaError(Exception):
    """A problem the user can act on (missing file, bad image, unknown model, server down...).

    The message must say what went wrong and, where possible, what to do about it.
    """

    exit_code: int = 2

    def __init__(self, message: str, *, exit_code: int | None = None) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code

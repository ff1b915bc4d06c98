"""A stream that ends by a deadline, however slowly its source trickles.

A server that sends one token every few seconds never trips an HTTP read timeout, so the
deadline cannot be left to the client: the stream is read on a worker thread and the caller
stops waiting when the deadline passes. The worker closes the stream (and with it the HTTP
response) at its next item; it is a daemon, so a server that has gone silent never keeps the
process alive.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

T = TypeVar("T")


class DeadlinePassed(Exception):
    """The stream had not ended when its deadline passed."""


_ITEM, _END, _ERROR = "item", "end", "error"


def until(deadline: float, start: Callable[[], Iterator[T]]) -> Iterator[T]:
    """The items of ``start()`` as they come, until ``deadline`` (a ``time.monotonic()`` value).

    Raises :class:`DeadlinePassed` when it passes first; an exception of the stream is raised
    here, in the caller's thread. Closing this iterator early (an error in the caller, Ctrl-C)
    stops the worker too.
    """
    if time.monotonic() >= deadline:  # nothing is started that could not finish
        raise DeadlinePassed
    inbox: queue.Queue[tuple[str, object]] = queue.Queue()
    stop = threading.Event()

    def read() -> None:
        stream: Iterator[T] | None = None
        try:
            stream = start()
            for item in stream:
                if stop.is_set():
                    return
                inbox.put((_ITEM, item))
            inbox.put((_END, None))
        except BaseException as exc:  # handed to the caller's thread, which decides
            inbox.put((_ERROR, exc))
        finally:
            close = getattr(stream, "close", None)  # a generator: closing it ends the HTTP response
            if close is not None:
                close()

    threading.Thread(target=read, name="model-stream", daemon=True).start()
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise DeadlinePassed
            try:
                kind, value = inbox.get(timeout=left)
            except queue.Empty:
                raise DeadlinePassed from None
            if kind == _END:
                return
            if kind == _ERROR:
                assert isinstance(value, BaseException)
                raise value
            yield value  # type: ignore[misc]
    finally:
        stop.set()

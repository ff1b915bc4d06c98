"""How much work the Slack bot takes on: a bounded queue in front of its workers, a timeout per
message, a limit on each person's enlargements, and one log line per message for its admin.

No thread is ever killed. A message past its timeout is answered as abandoned at once; its
worker stops at the next point the work allows (between two chunks of an enlargement, through
the progress callback, as Ctrl-C stops one in ``zoomqa chat``), or else when the step it is in
returns, and whatever it produced is dropped.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Literal

log = logging.getLogger("zoomqa.slack.questions")

Outcome = Literal["answered", "refused", "error", "timeout", "busy"]


def text_sha256(text: str) -> str:
    """The first 10 hex digits of the text's SHA-256: log lines can be matched to a message
    without keeping what anyone wrote."""
    return hashlib.sha256(text.encode()).hexdigest()[:10]


def new_ref() -> str:
    """A short id for an error reply, which a person can quote and the admin finds in the log."""
    return secrets.token_hex(3)


class Abandoned(Exception):
    """Raised inside a timed-out message's work (from its progress callback) to stop it there."""


@dataclass
class Job:
    """One message on its way through the bot: where it came from, its timings and how it ended.

    The reply belongs to whoever claims it first: the worker (:meth:`finish`) or the timeout
    (:meth:`time_out`), so a message is never answered twice nor logged twice.
    """

    event_id: str
    channel: str
    user: str
    thread_ts: str
    text_sha256: str
    position: int = 0  # its place in the queue when it arrived; 0: a worker took it at once
    placeholder: str = ""
    received: float = field(default_factory=time.monotonic)
    started: float | None = None
    tool_s: float | None = None
    _owner: Literal["", "worker", "timeout"] = ""
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def start(self) -> None:
        self.started = time.monotonic()

    def finish(self) -> bool:
        """Whether the worker may reply; once it may, the timeout no longer can."""
        with self._lock:
            if self._owner == "timeout":
                return False
            self._owner = "worker"
            return True

    def time_out(self) -> bool:
        """Whether the timeout may reply: only while the worker has not begun to."""
        with self._lock:
            if self._owner == "worker":
                return False
            self._owner = "timeout"
            return True

    @property
    def timed_out(self) -> bool:
        return self._owner == "timeout"

    def record(self, outcome: Outcome, ref: str | None = None) -> None:
        """The message's one log line (JSON): ids, a hash of the text (never the text), timings."""
        now = time.monotonic()
        line = {
            "event_id": self.event_id,
            "channel": self.channel,
            "user": self.user,
            "thread_ts": self.thread_ts,
            "text_sha256": self.text_sha256,
            "outcome": outcome,
            "ref": ref,
            "queued_s": round((self.started or now) - self.received, 3),
            "answer_s": round(now - self.started, 3) if self.started is not None else None,
            "tool_s": round(self.tool_s, 3) if self.tool_s is not None else None,
        }
        log.info("question %s", json.dumps(line))


class WorkQueue:
    """``workers`` threads answer messages in the order they came; at most ``size`` more wait."""

    def __init__(self, workers: int, size: int) -> None:
        self.workers, self.size = workers, size
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="zoomqa-answer")
        self._taken = 0
        self._lock = threading.Lock()

    def admit(self) -> int | None:
        """Take a place: 0 when a worker is free, n for the n-th in the queue, None when it is full."""
        with self._lock:
            place = self._taken - self.workers + 1
            if place > self.size:
                return None
            self._taken += 1
            return max(0, place)

    def run(self, work: Callable[[], None]) -> None:
        """Run admitted work on the next free worker; its place is given back when it returns."""

        def job() -> None:
            try:
                work()
            except Exception:
                log.exception("a Slack worker failed")
            finally:
                self.leave()

        self._pool.submit(job)

    def leave(self) -> None:
        """Give back an admitted place (its work is done, or never started)."""
        with self._lock:
            self._taken -= 1


class PerPersonLimit:
    """How many enlargements each person has running, kept at most ``limit``."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._running: dict[str, int] = {}
        self._lock = threading.Lock()

    def take(self, person: str) -> bool:
        """One more for ``person``; False (and nothing taken) when they are at the limit."""
        with self._lock:
            if self._running.get(person, 0) >= self.limit:
                return False
            self._running[person] = self._running.get(person, 0) + 1
            return True

    def give_back(self, person: str) -> None:
        with self._lock:
            left = self._running.pop(person, 1) - 1
            if left:
                self._running[person] = left

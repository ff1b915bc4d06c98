"""Sentence vectors kept on disk between processes.

An answer embeds the ~250 sentences of the cards it retrieved. In one long-running process
an in-memory cache makes that free after the first question; without a cache on disk, a
fresh ``zoomqa ask`` pays it every time (seconds on a busy two-core machine). This cache
keeps each vector under the hash of the embedder's identity and the text, so a vector can
never be stale or belong to another model. It is an optimisation only: when the file cannot
be read or written (a read-only index folder, another process holding the lock) texts are
simply embedded.
"""

from __future__ import annotations

import hashlib
import logging
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

CACHE_FILE = "vector-cache.sqlite"
LOCK_TIMEOUT_S = 0.5  # waiting longer for another writer costs more than embedding the texts
_SCHEMA = "CREATE TABLE IF NOT EXISTS vectors (key BLOB PRIMARY KEY, vector BLOB NOT NULL) WITHOUT ROWID"


class VectorCache:
    """Vectors of one embedder (``identity``, ``dim``) in an SQLite file at ``path``."""

    def __init__(self, path: Path, identity: str, dim: int) -> None:
        self.path = path
        self.identity = identity
        self.dim = dim
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        self._broken = False

    def _connect(self) -> sqlite3.Connection | None:
        if self._db is None and not self._broken:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                db = sqlite3.connect(self.path, timeout=LOCK_TIMEOUT_S, check_same_thread=False)
                # WAL with normal sync: readers never wait for a writer, and a commit per question
                # costs no fsync (a lost last write only means re-embedding it).
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("PRAGMA synchronous=NORMAL")
                db.execute(_SCHEMA)
                db.commit()
                self._db = db
            except (OSError, sqlite3.Error) as exc:
                log.debug("vector cache %s unusable: %s", self.path, exc)
                self._broken = True
        return self._db

    def _key(self, text: str) -> bytes:
        return hashlib.sha256(f"{self.identity}\0{text}".encode()).digest()

    def get(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        """The cached vectors among ``texts`` (missing ones are absent)."""
        keys = {self._key(t): t for t in dict.fromkeys(texts)}
        with self._lock:
            db = self._connect()
            if db is None or not keys:
                return {}
            found: dict[str, np.ndarray] = {}
            try:
                items = list(keys)
                for start in range(0, len(items), 500):  # SQLite's bound on query parameters
                    chunk = items[start : start + 500]
                    marks = ",".join("?" * len(chunk))
                    for key, blob in db.execute(
                        f"SELECT key, vector FROM vectors WHERE key IN ({marks})", chunk
                    ):
                        vector = np.frombuffer(blob, dtype=np.float32)
                        if vector.shape == (self.dim,):
                            found[keys[key]] = vector
            except sqlite3.Error as exc:
                log.debug("vector cache read failed: %s", exc)
            return found

    def put(self, texts: Sequence[str], vectors: np.ndarray) -> None:
        """Keep these vectors (row i belongs to ``texts[i]``); failures are not errors."""
        rows = [
            (self._key(t), np.ascontiguousarray(v, dtype=np.float32).tobytes())
            for t, v in zip(texts, vectors)
        ]
        with self._lock:
            db = self._connect()
            if db is None or not rows:
                return
            try:
                with db:
                    db.executemany("INSERT OR IGNORE INTO vectors (key, vector) VALUES (?, ?)", rows)
            except sqlite3.Error as exc:
                log.debug("vector cache write failed: %s", exc)

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

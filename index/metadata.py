"""The record table of a generation: SQLite rows holding each record as JSON plus its hashes.

A row number is also the position of the record's vector in FAISS and of its document in
BM25, so a search result maps back to its record with one indexed lookup.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from zoomqa.errors import ZoomqaError
from zoomqa.index.records import Record

RECORDS_DB = "records.sqlite"
_SCHEMA = """
CREATE TABLE records (
    row INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    arxiv_id TEXT,
    source TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    text_hash TEXT NOT NULL,
    record TEXT NOT NULL
)
"""
_COLUMNS = "row, id, kind, arxiv_id, source, content_hash, text_hash"


def text_hash(record: Record) -> str:
    """Changes exactly when the record must be re-embedded."""
    return hashlib.sha256(record.embedding_text().encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Entry:
    """A record as stored: where it came from and the hashes that drive incremental updates."""

    record: Record
    source: str
    content_hash: str
    text_hash: str

    @classmethod
    def of(cls, record: Record, source: str) -> Entry:
        return cls(record, source, record.content_hash(), text_hash(record))


@dataclass(frozen=True)
class RowInfo:
    """A stored row without its record JSON: enough to rank, de-duplicate and diff."""

    row: int
    id: str
    kind: str
    arxiv_id: str | None
    source: str
    content_hash: str
    text_hash: str


def write_records(path: Path, entries: Iterable[Entry]) -> None:
    """Create a new record table; the n-th entry gets row n."""
    with sqlite3.connect(path) as db:
        db.execute(_SCHEMA)
        db.executemany(
            "INSERT INTO records VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                (
                    row,
                    e.record.id,
                    e.record.kind,
                    e.record.arxiv_id,
                    e.source,
                    e.content_hash,
                    e.text_hash,
                    e.record.model_dump_json(exclude_defaults=True),
                )
                for row, e in enumerate(entries)
            ),
        )
    db.close()


class RecordTable:
    """Read-only access to a generation's record table, safe to share between threads."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, check_same_thread=False)
            self.count = self._db.execute("SELECT COUNT(*) FROM records").fetchone()[0]
        except sqlite3.Error as exc:
            raise ZoomqaError(
                f"the record table {path} is unreadable ({exc}); rebuild it with "
                "`zoomqa index build --rebuild`"
            ) from None

    def close(self) -> None:
        self._db.close()

    def _query(self, sql: str, params: tuple = ()) -> list[tuple]:
        with self._lock:
            try:
                return self._db.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise ZoomqaError(f"the record table {self.path} is unreadable: {exc}") from None

    def infos(self) -> Iterator[RowInfo]:
        """Every row, in row order, without parsing record JSON."""
        for values in self._query(f"SELECT {_COLUMNS} FROM records ORDER BY row"):
            yield RowInfo(*values)

    def rows_of_kind(self, kind: str) -> list[int]:
        return [row for (row,) in self._query("SELECT row FROM records WHERE kind = ? ORDER BY row", (kind,))]

    def rows_of_source(self, source: str) -> list[int]:
        return [
            row for (row,) in self._query("SELECT row FROM records WHERE source = ? ORDER BY row", (source,))
        ]

    def infos_of(self, rows: Iterable[int]) -> dict[int, RowInfo]:
        wanted = sorted({int(r) for r in rows})
        if not wanted:
            return {}
        marks = ",".join("?" * len(wanted))
        found = self._query(f"SELECT {_COLUMNS} FROM records WHERE row IN ({marks})", tuple(wanted))
        return {values[0]: RowInfo(*values) for values in found}

    def records_of(self, rows: Iterable[int]) -> dict[int, Record]:
        wanted = sorted({int(r) for r in rows})
        if not wanted:
            return {}
        marks = ",".join("?" * len(wanted))
        found = self._query(f"SELECT row, record FROM records WHERE row IN ({marks})", tuple(wanted))
        return {row: Record.model_validate_json(text) for row, text in found}

    def entries(self) -> Iterator[tuple[int, Entry]]:
        """Every stored record with its row, in row order (parses all JSON: for writers)."""
        sql = "SELECT row, source, content_hash, text_hash, record FROM records ORDER BY row"
        for row, source, content_hash, text_hash_, text in self._query(sql):
            yield row, Entry(Record.model_validate_json(text), source, content_hash, text_hash_)

    def count_by(self, column: str) -> dict[str, int]:
        if column not in {"kind", "source"}:
            raise ValueError(column)
        found = self._query(f"SELECT {column}, COUNT(*) FROM records GROUP BY {column} ORDER BY {column}")
        return dict(found)

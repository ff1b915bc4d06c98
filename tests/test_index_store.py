"""The index store: incremental updates, atomic generations, integrity checks, one writer at a time."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from zoomqa.errors import ZoomqaError
from zoomqa.index.generations import POINTER, writer_lock
from zoomqa.index.manifest import MANIFEST, records_digest
from zoomqa.index.metadata import Entry
from zoomqa.index.records import Record
from zoomqa.index.snapshot import VECTORS, open_snapshot
from zoomqa.index.store import IndexStore

TOPICS = ["image super-resolution", "video denoising", "face restoration", "depth estimation", "optical flow"]


def paper(i: int, **changes: object) -> Record:
    fields: dict[str, object] = {
        "id": f"arxiv:2101.{i:05d}",
        "kind": "paper",
        "title": f"Study {i} of {TOPICS[i % len(TOPICS)]}",
        "authors": ["A. Author"],
        "year": 2021,
        "arxiv_id": f"2101.{i:05d}",
        "summary": f"Paper number {i} proposes a method for {TOPICS[i % len(TOPICS)]} with variant {i * 7}.",
    }
    return Record.model_validate({**fields, **changes})


def entries(records: list[Record], source: str = "test.jsonl") -> list[Entry]:
    return [Entry.of(r, source) for r in records]


class EmbedCounter:
    """The store's progress callback: reports how many texts an update embedded."""

    def __init__(self) -> None:
        self.total = 0

    def __call__(self, done: int, total: int) -> None:
        self.total = total


def vectors_by_id(index_dir: Path) -> dict[str, np.ndarray]:
    snapshot = open_snapshot(index_dir, with_keywords=False)
    try:
        matrix = snapshot.vector_matrix()
        return {info.id: matrix[info.row].copy() for info in snapshot.records.infos()}
    finally:
        snapshot.records.close()


def test_unchanged_records_embed_nothing_and_write_nothing(tmp_path: Path, embedder) -> None:
    index_dir = tmp_path / "index"
    counter = EmbedCounter()
    first = IndexStore(index_dir, progress=counter).upsert(entries([paper(i) for i in range(12)]), embedder)
    assert (first.added, counter.total) == (12, 12)
    pointer = (index_dir / POINTER).read_text()

    counter.total = 0
    again = IndexStore(index_dir, progress=counter).upsert(entries([paper(i) for i in range(12)]), embedder)
    assert not again.changed and again.unchanged == 12 and counter.total == 0
    assert (index_dir / POINTER).read_text() == pointer
    assert sorted(p.name for p in index_dir.iterdir()) == sorted([".lock", POINTER, pointer.strip()])


def test_text_changes_are_reembedded_and_metadata_changes_keep_their_vector(tmp_path: Path, embedder) -> None:
    index_dir = tmp_path / "index"
    IndexStore(index_dir).upsert(entries([paper(i) for i in range(8)]), embedder)
    before = vectors_by_id(index_dir)

    counter = EmbedCounter()
    changed = [paper(i) for i in range(8)]
    changed[1] = paper(1, summary="A completely different abstract about sparse coding dictionaries.")
    changed[2] = paper(2, year=2019, github="https://github.com/example/repo")
    report = IndexStore(index_dir, progress=counter).upsert(entries(changed + [paper(99)]), embedder)

    assert (report.reembedded, report.metadata_only, report.added, report.unchanged) == (1, 1, 1, 6)
    assert counter.total == 2  # the changed text and the new record, nothing else
    after = vectors_by_id(index_dir)
    assert np.array_equal(after["arxiv:2101.00002"], before["arxiv:2101.00002"])
    assert np.array_equal(after["arxiv:2101.00005"], before["arxiv:2101.00005"])
    assert not np.allclose(after["arxiv:2101.00001"], before["arxiv:2101.00001"])
    snapshot = open_snapshot(index_dir, with_keywords=False)
    try:
        stored = {r.id: r for r in snapshot.records.records_of(range(snapshot.manifest.count)).values()}
    finally:
        snapshot.records.close()
    assert stored["arxiv:2101.00002"].year == 2019 and stored["arxiv:2101.00002"].github


def test_manifest_describes_the_generation(tmp_path: Path, embedder) -> None:
    index_dir = tmp_path / "index"
    store = IndexStore(index_dir)
    store.upsert(entries([paper(i) for i in range(5)], "a.jsonl"), embedder)
    report = store.upsert(entries([paper(i) for i in range(5, 8)], "b.jsonl"), embedder)
    manifest = report.manifest
    assert manifest is not None
    assert (manifest.count, manifest.dim, manifest.embedder) == (8, embedder.dim, embedder.identity)
    assert manifest.sources == {"a.jsonl": 5, "b.jsonl": 3}
    assert manifest.digest == records_digest((r.id, r.content_hash()) for r in [paper(i) for i in range(8)])
    on_disk = json.loads((report.generation / MANIFEST).read_text())
    assert (
        on_disk["format"] == 1 and on_disk["files"][VECTORS] == (report.generation / VECTORS).stat().st_size
    )


def test_remove_and_replace_sources(tmp_path: Path, embedder) -> None:
    index_dir = tmp_path / "index"
    store = IndexStore(index_dir)
    store.upsert(
        entries([paper(i) for i in range(4)], "bundled") + entries([paper(9)], "mine.jsonl"), embedder
    )

    with pytest.raises(ZoomqaError, match="not in the index: arxiv:0000.00000; nothing was removed"):
        store.remove({"arxiv:2101.00001", "arxiv:0000.00000"})
    assert store.remove({"arxiv:2101.00001"}).removed == 1

    # re-syncing a source drops its records that are gone, and leaves other sources alone
    report = store.upsert(entries([paper(0)], "bundled"), embedder, replace_sources={"bundled"})
    assert (report.removed, report.unchanged) == (2, 2)
    assert set(vectors_by_id(index_dir)) == {"arxiv:2101.00000", "arxiv:2101.00009"}

    with pytest.raises(ZoomqaError, match="empty"):
        store.remove({"arxiv:2101.00000", "arxiv:2101.00009"})


def test_a_second_writer_is_refused_while_the_first_holds_the_lock(tmp_path: Path, embedder) -> None:
    index_dir = tmp_path / "index"
    with writer_lock(index_dir), pytest.raises(ZoomqaError, match="another zoomqa process"):
        IndexStore(index_dir).upsert(entries([paper(1)]), embedder)


def test_leftovers_of_a_killed_writer_are_cleaned_by_the_next_write(tmp_path: Path, embedder) -> None:
    index_dir = tmp_path / "index"
    store = IndexStore(index_dir)
    store.upsert(entries([paper(1)]), embedder)
    (index_dir / ".staging-deadbeef").mkdir()
    (index_dir / "gen-000777").mkdir()  # renamed into place, but the pointer never switched
    store.upsert(entries([paper(2)]), embedder)
    assert sorted(p.name for p in index_dir.iterdir()) == [".lock", POINTER, "gen-000002"]


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda g: (g / VECTORS).write_bytes((g / VECTORS).read_bytes()[:100]), "damaged"),
        (lambda g: (g / MANIFEST).write_text("{ not json"), "manifest .* is corrupt"),
        (lambda g: (g / MANIFEST).unlink(), "no manifest"),
        (
            lambda g: (g / "records.sqlite").write_bytes(b"x" * (g / "records.sqlite").stat().st_size),
            "unreadable",
        ),
        (lambda g: (g.parent / POINTER).write_text("../../etc\n"), "pointer .* is corrupt"),
    ],
    ids=["truncated-vectors", "garbage-manifest", "missing-manifest", "garbage-sqlite", "bad-pointer"],
)
def test_a_damaged_index_is_refused_with_a_clear_message(tmp_path: Path, embedder, damage, message) -> None:
    index_dir = tmp_path / "index"
    generation = IndexStore(index_dir).upsert(entries([paper(i) for i in range(6)]), embedder).generation
    damage(generation)
    with pytest.raises(ZoomqaError, match=message) as raised:
        open_snapshot(index_dir)
    assert "rebuild" in str(raised.value)
    with pytest.raises(ZoomqaError):  # an incremental update refuses too, rather than building on garbage
        IndexStore(index_dir).upsert(entries([paper(50)]), embedder)


def test_faiss_garbage_of_the_right_size_is_refused(tmp_path: Path, embedder) -> None:
    index_dir = tmp_path / "index"
    generation = IndexStore(index_dir).upsert(entries([paper(1)]), embedder).generation
    size = (generation / VECTORS).stat().st_size
    (generation / VECTORS).write_bytes(b"\0" * size)
    with pytest.raises(ZoomqaError, match="vector file .* is corrupt"):
        open_snapshot(index_dir)


def test_wrong_embedder_is_refused_naming_both(tmp_path: Path, embedder) -> None:
    index_dir = tmp_path / "index"
    IndexStore(index_dir).upsert(entries([paper(1)]), embedder)
    with pytest.raises(
        ZoomqaError, match=r"built with embedder all-MiniLM-L6-v2@\w+ but .* is other@1234"
    ) as raised:
        open_snapshot(index_dir, embedder="other@1234")
    assert "--rebuild" in str(raised.value)


def test_rebuild_repairs_a_damaged_index(tmp_path: Path, embedder) -> None:
    index_dir = tmp_path / "index"
    store = IndexStore(index_dir)
    generation = store.upsert(
        entries([paper(1)], "bundled") + entries([paper(2)], "mine.jsonl"), embedder
    ).generation
    (generation / VECTORS).write_bytes(b"")
    report = store.rebuild(entries([paper(1), paper(3)], "bundled"), embedder, replace_sources={"bundled"})
    assert report.dropped_unreadable and report.added == 2
    assert set(vectors_by_id(index_dir)) == {"arxiv:2101.00001", "arxiv:2101.00003"}

    # on a healthy index, a rebuild keeps the other sources' records and re-embeds them
    store.upsert(entries([paper(2)], "mine.jsonl"), embedder)
    report = store.rebuild(entries([paper(1)], "bundled"), embedder, replace_sources={"bundled"})
    assert (report.added, report.reembedded, report.removed, report.dropped_unreadable) == (1, 1, 1, False)


@pytest.mark.slow
def test_a_writer_killed_mid_build_leaves_the_previous_index_usable(tmp_path: Path, embedder) -> None:
    home = tmp_path / "home"
    index_dir = home / "index"
    small = entries([paper(i) for i in range(5)], "small.jsonl")
    before = IndexStore(index_dir).upsert(small, embedder).manifest
    big = tmp_path / "big.jsonl"
    big.write_text("".join(paper(i).model_dump_json() + "\n" for i in range(5, 1500)))

    writer = subprocess.Popen(
        [sys.executable, "-m", "zoomqa.cli", "index", "add", str(big)],
        env={**os.environ, "ZOOMQA_HOME": str(home)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while not any(p.name.startswith(".staging-") for p in index_dir.iterdir()):
        assert writer.poll() is None, "the writer finished before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.02)
    time.sleep(0.3)  # now inside the embedding phase
    writer.send_signal(signal.SIGKILL)
    writer.wait()

    after = open_snapshot(index_dir)
    assert after.manifest == before and after.keywords.count == 5
    after.records.close()
    assert not IndexStore(index_dir).upsert(small, embedder).changed
    assert not any(p.name.startswith(".staging-") for p in index_dir.iterdir())

"""The on-disk vector cache: the same vectors as embedding afresh, shared between processes,
never another model's, and never a reason for a question to fail."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from zoomqa.index.embedding import Embedder
from zoomqa.index.retrieval import HybridRetriever
from zoomqa.index.vector_cache import CACHE_FILE, VectorCache

TEXTS = [
    "LIIF decodes any coordinate with an MLP.",
    "JPEG blocks come from 8x8 quantisation.",
    "LIIF decodes any coordinate with an MLP.",
]


def test_cached_vectors_equal_fresh_ones_and_outlive_the_process(tmp_path: Path, embedder: Embedder) -> None:
    path = tmp_path / CACHE_FILE
    fresh = embedder.encode(TEXTS)
    first = embedder.with_cache(path).encode(TEXTS)
    np.testing.assert_allclose(first, fresh, atol=1e-6)
    # a later process opens the file anew and finds every text without embedding it
    later = VectorCache(path, embedder.identity, embedder.dim)
    found = later.get(TEXTS)
    assert set(found) == set(TEXTS)
    np.testing.assert_allclose(found[TEXTS[1]], fresh[1], atol=1e-6)
    np.testing.assert_allclose(embedder.with_cache(path).encode(TEXTS), fresh, atol=1e-6)


def test_another_embedder_never_reads_these_vectors(tmp_path: Path, embedder: Embedder) -> None:
    path = tmp_path / CACHE_FILE
    embedder.with_cache(path).encode(TEXTS)
    assert VectorCache(path, "another-model@0000", embedder.dim).get(TEXTS) == {}


def test_an_unusable_cache_only_costs_the_embedding(tmp_path: Path, embedder: Embedder) -> None:
    fresh = embedder.encode(TEXTS)
    garbage = tmp_path / "garbage.sqlite"
    garbage.write_bytes(b"not a database" * 100)
    np.testing.assert_allclose(embedder.with_cache(garbage).encode(TEXTS), fresh, atol=1e-6)
    assert garbage.read_bytes() == b"not a database" * 100  # a file we did not write is left alone
    blocked = tmp_path / "a-file"
    blocked.write_text("x")
    np.testing.assert_allclose(embedder.with_cache(blocked / CACHE_FILE).encode(TEXTS), fresh, atol=1e-6)


def test_a_search_keeps_its_vectors_beside_the_index(bundled_home: Path, tmp_path: Path) -> None:
    index_dir = tmp_path / "index"
    shutil.copytree(bundled_home / "index", index_dir)
    (index_dir / CACHE_FILE).unlink(missing_ok=True)
    with HybridRetriever.open(index_dir) as retriever:
        retriever.search("how does LIIF enlarge to any size?")
    with HybridRetriever.open(index_dir) as retriever:
        assert retriever.embedder.cache is not None
        assert retriever.embedder.cache.get(["how does LIIF enlarge to any size?"])

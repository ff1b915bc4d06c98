"""One published index generation, opened read-only and checked before it is trusted."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from zoomqa.errors import ZoomqaError
from zoomqa.index.generations import current_generation
from zoomqa.index.keywords import KeywordIndex
from zoomqa.index.manifest import REBUILD_HINT, Manifest, read_manifest
from zoomqa.index.metadata import RECORDS_DB, RecordTable

VECTORS = "vectors.faiss"
KEYWORDS = "bm25"
_OPEN_ATTEMPTS = 3


@dataclass(frozen=True)
class IndexSnapshot:
    """The files of one generation, loaded: vectors (FAISS), keywords (BM25) and records (SQLite)."""

    path: Path
    manifest: Manifest
    vectors: object  # a faiss index (exact inner product over fp16 vectors), imported lazily
    records: RecordTable
    keywords: KeywordIndex | None

    def vector_matrix(self) -> np.ndarray:
        """All vectors as a (count, dim) float32 array, decoded exactly from storage."""
        return self.vectors.reconstruct_n(0, self.manifest.count)  # type: ignore[attr-defined]


def missing_index_error(index_dir: Path) -> ZoomqaError:
    return ZoomqaError(f"no index at {index_dir}; build it with `zoomqa index build`")


def embedder_mismatch_error(index_dir: Path, built_with: str, configured: str) -> ZoomqaError:
    return ZoomqaError(
        f"the index at {index_dir} was built with embedder {built_with} but the configured embedder "
        f"is {configured}; set index.embedder back, or re-embed with `zoomqa index build --rebuild`"
    )


def _read_vectors(path: Path, manifest: Manifest) -> object:
    import faiss

    try:
        index = faiss.read_index(str(path))
    except RuntimeError:
        raise ZoomqaError(f"the vector file {path} is corrupt; {REBUILD_HINT}") from None
    if (
        index.ntotal != manifest.count
        or index.d != manifest.dim
        or index.metric_type != faiss.METRIC_INNER_PRODUCT
    ):
        raise ZoomqaError(
            f"the vector file {path} holds {index.ntotal} vectors of dimension {index.d}, the manifest "
            f"says {manifest.count} of dimension {manifest.dim}; {REBUILD_HINT}"
        )
    return index


def _read_keywords(path: Path, manifest: Manifest) -> KeywordIndex:
    try:
        keywords = KeywordIndex.load(path)
    except (OSError, ValueError, KeyError, TypeError):
        raise ZoomqaError(f"the keyword index {path} is corrupt; {REBUILD_HINT}") from None
    if keywords.count != manifest.count:
        raise ZoomqaError(f"the keyword index {path} does not match its manifest; {REBUILD_HINT}")
    return keywords


def _open_generation(generation: Path, manifest: Manifest, *, with_keywords: bool) -> IndexSnapshot:
    vectors = _read_vectors(generation / VECTORS, manifest)
    records = RecordTable(generation / RECORDS_DB)
    if records.count != manifest.count:
        records.close()
        raise ZoomqaError(f"the record table {records.path} does not match its manifest; {REBUILD_HINT}")
    keywords = _read_keywords(generation / KEYWORDS, manifest) if with_keywords else None
    return IndexSnapshot(generation, manifest, vectors, records, keywords)


def open_snapshot(
    index_dir: Path, *, embedder: str | None = None, with_keywords: bool = True
) -> IndexSnapshot:
    """The current generation of ``index_dir``; ZoomqaError if missing, damaged or built by another embedder.

    ``embedder`` is the identity the caller will query with (None skips that check). A writer
    may replace the generation while we read it; then the pointer has moved and we follow it.
    """
    for _ in range(_OPEN_ATTEMPTS):
        generation = current_generation(index_dir)
        if generation is None:
            raise missing_index_error(index_dir)
        try:
            manifest = read_manifest(generation)
            if embedder is not None and manifest.embedder != embedder:
                raise embedder_mismatch_error(index_dir, manifest.embedder, embedder)
            return _open_generation(generation, manifest, with_keywords=with_keywords)
        except ZoomqaError:
            if current_generation(index_dir) == generation:
                raise
    raise ZoomqaError(f"the index at {index_dir} kept changing while it was opened; try again")

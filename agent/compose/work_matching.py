"""Which retrieved work answers a question: question vectors mapped towards the works that answer them.

Sentence cosine ranks works by the one sentence closest to the question. A person who writes
"the any-size upscaler i use smooths everything, is there a version that keeps texture?" is
closest to a sentence of the upscaler they already use, not of the work that answers them. A
residual linear map of the question vector, ``q' = norm(q + q W)`` (the form of
:class:`zoomqa.index.matching.QueryAdapter`), is trained so that ``q'`` lies closest to the
*work* that answers it, a work's vector being the mean of its passages' vectors. It learns from
questions written for the bundled works in people's own words (``index/data/works/``)
and from the questions written for card sentences (``index/data/matching``), by
``zoomqa eval train-works`` (:mod:`zoomqa.agent.evaluation.work_matching_training`).

The anchor reads cos(q', work) as one of its signals. The map knows only the bundled works: a
record added from arXiv is compared with the question as the embedder reads it.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from importlib.resources import files
from pathlib import Path

import numpy as np

from zoomqa.errors import ZoomqaError
from zoomqa.index.embedding import Embedder
from zoomqa.index.matching import QueryAdapter, load_adapter
from zoomqa.index.records import Record

SHIPPED_ADAPTER = Path(str(files("zoomqa.agent.compose") / "data" / "work_adapter.npz"))
RETRAIN = "run `zoomqa eval train-works`"


def work_vector(passage_vectors: np.ndarray) -> np.ndarray:
    """A work's vector: the normalised mean of its passages' unit vectors."""
    mean = np.asarray(passage_vectors, dtype=np.float32).mean(axis=0)
    return mean / max(float(np.linalg.norm(mean)), 1e-12)


_loaded: dict[tuple[Path, str], QueryAdapter | None] = {}
_loading = threading.Lock()


def shipped_work_adapter(embedder: Embedder, path: Path = SHIPPED_ADAPTER) -> QueryAdapter | None:
    """The shipped map for ``embedder``, read once per process; None for another embedder
    (the anchor then goes without this signal)."""
    key = (path, embedder.identity)
    with _loading:
        if key not in _loaded:
            try:
                _loaded[key] = load_adapter(path, embedder=embedder.identity, retrain=RETRAIN)
            except ZoomqaError:
                _loaded[key] = None
        return _loaded[key]


def work_match(
    adapter: QueryAdapter | None,
    question_vector: np.ndarray,
    records: Sequence[Record],
    work_vectors: np.ndarray,
) -> list[float]:
    """cos(q', work) for each record (rows of ``work_vectors``); a record without card fields,
    which the map never learnt, by the plain cosine."""
    plain = np.asarray(question_vector, dtype=np.float32).reshape(1, -1)
    mapped = plain if adapter is None else adapter.apply(plain)
    scores = []
    for record, vector in zip(records, work_vectors, strict=True):
        learnt = adapter is not None and bool(record.card_fields())
        scores.append(float((mapped if learnt else plain)[0] @ vector))
    return scores

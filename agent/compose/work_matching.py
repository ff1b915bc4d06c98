"""Which retrieved work answers a question: the question read by an encoder tuned towards the works that answer it.

Sentence cosine ranks works by the one sentence closest to the question. A person who writes
"the any-size upscaler i use smooths everything, is there a version that keeps texture?" is
closest to a sentence of the upscaler they already use, not of the work that answers them. The
question side of the packaged MiniLM, with its top layers fine-tuned, is trained so that the
question's vector lies closest to the *work* that answers it, a work's vector being the mean of
its passages' vectors as the plain embedder reads them (the index and the passages stay as
they are). It learns from questions written for the bundled works in people's own words
(``index/data/works/``) and from the questions written for card sentences
(``index/data/matching``), by ``zoomqa eval train-works``
(:mod:`zoomqa.agent.evaluation.work_matching_training`). Only the tuned layers ship
(safetensors, fp16), with the base model's identity, a digest of the training data and the
held-out report.

The anchor reads cos(question, work) as one of its signals. The encoder knows only the bundled
works: a record added from arXiv is compared with the question as the plain embedder reads it.
The file also holds the bundled records' work vectors it was trained against, so the works it
ranks first over the whole collection (matched_work.py) cost no embedding at answer time.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files
from pathlib import Path
from typing import Any

import numpy as np

from zoomqa.errors import ZoomqaError
from zoomqa.index.embedding import Embedder
from zoomqa.index.minilm import MiniLMEncoder
from zoomqa.index.pair_model import read_tuned_layers
from zoomqa.index.records import Record

SHIPPED_MATCHER = Path(str(files("zoomqa.agent.compose") / "data" / "work_matcher.safetensors"))
RETRAIN = "run `zoomqa eval train-works`"
WORK_VECTORS = "works.vectors"  # tensor: the bundled records' work vectors
WORK_IDS = "works"  # metadata: their record ids, in row order


def work_vector(passage_vectors: np.ndarray) -> np.ndarray:
    """A work's vector: the normalised mean of its passages' unit vectors."""
    mean = np.asarray(passage_vectors, dtype=np.float32).mean(axis=0)
    return mean / max(float(np.linalg.norm(mean)), 1e-12)


@dataclass(frozen=True, eq=False)  # compared and hashed by identity: it holds arrays
class WorkMatcher:
    """The question encoder tuned towards works, and how it was trained."""

    encoder: MiniLMEncoder
    embedder: str  # the identity of the base model it was tuned from
    digest: str  # of its training data and settings
    report: dict[str, Any]
    work_ids: tuple[str, ...] = ()  # the bundled records it was trained against...
    work_vectors: np.ndarray | None = None  # ... and their work vectors, one row each

    def question_vector(self, question: str) -> np.ndarray:
        """The question's unit vector as the tuned encoder reads it; remembered, since the
        call-in (matched_work.py) and the anchor's signal both ask for it."""
        return _question_vector(self, question)


@lru_cache(maxsize=256)
def _question_vector(matcher: WorkMatcher, question: str) -> np.ndarray:
    vector = matcher.encoder.encode([question])[0]
    vector.setflags(write=False)  # one array, shared by every caller
    return vector


def read_work_matcher(path: Path, embedder: Embedder) -> WorkMatcher:
    """The matcher in ``path`` for ``embedder``; a ZoomqaError when it cannot serve it."""
    encoder, rest, meta = read_tuned_layers(path, embedder, "the work matcher")
    ids = tuple(json.loads(meta.get(WORK_IDS, "[]")))
    vectors = rest.get(WORK_VECTORS)
    if vectors is None or len(ids) != len(vectors):
        ids, vectors = (), None
    return WorkMatcher(
        encoder,
        meta["embedder"],
        meta.get("digest", ""),
        json.loads(meta.get("report", "{}")),
        ids,
        None if vectors is None else vectors.astype(np.float32),
    )


_loaded: dict[tuple[Path, str], WorkMatcher | None] = {}
_loading = threading.Lock()


def shipped_work_matcher(embedder: Embedder, path: Path = SHIPPED_MATCHER) -> WorkMatcher | None:
    """The shipped matcher for ``embedder``, read once per process; None for another embedder
    (the anchor then goes without this signal)."""
    key = (path, embedder.identity)
    with _loading:
        if key not in _loaded:
            try:
                _loaded[key] = read_work_matcher(path, embedder)
            except ZoomqaError:
                _loaded[key] = None
        return _loaded[key]


def work_match(
    matcher: WorkMatcher | None,
    question: str,
    question_vector: np.ndarray,
    records: Sequence[Record],
    work_vectors: np.ndarray,
) -> list[float]:
    """cos(question, work) for each record (rows of ``work_vectors``), the question read by the
    tuned encoder; a record without card fields, which it never learnt, by the plain
    ``question_vector``."""
    plain = np.asarray(question_vector, dtype=np.float32)
    tuned = plain if matcher is None else matcher.question_vector(question)
    return [
        float((tuned if matcher is not None and record.card_fields() else plain) @ vector)
        for record, vector in zip(records, work_vectors, strict=True)
    ]

"""Is a question about what zoomqa knows? A small classifier over the question's embedding and words decides.

One cosine threshold on the nearest card cannot tell "how do I sharpen a knife?" from "how
do I sharpen a blurry photo?": both share words with the cards. The decision here adds two
logistic regressions. One reads the question embedding (the one retrieval already computed)
plus two nearest-neighbour features: the mean cosine of the question to its ``k`` nearest
in-domain texts (card sentences, in-domain questions) and to its ``k`` nearest off-topic
questions. The other reads the question's words and letter sequences (:mod:`lexical`), which
settle what the embedding blurs ("Ender 3", "motion blur"). It costs one product of the
embedding with about ten thousand stored vectors and a few hundred hashed look-ups.

The weights come from ``zoomqa index train-relevance`` (:mod:`zoomqa.index.relevance_training`)
and ship as an ``.npz`` read without pickle. They carry the embedder they were trained with
and a digest of their training texts, so vectors from another model are refused and stale
weights are detected.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any

import numpy as np

from zoomqa.errors import ZoomqaError
from zoomqa.index.lexical import BUCKETS, ngram_counts, weighted

SHIPPED_WEIGHTS = Path(str(files("zoomqa.index") / "data" / "relevance" / "relevance.npz"))
FORMAT = 2
_ARRAYS = ("coef", "in_domain", "off_topic", "lexical_coef", "lexical_idf", "meta")


@dataclass(frozen=True)
class RelevanceModel:
    """Learnt weights: ``logit = coef · [q, knn(in_domain), knn(off_topic)] + intercept
    + lexical_weight · (lexical_coef · tfidf(words) + lexical_intercept)``."""

    embedder: str  # identity ('name@sha256-prefix') of the embedder the vectors come from
    digest: str  # of the training texts and settings (relevance_training.training_digest)
    coef: np.ndarray  # (dim + 2,) float32
    intercept: float
    threshold: float  # logits at or above it are relevant
    neighbours: int  # k of the nearest-neighbour features
    in_domain: np.ndarray  # (n, dim) unit vectors of the in-domain texts (stored as float16)
    off_topic: np.ndarray  # (m, dim) unit vectors of the off-topic texts
    lexical_coef: np.ndarray  # (BUCKETS,) float32: the word model's weight of each hashed feature
    lexical_idf: np.ndarray  # (BUCKETS,) float32: its idf, 0 where too few training texts had it
    lexical_intercept: float
    lexical_weight: float  # how much the word model's logit counts beside the embedding's
    report: dict[str, Any]  # cross-validation numbers of the training run, for people to read

    @property
    def dim(self) -> int:
        return int(self.in_domain.shape[1])

    def logit(self, query: np.ndarray, text: str) -> float:
        """The classifier's score for a question: its unit vector, of shape (dim,) or (1, dim), and its text."""
        vector = np.asarray(query, dtype=np.float32).reshape(-1)
        features = np.concatenate([vector, self.neighbour_features(vector)])
        return float(features @ self.coef + self.intercept) + self.lexical_weight * self.lexical_logit(text)

    def lexical_logit(self, text: str) -> float:
        """The word model's own score for ``text``."""
        buckets, values = weighted(ngram_counts(text), self.lexical_idf)
        return float(values @ self.lexical_coef[buckets]) + self.lexical_intercept

    def neighbour_features(self, vector: np.ndarray) -> np.ndarray:
        """Mean cosine to the ``k`` nearest in-domain and the ``k`` nearest off-topic texts."""
        similarities = [(group @ vector)[None, :] for group in (self.in_domain, self.off_topic)]
        return np.concatenate([mean_of_nearest(s, self.neighbours) for s in similarities])

    def is_relevant(self, query: np.ndarray, text: str) -> bool:
        return self.logit(query, text) >= self.threshold

    def save(self, path: Path) -> None:
        """Write the weights (no pickle) via a temporary file, so a crash never leaves half a file."""
        meta = {
            "format": FORMAT,
            "embedder": self.embedder,
            "digest": self.digest,
            "intercept": self.intercept,
            "threshold": self.threshold,
            "neighbours": self.neighbours,
            "lexical_intercept": self.lexical_intercept,
            "lexical_weight": self.lexical_weight,
            "report": self.report,
        }
        path = Path(path)
        partial = path.with_name(path.name + ".partial")
        with open(partial, "wb") as handle:
            np.savez_compressed(
                handle,
                coef=self.coef.astype(np.float32),
                in_domain=self.in_domain.astype(np.float16),
                off_topic=self.off_topic.astype(np.float16),
                lexical_coef=self.lexical_coef.astype(np.float32),
                lexical_idf=self.lexical_idf.astype(np.float32),
                meta=np.array(json.dumps(meta, sort_keys=True)),
            )
        partial.replace(path)


def mean_of_nearest(similarities: np.ndarray, k: int) -> np.ndarray:
    """Per row of an (n, m) similarity matrix, the mean of its ``k`` largest entries (all when m < k)."""
    k = min(k, similarities.shape[1])
    nearest = np.partition(similarities, similarities.shape[1] - k, axis=1)[:, -k:]
    return nearest.mean(axis=1, dtype=np.float32)


def load_relevance(path: Path, *, embedder: str) -> RelevanceModel:
    """The weights at ``path`` for vectors of ``embedder``; one ZoomqaError for any problem."""
    retrain = "run `zoomqa index train-relevance` (or set index.relevance_weights to a file it wrote)"
    try:
        with np.load(path, allow_pickle=False) as data:
            missing = [name for name in _ARRAYS if name not in data.files]
            if missing:
                raise ValueError(f"missing {', '.join(missing)}")
            arrays = {name: data[name] for name in _ARRAYS}
        meta = json.loads(str(arrays["meta"]))
        if meta.get("format") != FORMAT:
            raise ValueError(f"format {meta.get('format')!r}, expected {FORMAT}")
        model = RelevanceModel(
            embedder=str(meta["embedder"]),
            digest=str(meta["digest"]),
            coef=arrays["coef"].astype(np.float32),
            intercept=float(meta["intercept"]),
            threshold=float(meta["threshold"]),
            neighbours=int(meta["neighbours"]),
            in_domain=arrays["in_domain"].astype(np.float32),
            off_topic=arrays["off_topic"].astype(np.float32),
            lexical_coef=arrays["lexical_coef"].astype(np.float32),
            lexical_idf=arrays["lexical_idf"].astype(np.float32),
            lexical_intercept=float(meta["lexical_intercept"]),
            lexical_weight=float(meta["lexical_weight"]),
            report=dict(meta.get("report") or {}),
        )
        _check_shapes(model)
    except FileNotFoundError:
        raise ZoomqaError(f"relevance weights not found at {path}; {retrain}") from None
    except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile) as exc:
        raise ZoomqaError(f"unreadable relevance weights {path} ({exc}); {retrain}") from None
    if model.embedder != embedder:
        raise ZoomqaError(
            f"relevance weights {path} were trained for embedder {model.embedder} "
            f"but the index uses {embedder}; {retrain}"
        )
    return model


def _check_shapes(model: RelevanceModel) -> None:
    in_domain, off_topic = model.in_domain, model.off_topic
    if in_domain.ndim != 2 or off_topic.ndim != 2 or in_domain.shape[1] != off_topic.shape[1]:
        raise ValueError("the stored text vectors have inconsistent shapes")
    if model.coef.shape != (model.dim + 2,):
        raise ValueError(f"coef has shape {model.coef.shape}, expected ({model.dim + 2},)")
    if not (len(model.in_domain) and len(model.off_topic)) or model.neighbours < 1:
        raise ValueError("no stored texts or no neighbours")
    if model.lexical_coef.shape != (BUCKETS,) or model.lexical_idf.shape != (BUCKETS,):
        raise ValueError(f"the word model has {model.lexical_coef.shape} weights, expected ({BUCKETS},)")
    arrays = (model.coef, model.in_domain, model.off_topic, model.lexical_coef, model.lexical_idf)
    if not all(np.isfinite(a).all() for a in arrays):
        raise ValueError("non-finite weights")

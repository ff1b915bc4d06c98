"""A learnt classifier of text pairs on top of the packaged MiniLM: a small cross-encoder.

Two separate sentence vectors agree on nearly every word of "ESRGAN removes batch
normalisation" and "ESRGAN keeps batch normalisation", or of a question and a sentence of the
wrong card that shares its words. A cross-encoder reads both texts as one sequence, so every
layer compares them word for word. These models are the packaged MiniLM with its top layers
fine-tuned and a linear head over the mean-pooled states (:mod:`zoomqa.index.pair_training`).
Only the fine-tuned layers and the head ship (safetensors, fp16, no pickle), with the base
model's identity, a digest of the training data and the validation report as metadata; the
base weights stay in their package.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from zoomqa.errors import ZoomqaError
from zoomqa.index.embedding import Embedder
from zoomqa.index.minilm import MiniLMEncoder

HEAD = "head"  # the classifier's tensors: head.weight (labels x dim), head.bias


@dataclass(frozen=True, eq=False)
class PairClassifier:
    """Probabilities of ``labels`` for (first, second) text pairs."""

    encoder: MiniLMEncoder
    weight: np.ndarray  # (labels, dim)
    bias: np.ndarray  # (labels,)
    labels: tuple[str, ...]
    embedder: str  # the identity of the base model it was trained on
    digest: str  # of its training data and settings
    report: dict[str, object]

    def probabilities(self, pairs: list[tuple[str, str]]) -> np.ndarray:
        """(len(pairs), len(labels)) rows of probabilities, one row per pair."""
        if not pairs:
            return np.zeros((0, len(self.labels)), dtype=np.float32)
        logits = self.encoder.encode_pairs(pairs) @ self.weight.T + self.bias
        logits -= logits.max(axis=1, keepdims=True)
        np.exp(logits, out=logits)
        return logits / logits.sum(axis=1, keepdims=True)

    def probability(self, label: str, first: str, second: str) -> float:
        """P(``label``) of one pair, remembered: callers ask about the same pair again."""
        return _probability(self, label, first, second)


@lru_cache(maxsize=8192)
def _probability(model: PairClassifier, label: str, first: str, second: str) -> float:
    return float(model.probabilities([(first, second)])[0, model.labels.index(label)])


def read_tuned_layers(
    path: Path, embedder: Embedder, what: str
) -> tuple[MiniLMEncoder, dict[str, np.ndarray], dict[str, str]]:
    """``embedder``'s MiniLM with the fine-tuned layers in ``path`` in place of its own, the
    file's other tensors (a head) and its metadata; a ZoomqaError when the file is unreadable,
    was trained for another base model, or the base cannot take layers (a sentence-transformers fallback)."""
    from safetensors import safe_open
    from safetensors.numpy import load_file

    try:
        with safe_open(str(path), framework="numpy") as handle:
            meta = handle.metadata() or {}
        tensors = load_file(str(path))
    except (OSError, ValueError) as exc:
        raise ZoomqaError(f"cannot read {what} {path}: {exc}") from None
    if meta.get("embedder") != embedder.identity:
        raise ZoomqaError(f"{what} {path} was trained on {meta.get('embedder')}, not {embedder.identity}")
    base = embedder.minilm()
    if base is None:
        raise ZoomqaError(f"{what} {path} needs the numpy MiniLM encoder, not {embedder.identity}")
    layers = {name: value for name, value in tensors.items() if name.startswith("encoder.layer.")}
    rest = {name: value for name, value in tensors.items() if name not in layers}
    return base.with_layers(layers), rest, meta


def read_pair_classifier(path: Path, embedder: Embedder) -> PairClassifier:
    """The classifier in ``path`` on top of ``embedder``'s MiniLM; a ZoomqaError when it was
    trained for another base model or the base cannot read pairs (a sentence-transformers fallback)."""
    encoder, head, meta = read_tuned_layers(path, embedder, "the pair classifier")
    try:
        labels = tuple(json.loads(meta["labels"]))
        weight, bias = head[f"{HEAD}.weight"], head[f"{HEAD}.bias"]
    except (ValueError, KeyError) as exc:
        raise ZoomqaError(f"cannot read the pair classifier {path}: {exc}") from None
    return PairClassifier(
        encoder=encoder,
        weight=weight.astype(np.float32),
        bias=bias.astype(np.float32),
        labels=labels,
        embedder=meta["embedder"],
        digest=meta.get("digest", ""),
        report=json.loads(meta.get("report", "{}")),
    )


_loaded: dict[tuple[Path, str], PairClassifier | None] = {}
_loading = threading.Lock()


def shipped_pair_classifier(path: Path, embedder: Embedder) -> PairClassifier | None:
    """The classifier at ``path`` for ``embedder``, loaded once per process; None where it
    cannot serve (no file, another base model), and its caller goes on without it."""
    key = (path, embedder.identity)
    with _loading:
        if key not in _loaded:
            try:
                _loaded[key] = read_pair_classifier(path, embedder)
            except ZoomqaError:
                _loaded[key] = None
        return _loaded[key]

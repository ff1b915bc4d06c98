"""The sentence-transformers forward pass of a BERT sentence model (all-MiniLM-L6-v2), in numpy.

Importing torch and sentence-transformers costs seconds before the first question; this file
computes the same vectors with numpy alone: the model's own tokenizer (``tokenizer.json``
through the ``tokenizers`` library), the BERT encoder read from ``model.safetensors``, mean
pooling over the real tokens and L2 normalisation. It reads what sentence-transformers reads
from the model folder (``modules.json``, ``sentence_bert_config.json``, ``config.json``,
``1_Pooling/config.json``) and refuses a folder it cannot reproduce, so the caller can use
sentence-transformers for that one instead.

Vectors agree with sentence-transformers' to float32 rounding (tests/test_minilm.py measures
it on a few hundred texts). One instance may serve several threads: after loading nothing in
it changes (the tokenizer's settings are fixed once; padding is done here).
"""

from __future__ import annotations

import copy
import json
import math
import re
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

WEIGHTS = "model.safetensors"
_SCORES_PER_SLICE = 1 << 18  # attention scores computed at a time (1 MB)
_FEED_FORWARD_ROWS = 256  # tokens per slice of the feed-forward block (256 x 1536 floats: 1.5 MB)
_LAYER_NAME = re.compile(r"encoder\.layer\.(\d+)\.")


_blas_lock = threading.Lock()
_blas_users = 0  # encodes running now, in any thread
_blas_limit: Any = None  # threadpoolctl's limiter, while one runs


@contextmanager
def _one_blas_thread() -> Iterator[None]:
    """numpy's BLAS on one thread while any text is being encoded. Its worker threads wait
    spinning between the many small products of a layer: on a busy two-core machine they made
    encoding 2-5x slower (measured). Threads that encode at once share the limit; the last to
    finish restores the library's own setting."""
    global _blas_users, _blas_limit
    with _blas_lock:
        if _blas_users == 0:
            from threadpoolctl import threadpool_limits

            _blas_limit = threadpool_limits(limits=1, user_api="blas")
        _blas_users += 1
    try:
        yield
    finally:
        with _blas_lock:
            _blas_users -= 1
            if _blas_users == 0:
                _blas_limit.restore_original_limits()
                _blas_limit = None


class UnsupportedModel(ValueError):
    """The folder holds a model this encoder does not reproduce exactly."""


def _read_json(path: Path) -> Any:
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def _check_pipeline(directory: Path) -> None:
    """Transformer, mean pooling and (optionally) Normalize: the modules this file reproduces."""
    modules_file = directory / "modules.json"
    if not modules_file.is_file():
        raise UnsupportedModel(f"no modules.json in {directory}")
    kinds = [str(m.get("type", "")).rsplit(".", 1)[-1] for m in _read_json(modules_file)]
    if kinds not in (["Transformer", "Pooling"], ["Transformer", "Pooling", "Normalize"]):
        raise UnsupportedModel(f"modules {kinds}")
    pooling = next(m for m in _read_json(modules_file) if str(m.get("type", "")).endswith("Pooling"))
    modes = _read_json(directory / pooling.get("path", "") / "config.json")
    chosen = sorted(k for k, v in modes.items() if k.startswith("pooling_mode") and v)
    if chosen != ["pooling_mode_mean_tokens"]:
        raise UnsupportedModel(f"pooling {chosen}")


# Abramowitz & Stegun 7.1.26: erfc(z) = t·P(t)·exp(-z²) with t = 1/(1 + 0.3275911·z), z ≥ 0,
# |error| < 1.5e-7. The gelu below is within 3.5e-7 of the exact one on [-12, 12]; torch's own
# float32 gelu is within 1.2e-6 (measured). Here z = |x|/√2 is folded into t and P halved, so
# that Φ(-|x|) = t·P(t)·exp(-x²/2).
_T_SCALE = np.float32(0.3275911 / math.sqrt(2))
_HALF_P = tuple(
    np.float32(c / 2) for c in (1.061405429, -1.453152027, 1.421413741, -0.284496736, 0.254829592)
)


def _gelu(x: np.ndarray) -> np.ndarray:
    """x·Φ(x), the exact ("gelu", not tanh) activation, computed in place as
    max(x, 0) - |x|·Φ(-|x|): no branch, one pass per operation."""
    a = np.abs(x)
    t = a * _T_SCALE
    t += np.float32(1)
    np.reciprocal(t, out=t)
    tail = t * _HALF_P[0]
    for coefficient in _HALF_P[1:]:
        tail += coefficient
        tail *= t
    np.square(x, out=t)
    t *= np.float32(-0.5)
    np.exp(t, out=t)
    tail *= t
    tail *= a  # |x|·Φ(-|x|)
    np.maximum(x, np.float32(0), out=x)
    x -= tail
    return x


def _layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float) -> np.ndarray:
    centred = x - x.mean(axis=-1, keepdims=True)
    scale = np.square(centred).mean(axis=-1, keepdims=True)
    scale += np.float32(eps)
    np.sqrt(scale, out=scale)
    centred /= scale
    centred *= weight
    centred += bias
    return centred


class _Layer:
    """One encoder layer's weights, transposed once for ``x @ w`` (query/key/value fused)."""

    def __init__(self, w: dict[str, np.ndarray], prefix: str, heads: int) -> None:
        attention = f"{prefix}.attention"
        parts = [f"{attention}.self.{name}" for name in ("query", "key", "value")]
        # the attention's 1/√head scale is applied to the queries once, here
        scale = np.float32(1 / math.sqrt(w[f"{parts[0]}.weight"].shape[0] // heads))
        query_w, query_b = w[f"{parts[0]}.weight"] * scale, w[f"{parts[0]}.bias"] * scale
        weights = [query_w] + [w[f"{p}.weight"] for p in parts[1:]]
        self.qkv_w = np.ascontiguousarray(np.concatenate(weights).T)
        self.qkv_b = np.concatenate([query_b] + [w[f"{p}.bias"] for p in parts[1:]])
        self.out_w = np.ascontiguousarray(w[f"{attention}.output.dense.weight"].T)
        self.out_b = w[f"{attention}.output.dense.bias"]
        self.ln1 = (w[f"{attention}.output.LayerNorm.weight"], w[f"{attention}.output.LayerNorm.bias"])
        self.up_w = np.ascontiguousarray(w[f"{prefix}.intermediate.dense.weight"].T)
        self.up_b = w[f"{prefix}.intermediate.dense.bias"]
        self.down_w = np.ascontiguousarray(w[f"{prefix}.output.dense.weight"].T)
        self.down_b = w[f"{prefix}.output.dense.bias"]
        self.ln2 = (w[f"{prefix}.output.LayerNorm.weight"], w[f"{prefix}.output.LayerNorm.bias"])


class MiniLMEncoder:
    """Texts to the unit vectors sentence-transformers gives for the BERT model in ``directory``."""

    def __init__(self, directory: Path) -> None:
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        directory = Path(directory)
        _check_pipeline(directory)
        config = _read_json(directory / "config.json")
        if config.get("model_type") != "bert" or config.get("hidden_act") != "gelu":
            raise UnsupportedModel(
                f"model_type {config.get('model_type')}, activation {config.get('hidden_act')}"
            )
        if config.get("position_embedding_type", "absolute") != "absolute":
            raise UnsupportedModel(f"position embeddings {config.get('position_embedding_type')}")
        st_config = _read_json(directory / "sentence_bert_config.json")
        self._lowercase = bool(st_config.get("do_lower_case"))  # before the tokenizer's own rules
        self.max_length = int(st_config.get("max_seq_length") or config["max_position_embeddings"])
        self.heads = int(config["num_attention_heads"])
        self.eps = float(config["layer_norm_eps"])

        tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
        # tokenizer.json carries its own truncation (128) and fixed padding; sentence-transformers
        # replaces both: truncate at max_seq_length, pad to the longest text of a batch (done here).
        tokenizer.no_padding()
        tokenizer.enable_truncation(max_length=self.max_length)
        self.tokenizer = tokenizer
        self._pad_id = int(config.get("pad_token_id") or 0)

        w = load_file(str(directory / WEIGHTS))
        w = {name.removeprefix("bert."): value.astype(np.float32, copy=False) for name, value in w.items()}
        self._words = w["embeddings.word_embeddings.weight"]
        self.dim = int(self._words.shape[1])
        self._positions = w["embeddings.position_embeddings.weight"]
        self._types = w["embeddings.token_type_embeddings.weight"]
        self._ln = (w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
        self._layers = tuple(
            _Layer(w, f"encoder.layer.{i}", self.heads) for i in range(int(config["num_hidden_layers"]))
        )

    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        """(len(texts), dim) float32 unit vectors, row i for ``texts[i]``."""
        pooled = self._pooled(self._tokenize(list(texts)), batch_size)
        norms = np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), np.float32(1e-12))
        return (pooled / norms).astype(np.float32, copy=False)

    def encode_pairs(self, pairs: Sequence[tuple[str, str]], batch_size: int = 32) -> np.ndarray:
        """(len(pairs), dim) mean-pooled hidden states of each pair read as one sequence,
        ``[CLS] first [SEP] second [SEP]`` with the second part as token type 1, not normalised:
        what a pair classifier reads (a cross-encoder sees both texts in every layer, which two
        separate vectors cannot)."""
        return self._pooled(self._tokenize(list(pairs)), batch_size)

    def with_layers(self, weights: dict[str, np.ndarray]) -> MiniLMEncoder:
        """A copy whose encoder layers named in ``weights`` (``encoder.layer.N.*``, e.g. fine-tuned
        top layers) replace its own; the rest, and the tokenizer, are shared."""
        named = {int(m.group(1)) for m in map(_LAYER_NAME.match, weights) if m}
        if not named or max(named) >= len(self._layers):
            raise UnsupportedModel(f"layers {sorted(named)} are not layers of this model")
        w = {k: v.astype(np.float32, copy=False) for k, v in weights.items()}
        clone = copy.copy(self)
        clone._layers = tuple(
            _Layer(w, f"encoder.layer.{i}", self.heads) if i in named else layer
            for i, layer in enumerate(self._layers)
        )
        return clone

    def _tokenize(self, texts: Sequence[str | tuple[str, str]]) -> list[tuple[np.ndarray, np.ndarray]]:
        """Token ids and token types of each text or pair."""
        if self._lowercase:
            texts = [t.lower() if isinstance(t, str) else (t[0].lower(), t[1].lower()) for t in texts]
        return [
            (np.asarray(e.ids, dtype=np.int64), np.asarray(e.type_ids, dtype=np.int64))
            for e in self.tokenizer.encode_batch(list(texts))
        ]

    def _pooled(self, encoded: list[tuple[np.ndarray, np.ndarray]], batch_size: int) -> np.ndarray:
        """The mean of the last hidden states over each input's real tokens."""
        pooled = np.zeros((len(encoded), self.dim), dtype=np.float32)
        order = sorted(range(len(encoded)), key=lambda i: -len(encoded[i][0]))  # like lengths share a batch
        with _one_blas_thread():
            for start in range(0, len(order), batch_size):
                batch = order[start : start + batch_size]
                pooled[batch] = self._forward([encoded[i] for i in batch], len(encoded[batch[0]][0]))
        return pooled

    def _forward(self, encoded: list[tuple[np.ndarray, np.ndarray]], length: int) -> np.ndarray:
        batch = len(encoded)
        tokens = np.full((batch, length), self._pad_id, dtype=np.int64)
        types = np.zeros((batch, length), dtype=np.int64)
        mask = np.zeros((batch, length), dtype=np.float32)
        for row, (ids, type_ids) in enumerate(encoded):
            tokens[row, : len(ids)] = ids
            types[row, : len(ids)] = type_ids
            mask[row, : len(ids)] = 1
        h = self._words[tokens] + self._types[types] + self._positions[:length]  # BERT's order of sums
        h = _layer_norm(h, *self._ln, self.eps).reshape(batch * length, self.dim)
        # padded keys get no attention weight, as in BERT's extended attention mask
        blocked = ((1 - mask) * np.finfo(np.float32).min)[:, None, None, :]
        lengths = [len(ids) for ids, _ in encoded]
        for layer in self._layers:
            h = self._layer(h, layer, blocked, lengths)
        counts = np.maximum(mask.sum(axis=1, keepdims=True), np.float32(1e-9))
        return np.einsum("bld,bl->bd", h.reshape(batch, length, self.dim), mask) / counts

    def _layer(self, h: np.ndarray, layer: _Layer, blocked: np.ndarray, lengths: list[int]) -> np.ndarray:
        """One encoder layer over the (batch x length, dim) hidden states of texts whose real
        ``lengths`` are sorted longest first."""
        batch, _, _, length = blocked.shape
        head = self.dim // self.heads
        qkv = h @ layer.qkv_w  # the query part comes scaled by 1/√head
        qkv += layer.qkv_b
        q, k, v = qkv.reshape(batch, length, 3, self.heads, head).transpose(2, 0, 3, 1, 4)
        context = np.zeros((batch, length, self.heads, head), dtype=np.float32)
        step = max(1, _SCORES_PER_SLICE // (self.heads * length * length))
        for start in range(0, batch, step):  # a slice's attention scores stay in cache
            texts = slice(start, start + step)
            longest, shortest = lengths[start], lengths[min(start + step, batch) - 1]
            scores = q[texts, :, :longest] @ k[texts, :, :longest].transpose(0, 1, 3, 2)
            if shortest < longest:
                scores += blocked[texts, :, :, :longest]
            scores -= scores.max(axis=-1, keepdims=True)
            np.exp(scores, out=scores)
            scores /= scores.sum(axis=-1, keepdims=True)
            context[texts, :longest] = (scores @ v[texts, :, :longest]).transpose(0, 2, 1, 3)
        attended = context.reshape(batch * length, self.dim) @ layer.out_w
        attended += layer.out_b
        attended += h
        h = _layer_norm(attended, *layer.ln1, self.eps)
        out = np.empty_like(h)
        for start in range(0, len(h), _FEED_FORWARD_ROWS):  # a slice's activations stay in cache
            rows = slice(start, start + _FEED_FORWARD_ROWS)
            inner = h[rows] @ layer.up_w
            inner += layer.up_b
            projected = _gelu(inner) @ layer.down_w
            projected += layer.down_b
            projected += h[rows]
            out[rows] = _layer_norm(projected, *layer.ln2, self.eps)
        return out

"""The offline embedder: real model, checked weights, normalised vectors."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from zoomqa.errors import ZoomqaError
from zoomqa.index import embedding
from zoomqa.index.embedding import DEFAULT_EMBEDDER, load_embedder, resolve_embedder


def test_default_embedder_is_offline_and_normalised() -> None:
    embedder = load_embedder(DEFAULT_EMBEDDER)
    assert embedder.dim == 384
    assert embedder.identity.startswith("all-MiniLM-L6-v2@53aa51172d142c89")
    vectors = embedder.encode(["super-resolution of a blurry photo", "enlarge an image", "stock prices"])
    assert vectors.dtype == np.float32 and vectors.shape == (3, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    sim = vectors @ vectors.T
    assert sim[0, 1] > sim[0, 2]


def test_packaged_weights_with_another_hash_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    package, _ = embedding._PACKAGED[DEFAULT_EMBEDDER]
    monkeypatch.setitem(embedding._PACKAGED, DEFAULT_EMBEDDER, (package, "0" * 64))
    with pytest.raises(ZoomqaError, match="modified or swapped"):
        resolve_embedder(DEFAULT_EMBEDDER)


def test_a_local_model_directory_is_identified_by_its_weights(tmp_path: Path) -> None:
    directory, _ = resolve_embedder(DEFAULT_EMBEDDER)
    copy = tmp_path / "tampered"
    shutil.copytree(directory, copy)
    # A copy under another path is its own model: identity carries its own hash.
    _, identity = resolve_embedder(str(copy))
    assert identity.startswith("tampered@53aa51172d142c89")
    with open(copy / "model.safetensors", "r+b") as handle:
        handle.seek(-4, 2)
        handle.write(b"\0\0\0\1")
    _, tampered = resolve_embedder(str(copy))
    assert tampered != identity


def test_unknown_embedder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ZoomqaError, match="unknown embedder"):
        resolve_embedder(str(tmp_path / "nope"))

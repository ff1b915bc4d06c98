"""The offline embedder: real model, checked weights, normalised vectors."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
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


def test_embedding_a_question_never_loads_torch() -> None:
    """sentence-transformers and torch cost seconds to import; the bundled model runs on numpy."""
    script = (
        "import sys\n"
        "from zoomqa.index.embedding import load_embedder\n"
        "load_embedder().encode(['what is LIIF?'])\n"
        "print(sorted({'torch', 'transformers', 'sentence_transformers'} & set(sys.modules)))\n"
    )
    completed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == "[]"


def test_a_model_numpy_cannot_run_is_run_by_sentence_transformers(tmp_path: Path) -> None:
    directory, _ = resolve_embedder(DEFAULT_EMBEDDER)
    copy = tmp_path / "cls-pooling"
    shutil.copytree(directory, copy, ignore=shutil.ignore_patterns("model.safetensors"))
    (copy / "model.safetensors").symlink_to(directory / "model.safetensors")
    pooling = copy / "1_Pooling" / "config.json"
    modes = json.loads(pooling.read_text())
    pooling.write_text(
        json.dumps({**modes, "pooling_mode_mean_tokens": False, "pooling_mode_cls_token": True})
    )
    embedder = load_embedder(str(copy))
    assert type(embedder._model).__name__ == "SentenceTransformer"
    assert embedder.identity.startswith("cls-pooling@53aa51172d142c89")
    texts = ["super-resolution of a blurry photo", "stock prices"]
    vectors = embedder.encode(texts)
    assert vectors.shape == (2, 384) and np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert not np.allclose(vectors, load_embedder(DEFAULT_EMBEDDER).encode(texts), atol=1e-3)


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

"""The question adapter: its training questions name real card sentences, the shipped weights
are current, training moves questions towards the sentences that answer them, and unusable
weights fail with one clear message."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from zoomqa.errors import ZoomqaError
from zoomqa.index.embedding import Embedder
from zoomqa.index.matching import (
    INTENTS,
    SHIPPED_ADAPTER,
    QueryAdapter,
    load_adapter,
    read_matching_questions,
)
from zoomqa.index.matching_training import card_sentences, train_matcher, training_digest
from zoomqa.index.records import read_bundled_corpus


def test_every_written_question_names_a_sentence_of_its_card() -> None:
    records = read_bundled_corpus()
    own = {(r.id, text) for r in records for _, text in r.card_fields()}
    questions = read_matching_questions()
    assert len(questions) >= 2500
    missing = [q for q in questions if (q.card, q.sentence) not in own]
    assert not missing, missing[:3]
    # every card sentence has questions, lay and expert, and every intent is represented
    asked = {q.sentence for q in questions}
    assert set(card_sentences(records)[0]) <= asked
    assert {q.voice for q in questions} == {"lay", "expert"}
    assert {q.intent for q in questions} == set(INTENTS)


def test_shipped_adapter_is_current(embedder: Embedder) -> None:
    adapter = load_adapter(SHIPPED_ADAPTER, embedder=embedder.identity)
    assert adapter.digest == training_digest(embedder.identity), (
        "the matching questions or the cards' sentences changed: run `zoomqa index train-matcher`"
    )
    assert SHIPPED_ADAPTER.stat().st_size <= 10 * 2**20
    held = adapter.report["held_out_questions"][str(adapter.report["penalty"])]
    # on questions it was not fitted on, the adapter ranks the answering sentence higher
    assert held["adapted"]["sentence_mrr"] > held["base"]["sentence_mrr"]


def test_training_moves_questions_to_the_sentences_that_answer_them(
    embedder: Embedder, tmp_path: Path
) -> None:
    records = [
        r for r in read_bundled_corpus() if r.id in {"SISR-Any-LIIF-EDSR", "JPEG-FBCNN", "Face-GFPGAN"}
    ]
    questions = [q for q in read_matching_questions() if q.card in {r.id for r in records}]
    adapter = train_matcher(embedder, questions, records)
    texts, _ = card_sentences(records)
    sentences = embedder.encode(texts)
    targets = np.array([texts.index(q.sentence) for q in questions])
    vectors = embedder.encode([q.question for q in questions])

    def accuracy(v: np.ndarray) -> float:
        return float(((v @ sentences.T).argmax(axis=1) == targets).mean())

    assert accuracy(adapter.apply(vectors)) > accuracy(vectors) + 0.1
    path = tmp_path / "adapter.npz"
    adapter.save(path)
    loaded = load_adapter(path, embedder=embedder.identity)
    assert np.allclose(loaded.apply(vectors), adapter.apply(vectors), atol=2e-3)  # stored as float16
    assert loaded.digest == training_digest(embedder.identity, questions, records)


def test_unusable_adapters_fail_with_one_message(embedder: Embedder, tmp_path: Path) -> None:
    with pytest.raises(ZoomqaError, match="not found"):
        load_adapter(tmp_path / "missing.npz", embedder=embedder.identity)
    broken = tmp_path / "broken.npz"
    broken.write_bytes(b"not a zip")
    with pytest.raises(ZoomqaError, match="unreadable"):
        load_adapter(broken, embedder=embedder.identity)
    other = tmp_path / "other.npz"
    QueryAdapter("another@0123", "d", np.zeros((4, 4), np.float32), {}).save(other)
    with pytest.raises(ZoomqaError, match="trained for embedder another@0123"):
        load_adapter(other, embedder=embedder.identity)


def test_a_malformed_question_line_is_named(tmp_path: Path) -> None:
    (tmp_path / "questions-x.jsonl").write_text(
        json.dumps({"card": "c", "sentence": "s", "question": "q?", "voice": "child", "intent": "what"})
        + "\n"
    )
    with pytest.raises(ZoomqaError, match="questions-x.jsonl:1"):
        read_matching_questions(tmp_path)


@pytest.mark.parametrize("command", ["train-matcher", "train-relevance"])
def test_retraining_into_a_missing_folder_is_one_line_before_any_work(command: str, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from zoomqa.cli import app

    result = CliRunner().invoke(app, ["index", command, "--out", str(tmp_path / "missing" / "w.npz")])
    assert result.exit_code != 0 and "is not a folder" in result.output
    assert "Traceback" not in result.output

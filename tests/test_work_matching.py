"""The question encoder tuned towards the works that answer questions (compose/work_matching.py):
its questions name bundled records, the shipped layers are current and beat the plain embedder
on questions held out, and a record it never learnt is read by the plain cosine."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from zoomqa.agent.compose.evidence import encode, passages_of
from zoomqa.agent.compose.work_matching import (
    SHIPPED_MATCHER,
    read_work_matcher,
    shipped_work_matcher,
    work_match,
    work_vector,
)
from zoomqa.agent.evaluation.work_matching_training import all_questions, training_digest
from zoomqa.errors import ZoomqaError
from zoomqa.index.embedding import Embedder
from zoomqa.index.matching import read_work_questions
from zoomqa.index.records import Record, read_bundled_corpus


def test_every_question_is_written_for_a_bundled_record_and_most_works_have_many() -> None:
    records = read_bundled_corpus()
    work_of = {r.id: r.work for r in records}
    questions = read_work_questions()
    assert len(questions) >= 1000
    assert {q.record for q in questions} <= set(work_of)
    per_work = Counter(work_of[q.record] for q in questions)
    assert len(per_work) >= 60 and min(per_work.values()) >= 5


def test_shipped_matcher_is_current_and_beats_the_embedder_on_held_out_questions(embedder: Embedder) -> None:
    matcher = shipped_work_matcher(embedder)
    assert matcher is not None
    assert matcher.digest == training_digest(embedder.identity, all_questions(), read_bundled_corpus()), (
        "the written questions, the bundled cards or the settings changed: run `zoomqa eval train-works`"
    )
    assert SHIPPED_MATCHER.stat().st_size <= 10 * 2**20
    held = matcher.report["held_out_questions"]
    chosen = held["tuned_top1_by_epoch"][matcher.report["epochs"] - 1]
    assert chosen == max(held["tuned_top1_by_epoch"])
    assert chosen >= held["embedder_top1"] + 0.1


def test_a_matcher_for_another_base_model_is_refused(embedder: Embedder, tmp_path: Path) -> None:
    from safetensors.numpy import save_file

    other = tmp_path / "other.safetensors"
    save_file({"encoder.layer.5.output.dense.bias": np.zeros(384, dtype=np.float16)}, str(other),
              metadata={"embedder": "another-model@0000"})  # fmt: skip
    with pytest.raises(ZoomqaError, match="work matcher .* trained on another-model"):
        read_work_matcher(other, embedder)
    assert shipped_work_matcher(embedder, other) is None  # the anchor goes on without the signal


def _vectors(embedder: Embedder, records: list[Record]) -> np.ndarray:
    return np.stack([work_vector(encode(embedder, [p.text for p in passages_of(r, 1)])) for r in records])


def test_a_record_the_matcher_never_learnt_is_read_by_the_plain_cosine(embedder: Embedder) -> None:
    matcher = shipped_work_matcher(embedder)
    bundled = next(r for r in read_bundled_corpus() if r.id == "paper:lte")
    added = Record(
        id="2401.00001",
        kind="paper",
        title="Tiled diffusion for gigapixel image upscaling",
        authors=["A. Author"],
        year=2024,
        arxiv_id="2401.00001",
        summary="We upscale gigapixel panoramas with a latent diffusion model that denoises overlapping tiles.",
    )
    question = "how can a diffusion upscaler enlarge a huge panorama without running out of memory?"
    vector = embedder.encode([question])[0]
    works = _vectors(embedder, [bundled, added])
    tuned = work_match(matcher, question, vector, [bundled, added], works)
    plain = work_match(None, question, vector, [bundled, added], works)
    assert tuned[1] == plain[1]  # the added paper: plain cosine
    assert tuned[0] != plain[0]  # the bundled card: through the tuned encoder


def test_the_matcher_moves_situations_towards_the_work_that_answers_them(embedder: Embedder) -> None:
    """Questions written in people's words: read by the tuned encoder, the right work is
    closest for more of them than by the plain cosine."""
    matcher = shipped_work_matcher(embedder)
    records = read_bundled_corpus()
    works = _vectors(embedder, records)
    questions = read_work_questions()[::7]
    work_of = np.array([r.work for r in records])
    right_work = {r.id: r.work for r in records}
    hits = {"tuned": 0, "plain": 0}
    for q in questions:
        vector = embedder.encode([q.question])[0]
        for name, model in (("tuned", matcher), ("plain", None)):
            best = int(np.argmax(work_match(model, q.question, vector, records, works)))
            hits[name] += work_of[best] == right_work[q.record]
    assert hits["tuned"] >= hits["plain"] + 0.1 * len(questions)

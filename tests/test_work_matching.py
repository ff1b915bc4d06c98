"""The map of questions towards the works that answer them (compose/work_matching.py): its
questions name bundled records, the shipped weights are current and beat the plain embedder on
questions held out, and a record the map never learnt is read by the plain cosine."""

from __future__ import annotations

from collections import Counter

import numpy as np

from zoomqa.agent.compose.evidence import encode, passages_of
from zoomqa.agent.compose.work_matching import SHIPPED_ADAPTER, shipped_work_adapter, work_match, work_vector
from zoomqa.agent.evaluation.work_matching_training import all_questions, training_digest
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


def test_shipped_map_is_current_and_beats_the_embedder_on_held_out_questions(embedder: Embedder) -> None:
    adapter = shipped_work_adapter(embedder)
    assert adapter is not None
    assert adapter.digest == training_digest(embedder.identity, all_questions(), read_bundled_corpus()), (
        "the written questions, the bundled cards or the settings changed: run `zoomqa eval train-works`"
    )
    assert SHIPPED_ADAPTER.stat().st_size <= 2**20
    held = adapter.report["held_out_questions"]
    assert held["mapped_top1"][str(adapter.report["penalty"])] >= held["embedder_top1"] + 0.05


def _vectors(embedder: Embedder, records: list[Record]) -> np.ndarray:
    return np.stack([work_vector(encode(embedder, [p.text for p in passages_of(r, 1)])) for r in records])


def test_a_record_the_map_never_learnt_is_read_by_the_plain_cosine(embedder: Embedder) -> None:
    adapter = shipped_work_adapter(embedder)
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
    mapped, plain = (
        work_match(adapter, vector, [bundled, added], works),
        work_match(None, vector, [bundled, added], works),
    )
    assert mapped[1] == plain[1]  # the added paper: plain cosine
    assert mapped[0] != plain[0]  # the bundled card: through the map


def test_the_map_moves_situations_towards_the_work_that_answers_them(embedder: Embedder) -> None:
    """Questions written in people's words: mapped, the right work is closest for more of them
    than by the plain cosine."""
    adapter = shipped_work_adapter(embedder)
    records = read_bundled_corpus()
    works = _vectors(embedder, records)
    questions = read_work_questions()[::7]
    work_of = np.array([r.work for r in records])
    right_work = {r.id: r.work for r in records}
    hits = {"mapped": 0, "plain": 0}
    for q in questions:
        vector = embedder.encode([q.question])[0]
        for name, model in (("mapped", adapter), ("plain", None)):
            best = int(np.argmax(work_match(model, vector, records, works)))
            hits[name] += work_of[best] == right_work[q.record]
    assert hits["mapped"] >= hits["plain"] + 0.1 * len(questions)

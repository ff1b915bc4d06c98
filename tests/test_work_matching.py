"""The question encoder tuned towards the works that answer questions (compose/work_matching.py):
its questions name bundled records, the shipped layers are current and beat the plain embedder
on questions held out, and a record it never learnt is read by the plain cosine."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from zoomqa.agent.compose.evidence import encode, passages_of
from zoomqa.agent.compose.matched_work import matched_first, with_matched_work
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
from zoomqa.index.matching import INTENTS, WORKS_DIR, read_work_questions
from zoomqa.index.records import Record, read_bundled_corpus
from zoomqa.index.results import Hit, SearchResult


def test_every_question_is_written_for_a_bundled_record_and_most_works_have_many() -> None:
    records = read_bundled_corpus()
    work_of = {r.id: r.work for r in records}
    questions = read_work_questions()
    assert len(questions) >= 1000
    assert {q.record for q in questions} <= set(work_of)
    per_work = Counter(work_of[q.record] for q in questions)
    assert len(per_work) >= 60 and min(per_work.values()) >= 5


def test_every_written_question_carries_a_known_intent_and_a_bad_one_is_named(tmp_path: Path) -> None:
    rows = [json.loads(line) for path in sorted(WORKS_DIR.glob("questions-*.jsonl")) for line in path.open()]
    assert all(row["intent"] in INTENTS for row in rows)
    (tmp_path / "questions-0.jsonl").write_text(
        json.dumps({"work": "paper:liif", "question": "why so smooth?", "voice": "lay", "intent": "vibes"})
        + "\n"
    )
    with pytest.raises(ZoomqaError, match=r"questions-0.jsonl.*intent 'vibes' unknown"):
        read_work_questions(tmp_path)


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


def test_shipped_matcher_carries_the_work_vectors_of_every_bundled_record(embedder: Embedder) -> None:
    """The works it ranks over the whole collection are the bundled records as the plain
    embedder reads them now: a card edited since training would make them stale."""
    matcher = shipped_work_matcher(embedder)
    assert matcher is not None and matcher.work_vectors is not None
    records = read_bundled_corpus()
    assert matcher.work_ids == tuple(r.id for r in records)
    np.testing.assert_allclose(matcher.work_vectors, _vectors(embedder, records), atol=1e-4)


def _result(question: str, *ids: str) -> SearchResult:
    by_id = {r.id: r for r in read_bundled_corpus()}
    hits = tuple(Hit(by_id[i], 0.5 - 0.1 * n, 0.4) for n, i in enumerate(ids))
    return SearchResult(question, models=tuple(h for h in hits if h.record.kind == "model"),
                        papers=tuple(h for h in hits if h.record.kind != "model"))  # fmt: skip


def test_the_work_retrieval_missed_is_called_in_at_the_weakest_score(embedder: Embedder) -> None:
    """A person who describes the idea in their own words ("skip the easy parts") shares no
    words with the paper that does it; the matcher's first choice joins the sources."""
    matcher = shipped_work_matcher(embedder)
    assert matcher is not None
    question = "why would an upscaler spend the same effort on a plain blue sky as on a detailed face? can it skip the easy parts"
    best = matched_first(matcher, question)
    assert best is not None
    missed = _result(question, "SISR-Any-LIIF-EDSR", "paper:liif")
    called = with_matched_work(missed, matcher)
    assert [h.record.id for h in called.hits][:2] == ["SISR-Any-LIIF-EDSR", "paper:liif"]
    assert called.hits[-1].record.work == best.work and len(called.hits) == 3
    assert called.hits[-1].score == min(h.score for h in missed.hits)
    # already retrieved, no matcher, or nothing relevant: the result stays as it is
    found = _result(question, "SISR-Any-LIIF-EDSR", best.id)
    assert with_matched_work(found, matcher) == found
    assert with_matched_work(missed, None) == missed
    refused = SearchResult(question, relevant=False)
    assert with_matched_work(refused, matcher) == refused

"""The answer metrics on real Answer objects: nugget recall, anchor accuracy, refusal split, matcher agreement.

Answers are built by hand from zoomqa.agent.compose.answer so each case pins one rule; the records,
the embedder and the evidence are the real ones.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from zoomqa.agent.compose.answer import Answer, Source, Statement, WorkflowStep
from zoomqa.agent.evaluation.answers import (
    NUGGET_TAU,
    AnswerReport,
    MatcherAgreement,
    Works,
    best_tau,
    cited_most,
    label_similarities,
    nuggets_covered,
    read_nugget_labels,
    score_answer,
)
from zoomqa.errors import ZoomqaError
from zoomqa.index.embedding import Embedder
from zoomqa.index.records import Record, read_bundled_corpus
from zoomqa.index.results import Hit, SearchResult
from zoomqa.question_set import Question

LABELS = Path(__file__).with_name("nugget_labels.jsonl")
LIIF_PAPER = "2012.09161"
CELL = "The cell tells the decoder how large an area the output pixel covers."
CELL_NUGGETS = [
    CELL,
    "Deep Image Prior fits a randomly initialised network to the single damaged image and stops early.",
]


@pytest.fixture(scope="module")
def corpus() -> dict[str, Record]:
    return {r.id: r for r in read_bundled_corpus()}


@pytest.fixture(scope="module")
def works(corpus: dict[str, Record]) -> Works:
    return Works(corpus.values())


def _result(corpus: dict[str, Record], question: str, *ids: str) -> SearchResult:
    hits = [Hit(corpus[i], score=1.0 - n / 10, similarity=0.6) for n, i in enumerate(ids)]
    return SearchResult(
        question,
        models=tuple(h for h in hits if h.record.kind == "model"),
        papers=tuple(h for h in hits if h.record.kind == "paper"),
    )


def _answer(
    result: SearchResult,
    steps: dict[str, list[tuple[str, tuple[int, ...]]]],
    task_sources: tuple[int, ...] = (1,),
) -> Answer:
    """An answer citing the result's hits in order; ``steps`` maps a stage to (text, sources)."""
    sources = tuple(
        Source.from_record(n, h.record, h.record.title) for n, h in enumerate(result.hits, start=1)
    )
    return Answer(
        question=result.question,
        relevant=True,
        task=(Statement(text="The task: arbitrary-scale super-resolution.", sources=tuple(task_sources)),),
        steps=tuple(
            WorkflowStep(stage=stage, statements=tuple(Statement(text=t, sources=s) for t, s in said))
            for stage, said in steps.items()
        ),
        sources=sources,
        writer="extractive",
        requested_writer="extractive",
    )


def _question(**fields: object) -> Question:
    base = {
        "id": "q",
        "question": "What does the cell size in LIIF do?",
        "relevant": [LIIF_PAPER],
        "expect": "answer",
    }
    return Question.model_validate({**base, **fields})


def test_a_model_card_and_the_paper_it_implements_are_one_work(
    works: Works, corpus: dict[str, Record]
) -> None:
    for name in ("SISR-Any-LIIF-RDN", "paper:liif", LIIF_PAPER):
        assert works.same("SISR-Any-LIIF-EDSR", name)
    assert works.same(LIIF_PAPER, corpus["SISR-Any-LIIF-EDSR"])
    assert works.same("2107.10833", "SISR-x4-Real-ESRGAN")
    assert not works.same("SISR-Any-LIIF-EDSR", "paper:edsr")  # the encoder's paper is another work
    assert not works.same("dataset:div2k", "dataset:flickr2k")
    assert works.same("9999.99999", "9999.99999") and not works.same("9999.99999", LIIF_PAPER)


def test_the_anchor_is_the_source_part_2_cites_most_ties_to_the_lower_number(
    corpus: dict[str, Record],
) -> None:
    result = _result(corpus, "q", "SISR-Any-LIIF-EDSR", "paper:edsr", "paper:liif")
    steps = {"input": [("a", (2,))], "model": [("b", (3,)), ("c", (2, 3))], "output": [("d", (3,))]}
    top = cited_most(_answer(result, steps, task_sources=(1, 1, 1, 1)))  # part 1 does not count
    assert top is not None and top.id == "paper:liif"
    tie = cited_most(_answer(result, {"input": [("a", (3,))], "model": [("b", (2,))]}))
    assert tie is not None and tie.number == 2
    assert cited_most(_answer(result, {"input": [("a", ())]})) is None


def test_anchor_accuracy_counts_the_implementing_card_and_not_a_neighbour(
    corpus: dict[str, Record], works: Works, embedder: Embedder
) -> None:
    result = _result(
        corpus, "What does the cell size in LIIF do?", "SISR-Any-LIIF-EDSR", "paper:edsr", "paper:liif"
    )
    on_liif = _answer(result, {"input": [("x", (1,))], "model": [("y", (3,))], "output": [("z", (1,))]})
    on_edsr = _answer(result, {"input": [("x", (2,))], "model": [("y", (2,))], "output": [("z", (1,))]})
    question = _question(anchor="SISR-Any-LIIF-EDSR", nuggets=[CELL])
    liif = score_answer(question, result, on_liif, embedder, 0.5, works)
    edsr = score_answer(question, result, on_edsr, embedder, 0.5, works)
    assert (liif.cited, liif.anchor_correct) == ("SISR-Any-LIIF-EDSR", True)
    assert (edsr.cited, edsr.anchor_correct) == ("paper:edsr", False)
    assert score_answer(_question(anchor=LIIF_PAPER), result, on_liif, embedder, 0.5, works).anchor_correct
    assert score_answer(_question(), result, on_liif, embedder, 0.5, works).anchor_correct is None


def test_nugget_recall_counts_the_nuggets_some_statement_says(
    corpus: dict[str, Record], works: Works, embedder: Embedder
) -> None:
    result = _result(corpus, "What does the cell size in LIIF do?", "SISR-Any-LIIF-EDSR", "paper:liif")
    said = "LIIF's decoder is told the cell size, i.e. how large an area the output pixel covers."
    answer = _answer(
        result, {"input": [("A photo goes in.", (1,))], "model": [(said, (2,))], "output": [("x", (1,))]}
    )
    outcome = score_answer(
        _question(anchor=LIIF_PAPER, nuggets=CELL_NUGGETS), result, answer, embedder, 0.5, works
    )
    assert (outcome.nuggets, outcome.nuggets_covered, outcome.nugget_recall) == (2, 1, 0.5)
    assert outcome.missed_nuggets == (CELL_NUGGETS[1],)
    row = outcome.as_json()
    assert (
        row["nugget_recall"] == 0.5
        and row["anchor_correct"] is True
        and row["missed_nuggets"] == [CELL_NUGGETS[1]]
    )


def test_a_sentence_inside_a_long_statement_covers_a_nugget(embedder: Embedder) -> None:
    long = (
        "Mixed-precision training halves memory on recent GPUs. "
        "The cell tells the decoder how large an area each output pixel covers. "
        "Checkpoints are saved every thousand steps."
    )
    assert nuggets_covered([long], [CELL], embedder) == [True]
    assert nuggets_covered([], [CELL], embedder) == [False]


def _refusal(question: str) -> Answer:
    return Answer(
        question=question,
        relevant=False,
        task=(Statement(text="Nothing relevant found."),),
        writer="none",
        requested_writer="extractive",
    )


def test_the_report_splits_refusal_errors_and_keeps_a_tool_accuracy_slot(
    corpus: dict[str, Record], works: Works, embedder: Embedder
) -> None:
    result = _result(corpus, "What does the cell size in LIIF do?", "SISR-Any-LIIF-EDSR", "paper:liif")
    good = _answer(result, {"input": [(CELL, (1,))], "model": [(CELL, (2,))], "output": [(CELL, (1,))]})
    refused_search = SearchResult("q", relevant=False)
    outcomes = [
        score_answer(
            _question(id="good", anchor=LIIF_PAPER, nuggets=[CELL]), result, good, embedder, 0.5, works
        ),
        score_answer(
            _question(id="wrongly-refused", anchor=LIIF_PAPER, nuggets=[CELL]),
            refused_search,
            _refusal("q"),
            embedder,
            0.5,
            works,
        ),
        score_answer(
            _question(id="knife", question="how do I sharpen a knife?", relevant=[], expect="refuse"),
            result,
            good,
            embedder,
            0.5,
            works,
        ),
        score_answer(
            _question(id="egg", question="boil an egg", relevant=[], expect="refuse"),
            refused_search,
            _refusal("egg"),
            embedder,
            0.5,
            works,
        ),
    ]
    refused = outcomes[1]
    assert refused.nugget_recall == 0.0 and refused.anchor_correct is False and refused.cited is None
    assert outcomes[2].anchor_correct is None and outcomes[2].nugget_recall is None
    report = AnswerReport(tuple(outcomes)).as_json()
    assert report["nugget_recall"] == 0.5 and report["anchor_accuracy"] == 0.5
    assert report["refusal_accuracy"] == 0.5
    assert report["false_refusals"] == 0.5 and report["false_answers"] == 0.5
    assert report["n_answerable"] == 2 and report["n_refuse"] == 2
    assert report["worst"] == ["wrongly-refused"]
    assert report["tool_accuracy"] is None
    # parts 1-2 of the one answered answerable question: the task line and three times CELL
    assert outcomes[0].words == 4 + 3 * len(CELL.split()) and outcomes[1].words == 0
    assert report["words_p50"] == outcomes[0].words
    scored = [
        dataclasses.replace(outcomes[0], tool_correct=True),
        dataclasses.replace(outcomes[1], tool_correct=False),
    ]
    assert AnswerReport(tuple(scored)).as_json()["tool_accuracy"] == 0.5


def test_worst_puts_refusals_then_wrong_anchors_then_low_recall_first(
    corpus: dict[str, Record], works: Works, embedder: Embedder
) -> None:
    base = score_answer(
        _question(id="x", anchor=LIIF_PAPER, nuggets=[CELL]),
        SearchResult("q", relevant=False),
        _refusal("q"),
        embedder,
        0.5,
        works,
    )
    rows = [
        dataclasses.replace(base, id="fine", refused=False, anchor_correct=True, nuggets_covered=1),
        dataclasses.replace(
            base, id="half", refused=False, anchor_correct=True, nuggets=2, nuggets_covered=1
        ),
        dataclasses.replace(base, id="wrong-anchor", refused=False, anchor_correct=False, nuggets_covered=1),
        dataclasses.replace(base, id="refused"),
    ]
    assert [o.id for o in AnswerReport(tuple(rows)).worst()] == ["refused", "wrong-anchor", "half"]


# Pairs from tests/nugget_labels.jsonl far from the threshold on either side: the matcher must agree.
CLEAR_PAIRS = [
    (
        "A meta-upscale module takes the scale factor and each output pixel's position and predicts the filter "
        "weights that produce that pixel from the low-resolution features.",
        "Meta-SR predicts the upscaling filter weights for each output pixel from the scale factor and its position.",
    ),
    (
        "A meta-upscale module takes the scale factor and each output pixel's position and predicts the filter "
        "weights that produce that pixel from the low-resolution features.",
        "LIIF decodes each output pixel's colour from its continuous coordinate and nearby features with an MLP.",
    ),
    ("Lower LPIPS means more similar.", "A lower LPIPS means the two images are more similar."),
    ("SSIM reaches 1 for identical images.", "A lower LPIPS means the two images are more similar."),
    (
        "Knowledge can be added, from single images up to whole classes, or removed by pruning the memory, "
        "without retraining.",
        "Knowledge can be added to or removed from the memory without retraining.",
    ),
    (
        "Labels are decided by fast nearest-neighbour search over a database of stored examples.",
        "Knowledge can be added to or removed from the memory without retraining.",
    ),
]


def test_the_matcher_agrees_with_clear_hand_labels(embedder: Embedder) -> None:
    labels = {(label.statement, label.nugget): label.covered for label in read_nugget_labels(LABELS)}
    for statement, nugget in CLEAR_PAIRS:
        assert (statement, nugget) in labels, "the pair is no longer among the hand labels"
        assert nuggets_covered([statement], [nugget], embedder) == [labels[statement, nugget]], (
            statement,
            nugget,
        )


def test_the_hand_labels_are_enough_and_tau_is_their_best_threshold(embedder: Embedder) -> None:
    labels = read_nugget_labels(LABELS)
    covered = [label.covered for label in labels]
    assert len(labels) >= 60 and 0.3 < sum(covered) / len(labels) < 0.7
    assert {label.origin.split(":")[0] for label in labels} == {"answer", "card"}
    similarities = label_similarities(labels, embedder)
    at_tau = MatcherAgreement.at(similarities, covered, NUGGET_TAU)
    grid = [round(0.3 + 0.025 * i, 3) for i in range(25)]
    assert at_tau.accuracy >= 0.65
    assert best_tau(similarities, covered, grid).accuracy <= at_tau.accuracy + 0.02  # tau is (near) the best


def test_agreement_numbers_and_best_tau_on_a_toy_set() -> None:
    agreement = MatcherAgreement.at([0.9, 0.7, 0.5, 0.3], [True, False, True, False], 0.6)
    assert (agreement.accuracy, agreement.precision, agreement.recall, agreement.n) == (0.5, 0.5, 0.5, 4)
    assert best_tau([0.9, 0.7, 0.5, 0.3], [True, True, False, False], [0.4, 0.6, 0.8]).tau == 0.6
    assert MatcherAgreement.at([0.1], [False], 0.6).precision is None


def test_a_bad_label_line_is_named(tmp_path: Path) -> None:
    path = tmp_path / "labels.jsonl"
    path.write_text(
        '{"statement": "s", "nugget": "n", "covered": "maybe", "origin": "card:x"}\n', encoding="utf-8"
    )
    with pytest.raises(ZoomqaError, match=r"labels\.jsonl:1"):
        read_nugget_labels(path)

"""The evaluation question set (tests/questions.jsonl) is well formed and points at real records.

Retrieval and agent evaluations trust this file blindly, so a typo in an id, an anchor that is
not among the relevant works or a tool question without a size would silently skew every
number they report. The counts are those issue 11 asks for: >= 110 answer/tool questions with
an anchor and nuggets, every seed paper an anchor, >= 70 off-topic ones, >= 25 near-domain.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any, Literal

import pytest
from pydantic import ConfigDict, Field, ValidationError, field_validator, model_validator

from zoomqa.agent.evaluation.answers import Works
from zoomqa.errors import ZoomqaError
from zoomqa.index.matching import read_matching_questions, read_work_questions
from zoomqa.index.records import normalise_arxiv_id, read_bundled_corpus
from zoomqa.index.relevance_training import IN_DOMAIN_FILE, OFF_TOPIC_FILES, TEXTS_DIR, read_text_lines
from zoomqa.question_set import Question, read_question_set

QUESTIONS = Path(__file__).with_name("questions.jsonl")  # dev: rules and weights may be tuned on it
# Written before it was ever run and only reported (bench/answer_quality.py); a question used to
# diagnose a failure moves to dev and a new one is written in its place.
HOLDOUT = Path(__file__).with_name("holdout.jsonl")
# Situation questions written for the bundled works like index/data/works, never trained on.
SITUATIONS = Path(__file__).with_name("situations_holdout.jsonl")
# Off-topic questions and in-domain ones that look off-topic, for the relevance decision only,
# written blind to the rules and to the relevance training texts; never trained on.
RELEVANCE = Path(__file__).with_name("relevance_holdout.jsonl")
# Never trained on: 120 by a writer blind to the classifier and its texts (60 in-domain, 60
# near-domain), run to decide on the word model and 300 more probe texts of that writer (now
# training texts); 120 lay in-domain questions by another, run after the last texts joined;
# and 118 by a third (49 in-domain, 69 near-domain over 41 families), run once.
PROBE = Path(__file__).with_name("relevance_probe.jsonl")
# Lay, expert and off-topic questions with anchors and nuggets by a writer who read only the
# cards, run once after they were written; only reported.
FRESH = Path(__file__).with_name("holdout_fresh.jsonl")
LIIF_ARXIV_ID = "2012.09161"
FIXED_RECORD_ID = re.compile(r"^(dataset|metric|paper|tool):[a-z0-9-]+$")  # works without an arXiv id
TOOL_KEYS = ("path", "scale", "width", "height")
KINDS = (
    "lay",
    "how",
    "why",
    "which-tool",
    "compare",
    "data",
    "metric",
    "expert",
    "seed-paper",
    "tool",
    "near-domain",
    "off-topic",
)
REFUSE_KINDS = ("near-domain", "off-topic")


def _is_well_formed(reference: str) -> bool:
    """A bare arXiv id (no prefix, no version) or one of the fixed ids of works without one."""
    if FIXED_RECORD_ID.match(reference):
        return True
    try:
        return normalise_arxiv_id(reference) == reference
    except ValueError:
        return False


class CuratedQuestion(Question):
    """A line of the project's own question set: the product's schema plus the curation rules
    (ids, kinds, well-formed references, nuggets as sentences); extra keys such as ``note`` are allowed."""

    model_config = ConfigDict(extra="allow", frozen=True)

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    question: str = Field(min_length=3, max_length=1000)
    relevant: list[str] = Field(max_length=4)
    kind: Literal[KINDS] | None = None  # type: ignore[valid-type]
    scale: float | None = Field(None, gt=1)

    @field_validator("relevant")
    @classmethod
    def _references(cls, value: list[str]) -> list[str]:
        bad = [r for r in value if not _is_well_formed(r)]
        if bad:
            raise ValueError(f"not a bare arXiv id or a fixed record id: {bad}")
        if len(set(value)) != len(value):
            raise ValueError("an id is listed twice")
        return value

    @field_validator("nuggets")
    @classmethod
    def _nuggets_are_sentences(cls, value: list[str]) -> list[str]:
        bad = [n for n in value if not (n.endswith(".") and 3 <= len(n.split()) <= 30)]
        if bad:
            raise ValueError(f"a nugget is one short sentence (3-30 words, final period): {bad}")
        return value

    @model_validator(mode="after")
    def _expectation_rules(self) -> CuratedQuestion:
        if (self.expect == "refuse") != (not self.relevant):
            raise ValueError("'relevant' must be empty exactly when expect is 'refuse'")
        if self.expect == "refuse":
            if self.anchor or self.nuggets:
                raise ValueError("a refuse question has no anchor and no nuggets")
            if self.kind not in REFUSE_KINDS:
                raise ValueError(f"a refuse question's kind is one of {REFUSE_KINDS}")
        else:
            if not self.anchor or not self.nuggets:
                raise ValueError("an answer or tool question needs an anchor and 1-4 nuggets")
            if self.kind is None or self.kind in REFUSE_KINDS:
                raise ValueError("an answer or tool question needs an answer kind")
        given = {key for key in TOOL_KEYS if getattr(self, key) is not None}
        if self.expect != "tool":
            if given:
                raise ValueError(f"{sorted(given)} belong to tool questions only")
            return self
        if self.relevant != [LIIF_ARXIV_ID]:
            raise ValueError(f"a tool question's only relevant work is the LIIF upscaler {LIIF_ARXIV_ID}")
        sizes = given - {"path"}
        if "path" not in given or sizes not in ({"scale"}, {"width", "height"}, {"width"}, {"height"}):
            raise ValueError("a tool question needs 'path' and one of: scale, width+height, width, height")
        return self


def load_questions(path: Path) -> list[CuratedQuestion]:
    """Every question in the file, or an AssertionError naming each bad line."""
    questions: list[CuratedQuestion] = []
    problems: list[str] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            questions.append(CuratedQuestion.model_validate(json.loads(line)))
        except (json.JSONDecodeError, ValidationError) as exc:
            problems.append(f"{path.name}:{number}: {exc}")
    assert not problems, "\n".join(problems)
    return questions


@pytest.fixture(scope="module")
def dev() -> list[CuratedQuestion]:
    return load_questions(QUESTIONS)


@pytest.fixture(scope="module")
def holdout() -> list[CuratedQuestion]:
    return load_questions(HOLDOUT)


@pytest.fixture(scope="module")
def questions(dev: list[CuratedQuestion], holdout: list[CuratedQuestion]) -> list[CuratedQuestion]:
    """Both sets: ids, texts, references and anchors are checked across them."""
    return dev + holdout


def test_no_holdout_question_is_a_training_text() -> None:
    """The holdouts stay unseen: none of their questions is a question written for training."""
    training = {q.question.casefold() for q in (*read_work_questions(), *read_matching_questions())}
    for name in (IN_DOMAIN_FILE, *OFF_TOPIC_FILES.values()):
        training |= {text.casefold() for text in read_text_lines(TEXTS_DIR / name)}
    held = [
        q.question for path in (HOLDOUT, SITUATIONS, RELEVANCE, FRESH, PROBE) for q in read_question_set(path)
    ]
    assert len(held) > 1600
    assert not [q for q in held if q.casefold() in training]


def test_relevance_holdout_expects_what_its_kind_says() -> None:
    """Near-domain and general questions are to be refused, boundary ones answered."""
    questions = read_question_set(RELEVANCE)
    expected = {"near": "refuse", "general": "refuse", "boundary": "answer"}
    assert Counter(q.kind for q in questions) == {"near": 130, "general": 49, "boundary": 120}
    assert not [q.id for q in questions if q.expect != expected.get(q.kind or "")]


def test_ids_are_unique(questions: list[CuratedQuestion]) -> None:
    repeated = [i for i, n in Counter(q.id for q in questions).items() if n > 1]
    assert not repeated, f"duplicate question ids: {repeated}"


def test_questions_are_not_repeated(questions: list[CuratedQuestion]) -> None:
    repeated = [t for t, n in Counter(q.question.casefold() for q in questions).items() if n > 1]
    assert not repeated, f"the same question appears twice: {repeated}"


def test_enough_questions_of_each_kind(dev: list[CuratedQuestion]) -> None:
    counts = Counter(q.expect for q in dev)
    kinds = Counter(q.kind for q in dev)
    assert counts["answer"] + counts["tool"] >= 110, counts
    assert counts["tool"] >= 5, counts
    assert counts["refuse"] >= 70, counts
    assert kinds["near-domain"] >= 25, kinds
    for kind in ("lay", "why", "which-tool", "compare", "data", "metric", "seed-paper"):
        assert kinds[kind] >= 5, kinds


def test_the_holdout_is_large_and_mixed(holdout: list[CuratedQuestion]) -> None:
    counts = Counter(q.expect for q in holdout)
    kinds = Counter(q.kind for q in holdout)
    assert len(holdout) >= 150 and counts["answer"] + counts["tool"] >= 110, counts
    assert counts["refuse"] >= 30 and counts["tool"] >= 10, counts
    assert kinds["near-domain"] >= 15 and kinds["lay"] >= 5 and kinds["expert"] >= 5, kinds
    anchors = Counter(q.anchor for q in holdout if q.anchor)
    assert len(anchors) >= 30, f"the holdout should explain many works, not a few: {anchors}"


def test_every_relevant_id_is_in_the_bundled_corpus(questions: list[CuratedQuestion]) -> None:
    corpus = read_bundled_corpus()
    # a paper or tool is named by its arXiv id where it has one; datasets and metrics by their id
    fixed = {r.id for r in corpus if not r.arxiv_id or r.id.startswith(("dataset:", "metric:"))}
    known = fixed | {r.arxiv_id for r in corpus if r.arxiv_id}
    missing = sorted({ref for q in questions for ref in q.relevant} - known)
    assert not missing, (
        f"relevant ids with no bundled record (by arXiv id, or id where it has none): {missing}"
    )


def test_every_anchor_is_a_bundled_work_among_the_relevant_ones(questions: list[CuratedQuestion]) -> None:
    corpus = read_bundled_corpus()
    known = {r.id for r in corpus} | {r.arxiv_id for r in corpus if r.arxiv_id}
    works = Works(corpus)
    problems = [
        q.id
        for q in questions
        if q.anchor is not None
        and (q.anchor not in known or not any(works.same(q.anchor, ref) for ref in q.relevant))
    ]
    assert not problems, f"anchor unknown or not the same work as any relevant id: {problems}"


def test_every_seed_paper_is_the_anchor_of_a_question(
    questions: list[CuratedQuestion], shared_dir: Path
) -> None:
    seeds = [json.loads(line)["arxiv_id"] for line in (shared_dir / "corpus" / "seed_papers.jsonl").open()]
    works = Works(read_bundled_corpus())
    missing = [s for s in seeds if not any(q.anchor and works.same(q.anchor, s) for q in questions)]
    assert len(seeds) >= 16 and not missing, f"seed papers no question is anchored on: {missing}"


GOOD_ANSWER: dict[str, Any] = {
    "id": "a",
    "question": "what does PSNR measure?",
    "relevant": ["metric:psnr"],
    "expect": "answer",
    "anchor": "metric:psnr",
    "nuggets": ["A higher PSNR means the result is closer to the reference."],
    "kind": "metric",
}
GOOD_REFUSE: dict[str, Any] = {
    "id": "r",
    "question": "how do I sharpen a kitchen knife?",
    "relevant": [],
    "expect": "refuse",
    "kind": "near-domain",
}
GOOD_TOOL: dict[str, Any] = {
    "id": "t",
    "question": "make cat.png 2x bigger",
    "relevant": [LIIF_ARXIV_ID],
    "expect": "tool",
    "anchor": LIIF_ARXIV_ID,
    "nuggets": ["LIIF can enlarge an image 2x."],
    "kind": "tool",
    "path": "cat.png",
    "scale": 2,
}


@pytest.mark.parametrize(
    "line",
    [
        GOOD_ANSWER,
        {**GOOD_ANSWER, "relevant": ["1707.02921", "dataset:div2k"], "note": "extra keys are fine"},
        GOOD_REFUSE,
        GOOD_TOOL,
        {**GOOD_TOOL, "scale": None, "width": 1920, "height": 1080},
        {**GOOD_TOOL, "scale": None, "height": 1080},
    ],
)
def test_validator_accepts_good_lines(line: dict[str, Any]) -> None:
    CuratedQuestion.model_validate(line)


@pytest.mark.parametrize(
    "line",
    [
        {**GOOD_ANSWER, "relevant": []},
        {**GOOD_ANSWER, "relevant": ["2012.09161v2"]},
        {**GOOD_ANSWER, "relevant": ["arxiv:2012.09161"]},
        {**GOOD_ANSWER, "relevant": ["LIIF"]},
        {**GOOD_ANSWER, "relevant": ["1707.02921", "1707.02921"]},
        {**GOOD_ANSWER, "relevant": ["1501.00092", "1609.05158", "1511.04587", "1704.03915", "1609.04802"]},
        {**GOOD_ANSWER, "expect": "maybe"},
        {**GOOD_ANSWER, "id": "Has Spaces"},
        {**GOOD_ANSWER, "path": "cat.png"},
        {**GOOD_ANSWER, "expect": "refuse"},
        {**GOOD_ANSWER, "anchor": None},
        {**GOOD_ANSWER, "nuggets": []},
        {**GOOD_ANSWER, "nuggets": ["a higher psnr is closer"]},
        {
            **GOOD_ANSWER,
            "nuggets": [
                "One one one.",
                "Two two two.",
                "Three three three.",
                "Four four four.",
                "Five five five.",
            ],
        },
        {**GOOD_ANSWER, "kind": "near-domain"},
        {**GOOD_ANSWER, "kind": "trivia"},
        {**GOOD_REFUSE, "anchor": "metric:psnr"},
        {**GOOD_REFUSE, "nuggets": ["A higher PSNR means the result is closer."]},
        {**GOOD_REFUSE, "kind": "lay"},
        {**GOOD_TOOL, "path": None},
        {**GOOD_TOOL, "scale": None},
        {**GOOD_TOOL, "width": 1920},
        {**GOOD_TOOL, "scale": 0.5},
        {**GOOD_TOOL, "relevant": ["1707.02921"]},
    ],
)
def test_validator_rejects_bad_lines(line: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        CuratedQuestion.model_validate(line)


def test_loader_names_the_bad_line(tmp_path: Path) -> None:
    path = tmp_path / "questions.jsonl"
    path.write_text(json.dumps(GOOD_ANSWER) + "\n{not json\n", encoding="utf-8")
    with pytest.raises(AssertionError, match=r"questions\.jsonl:2:"):
        load_questions(path)


def test_every_evaluation_reads_the_set_with_the_one_product_schema() -> None:
    """`zoomqa eval retrieval`, `eval answers`, the tool evaluation and `faq` read this file
    with zoomqa.question_set; it must accept every line the curation accepts."""
    read = read_question_set(QUESTIONS)
    assert [q.id for q in read] == [q.id for q in load_questions(QUESTIONS)]
    assert {q.expect for q in read} == {"answer", "refuse", "tool"}


def test_the_product_schema_refuses_a_tool_question_without_a_size(tmp_path: Path) -> None:
    path = tmp_path / "set.jsonl"
    path.write_text(json.dumps({**GOOD_TOOL, "scale": None}) + "\n", encoding="utf-8")
    with pytest.raises(ZoomqaError, match=r"set\.jsonl:1: .*a tool question needs 'path' and a scale"):
        read_question_set(path)

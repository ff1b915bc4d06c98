"""Answer quality on a question set: structure, citations, links, support, refusals, latency,
and whether the answer says the right things about the right work (nuggets, anchor).

Each number is measured on the answer as a user receives it, against the search result it
was written from: a cited source must be one that was retrieved (or the local upscaler's
card, when the question called it in), every link must equal the index metadata of its
record, and every sentence of parts 1 and 2 must be supported by a passage of those sources
(part 1 may also rest on the question itself).

A sentence counts as supported when its closest passage of any retrieved source (or, in part 1,
the question) reaches ``SUPPORT_TAU``, the best balanced accuracy of ``bench/bench_answers.py``'s
sweep; the guard's own check, sentence against cited source, is stricter (compose/claims.py).
Support is 1.00 by construction for the extractive writer's quotes, so two
measures look at content instead:

* **nugget recall** -- a question lists 1-4 short facts ("nuggets") a correct answer conveys;
  a nugget is covered when some statement of parts 1-2 reaches a cosine of at least
  ``NUGGET_TAU`` under the index's embedder. Per question: covered / listed; in total: the
  mean over answer and tool questions (a refused one scores 0). ``NUGGET_TAU`` was chosen
  on the hand labels in tests/nugget_labels.jsonl with ``zoomqa eval nuggets``.
* **anchor accuracy** -- the question names the work part 2 should explain (``anchor``: a
  record id or an arXiv id); the answer's anchor is the source cited most often in part 2,
  ties going to the lower source number. They match when they name the same *work*
  (:class:`Works`): a model card is the same work as the paper it implements, so
  ``SISR-Any-LIIF-EDSR``, ``SISR-Any-LIIF-RDN``, ``paper:liif`` and ``2012.09161`` all match
  each other, while ``paper:edsr`` (the encoder's own paper) does not match LIIF.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from zoomqa.agent.compose.answer import Answer, Draft, Source
from zoomqa.agent.compose.evidence import Evidence, encode, encode_cached
from zoomqa.agent.turn.reply import TOOL_FIELD
from zoomqa.index.embedding import Embedder
from zoomqa.index.records import Record
from zoomqa.index.results import SearchResult
from zoomqa.index.sentences import split_sentences
from zoomqa.question_set import Question, read_jsonl

_URL = re.compile(r"https?://[^\s<>\"')\]]+")
NUGGET_TAU = 0.6


class Works:
    """Which record ids and arXiv ids name the same work.

    A record's names are its id, its arXiv id and, for a model card, the paper it implements
    (and that paper's own names when the paper is a record here). A reference that is no
    record's id is taken as an arXiv id.
    """

    def __init__(self, records: Iterable[Record]) -> None:
        self._by_id = {r.id: r for r in records}

    def _own(self, record: Record) -> set[str]:
        return {n for n in (record.id, record.arxiv_id, record.implements) if n}

    def names(self, reference: str | Record) -> frozenset[str]:
        record = self._by_id.get(reference) if isinstance(reference, str) else reference
        if record is None:
            return frozenset({str(reference)})
        names = self._own(record)
        implemented = self._by_id.get(record.implements) if record.implements else None
        if implemented is not None:
            names |= self._own(implemented)
        return frozenset(names)

    def same(self, a: str | Record, b: str | Record) -> bool:
        return bool(self.names(a) & self.names(b))


def cited_most(answer: Answer) -> Source | None:
    """The source part 2 cites most often (ties: the lower number); None when it cites none."""
    counts = Counter(n for step in answer.steps for s in step.statements for n in s.sources)
    if not counts:
        return None
    number = min(counts, key=lambda n: (-counts[n], n))
    return next((s for s in answer.sources if s.number == number), None)


def _units(statements: Sequence[str]) -> list[str]:
    """Each statement and, when it holds several, each of its sentences: a long quote should
    cover a nugget that one of its sentences says."""
    units = [piece for s in statements for piece in (s, *split_sentences(s))]
    return list(dict.fromkeys(units))


def nugget_similarities(statements: Sequence[str], nuggets: Sequence[str], embedder: Embedder) -> np.ndarray:
    """Cosine of every nugget (rows) to every statement or sentence of one (columns)."""
    units = _units(statements)
    if not units or not nuggets:
        return np.zeros((len(nuggets), len(units)), dtype=np.float32)
    return encode_cached(embedder, tuple(nuggets)) @ encode(embedder, units).T


def nuggets_covered(
    statements: Sequence[str], nuggets: Sequence[str], embedder: Embedder, tau: float = NUGGET_TAU
) -> list[bool]:
    """For each nugget: does some statement say it (cosine >= ``tau``)?"""
    sims = nugget_similarities(statements, nuggets, embedder)
    if sims.shape[1] == 0:
        return [False] * len(nuggets)
    return [bool(best >= tau) for best in sims.max(axis=1)]


@dataclass(frozen=True)
class AnswerOutcome:
    id: str
    expect: str
    refused: bool
    structure_ok: bool
    citations: int
    citations_retrieved: int
    links: int
    links_valid: int
    sentences: int
    sentences_supported: int
    latency_s: float
    first_token_s: float | None
    writer: str
    fallback_reason: str | None
    nuggets: int = 0
    nuggets_covered: int = 0
    missed_nuggets: tuple[str, ...] = ()
    anchor: str | None = None
    cited: str | None = None  # record id of the source part 2 cites most
    anchor_correct: bool | None = None  # None for refuse questions or questions without an anchor
    tool_correct: bool | None = None  # set by the tool evaluation of expect: tool questions; not measured yet
    words: int = 0  # words of parts 1 and 2 (the task and how it works), the tool's report left out

    @property
    def refusal_correct(self) -> bool:
        return self.refused == (self.expect == "refuse")

    @property
    def nugget_recall(self) -> float | None:
        return self.nuggets_covered / self.nuggets if self.nuggets else None

    def as_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "expect": self.expect,
            "refused": self.refused,
            "structure_ok": self.structure_ok,
            "citation_precision": _share(self.citations_retrieved, self.citations),
            "link_validity": _share(self.links_valid, self.links),
            "support_rate": _share(self.sentences_supported, self.sentences),
            "refusal_correct": self.refusal_correct,
            "nugget_recall": None if self.nugget_recall is None else round(self.nugget_recall, 4),
            "missed_nuggets": list(self.missed_nuggets),
            "anchor": self.anchor,
            "cited": self.cited,
            "anchor_correct": self.anchor_correct,
            "tool_correct": self.tool_correct,
            "latency_s": round(self.latency_s, 3),
            "first_token_s": None if self.first_token_s is None else round(self.first_token_s, 3),
            "writer": self.writer,
            "fallback_reason": self.fallback_reason,
            "words": self.words,
        }


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _mean(values: Sequence[float]) -> float | None:
    return round(float(np.mean(values)), 4) if values else None


SUPPORT_TAU = 0.575


def _percentile(values: Sequence[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)), 3) if values else None


def _structure_ok(answer: Answer) -> bool:
    if not answer.relevant:
        return bool(answer.task) and not answer.sources and not answer.steps
    # Input, Model and Output all or none (a "which tool" answer may give only the why)
    draft = Draft(task=answer.task, steps=answer.steps)
    return not draft.missing_parts() and bool(answer.sources)


def score_answer(
    question: Question,
    result: SearchResult,
    answer: Answer,
    embedder: Embedder,
    threshold: float,
    works: Works,
    *,
    tau: float = NUGGET_TAU,
) -> AnswerOutcome:
    """Check one answer against the search result it came from and the question's anchor and nuggets."""
    # What the answer was given: the retrieved records, plus the local upscaler's card when
    # the question called it in (compose/local_method.py).
    evidence = Evidence.gather(result, embedder) if answer.relevant and result.hits else None
    retrieved = (
        {r.id: r for r in evidence.records}
        if evidence
        else {hit.record.id: hit.record for hit in result.hits}
    )
    numbers = {s.number for s in answer.sources if s.id in retrieved}
    cited = [n for s in answer.statements for n in s.sources]
    citations = len(answer.sources) + len(cited)
    citations_retrieved = len(numbers) + sum(n in numbers for n in cited)

    source_links: list[tuple[str, bool]] = []  # (url, equals the index metadata)
    for source in answer.sources:
        record = retrieved.get(source.id)
        source_links += [
            (url, record is not None and record.links.get(kind) == url) for kind, url in source.links.items()
        ]
    known_urls = {url for url, valid in source_links if valid}
    in_text = [url.rstrip(".,;:") for s in answer.statements for url in _URL.findall(s.text)]
    links = len(source_links) + len(in_text)
    links_valid = sum(valid for _, valid in source_links) + sum(url in known_urls for url in in_text)

    sentences = supported = 0
    if evidence is not None:
        # The assistant's report of an upscale it ran is no claim about the sources.
        task = evidence.support([s.text for s in answer.task if s.field != TOOL_FIELD], include_question=True)
        steps = evidence.support(
            [s.text for step in answer.steps for s in step.statements if s.field != TOOL_FIELD]
        )
        sentences = len(task) + len(steps)
        supported = sum(s.similarity >= threshold for s in task + steps)

    statements = [s.text for s in answer.statements] if answer.relevant else []
    words = (
        sum(len(s.text.split()) for s in answer.statements if s.field != TOOL_FIELD) if answer.relevant else 0
    )
    covered = nuggets_covered(statements, question.nuggets, embedder, tau)
    top = cited_most(answer)
    anchor_correct = None
    if question.expect != "refuse" and question.anchor:
        anchor_correct = top is not None and works.same(question.anchor, retrieved.get(top.id) or top.id)

    return AnswerOutcome(
        id=question.id,
        expect=question.expect,
        refused=not answer.relevant,
        structure_ok=_structure_ok(answer),
        citations=citations,
        citations_retrieved=citations_retrieved,
        links=links,
        links_valid=links_valid,
        sentences=sentences,
        sentences_supported=supported,
        latency_s=answer.timings.total_s,
        first_token_s=answer.timings.first_token_s,
        writer=answer.writer,
        fallback_reason=answer.fallback_reason,
        nuggets=len(question.nuggets),
        nuggets_covered=sum(covered),
        missed_nuggets=tuple(n for n, ok in zip(question.nuggets, covered, strict=True) if not ok),
        anchor=question.anchor,
        cited=None if top is None else top.id,
        anchor_correct=anchor_correct,
        words=words,
    )


@dataclass(frozen=True)
class AnswerReport:
    outcomes: tuple[AnswerOutcome, ...]

    def _ratio(
        self, part: Callable[[AnswerOutcome], int], whole: Callable[[AnswerOutcome], int]
    ) -> float | None:
        total = sum(whole(o) for o in self.outcomes)
        return _share(sum(part(o) for o in self.outcomes), total)

    def worst(self, limit: int = 15) -> list[AnswerOutcome]:
        """Answer and tool questions that went wrong, worst first: refused, wrong anchor, fewest nuggets."""
        wrong = [
            o
            for o in self.outcomes
            if o.expect != "refuse"
            and (
                o.refused
                or o.anchor_correct is False
                or (o.nugget_recall is not None and o.nugget_recall < 1)
            )
        ]
        return sorted(
            wrong, key=lambda o: (not o.refused, o.anchor_correct is not False, o.nugget_recall or 0.0)
        )[:limit]

    def as_json(self) -> dict[str, object]:
        answered = [o for o in self.outcomes if not o.refused]
        answerable = [o for o in self.outcomes if o.expect != "refuse"]
        refuse = [o for o in self.outcomes if o.expect == "refuse"]
        latencies = [o.latency_s for o in self.outcomes]
        first_tokens = [o.first_token_s for o in self.outcomes if o.first_token_s is not None]
        anchored = [o.anchor_correct for o in self.outcomes if o.anchor_correct is not None]
        tools = [o.tool_correct for o in self.outcomes if o.tool_correct is not None]
        n = len(self.outcomes)
        return {
            "structure_ok": _share(sum(o.structure_ok for o in self.outcomes), n),
            "citation_precision": self._ratio(lambda o: o.citations_retrieved, lambda o: o.citations),
            "link_validity": self._ratio(lambda o: o.links_valid, lambda o: o.links),
            "support_rate": self._ratio(lambda o: o.sentences_supported, lambda o: o.sentences),
            "nugget_recall": _mean([o.nugget_recall for o in answerable if o.nugget_recall is not None]),
            "anchor_accuracy": _share(sum(anchored), len(anchored)),
            "refusal_accuracy": _share(sum(o.refusal_correct for o in self.outcomes), n),
            "false_refusals": _share(sum(o.refused for o in answerable), len(answerable)),
            "false_answers": _share(sum(not o.refused for o in refuse), len(refuse)),
            "tool_accuracy": _share(sum(tools), len(tools)),  # None until tool questions are scored
            "latency_p50_s": _percentile(latencies, 50),
            "latency_p95_s": _percentile(latencies, 95),
            "first_token_p50_s": _percentile(first_tokens, 50),
            "fallback_rate": _share(sum(o.fallback_reason is not None for o in answered), len(answered)),
            "words_p50": _percentile([o.words for o in answered if o.expect != "refuse"], 50),
            "n": n,
            "n_answerable": len(answerable),
            "n_refuse": len(refuse),
            "worst": [o.id for o in self.worst()],
            "per_question": [o.as_json() for o in self.outcomes],
        }


@dataclass(frozen=True)
class MatcherAgreement:
    """How often the nugget matcher at ``tau`` agrees with hand labels (positive: covered)."""

    tau: float
    accuracy: float
    precision: float | None
    recall: float | None
    n: int

    @classmethod
    def at(cls, similarities: Sequence[float], labels: Sequence[bool], tau: float) -> MatcherAgreement:
        predicted = np.asarray(similarities) >= tau
        truth = np.asarray(labels, dtype=bool)
        hits = int((predicted & truth).sum())
        return cls(
            tau=round(float(tau), 3),
            accuracy=round(float((predicted == truth).mean()), 4),
            precision=_share(hits, int(predicted.sum())),
            recall=_share(hits, int(truth.sum())),
            n=len(truth),
        )


def best_tau(
    similarities: Sequence[float], labels: Sequence[bool], grid: Iterable[float]
) -> MatcherAgreement:
    """The threshold of ``grid`` with the highest accuracy; ties go to the one nearest ``NUGGET_TAU``."""
    candidates = [MatcherAgreement.at(similarities, labels, t) for t in grid]
    return max(candidates, key=lambda a: (a.accuracy, -abs(a.tau - NUGGET_TAU)))


class NuggetLabel(BaseModel):
    """A hand judgement: does ``statement`` convey ``nugget``? ``origin`` says where the statement came from."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    statement: str = Field(min_length=1)
    nugget: str = Field(min_length=1)
    covered: bool
    origin: str = Field(min_length=1, description="'answer:<question id>' or 'card:<record id>'")
    note: str | None = None


def read_nugget_labels(path: Path) -> list[NuggetLabel]:
    """Every label of a JSONL file, or a ZoomqaError naming each bad line."""
    return read_jsonl(path, NuggetLabel, "nugget labels", "labels")


def label_similarities(labels: Sequence[NuggetLabel], embedder: Embedder) -> list[float]:
    """The matcher's score for each labelled statement/nugget pair (what ``tau`` is compared with)."""
    return [float(nugget_similarities([label.statement], [label.nugget], embedder).max()) for label in labels]

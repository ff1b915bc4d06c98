"""Answer quality on a question set: structure, citations, links, support, refusals, latency.

Each number is measured on the answer as a user receives it, against the search result it
was written from: a cited source must be one that was retrieved, every link must equal the
index metadata of its record, and every sentence of parts 1 and 2 must be supported by a
retrieved passage (part 1 may also rest on the question itself).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from zoomqa.agent.answer import REQUIRED_STAGES, Answer
from zoomqa.agent.evidence import Evidence
from zoomqa.index.embedding import Embedder
from zoomqa.index.evaluation import Question
from zoomqa.index.results import SearchResult

_URL = re.compile(r"https?://[^\s<>\"')\]]+")


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

    @property
    def refusal_correct(self) -> bool:
        return self.refused == (self.expect == "refuse")

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
            "latency_s": round(self.latency_s, 3),
            "first_token_s": None if self.first_token_s is None else round(self.first_token_s, 3),
            "writer": self.writer,
            "fallback_reason": self.fallback_reason,
        }


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _percentile(values: Sequence[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)), 3) if values else None


def _structure_ok(answer: Answer) -> bool:
    if not answer.relevant:
        return bool(answer.task) and not answer.sources and not answer.steps
    stages = {step.stage for step in answer.steps if step.statements}
    return bool(answer.task) and all(s in stages for s in REQUIRED_STAGES) and bool(answer.sources)


def score_answer(
    question: Question, result: SearchResult, answer: Answer, embedder: Embedder, threshold: float
) -> AnswerOutcome:
    """Check one answer against the search result it came from."""
    retrieved = {hit.record.id: hit.record for hit in result.hits}
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
    if answer.relevant and result.hits:
        evidence = Evidence.gather(result, embedder)
        task = evidence.support([s.text for s in answer.task], include_question=True)
        steps = evidence.support([s.text for step in answer.steps for s in step.statements])
        sentences = len(task) + len(steps)
        supported = sum(s.similarity >= threshold for s in task + steps)

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
    )


@dataclass(frozen=True)
class AnswerReport:
    outcomes: tuple[AnswerOutcome, ...]

    def _ratio(
        self, part: Callable[[AnswerOutcome], int], whole: Callable[[AnswerOutcome], int]
    ) -> float | None:
        total = sum(whole(o) for o in self.outcomes)
        return _share(sum(part(o) for o in self.outcomes), total)

    def as_json(self) -> dict[str, object]:
        answered = [o for o in self.outcomes if not o.refused]
        latencies = [o.latency_s for o in self.outcomes]
        first_tokens = [o.first_token_s for o in self.outcomes if o.first_token_s is not None]
        n = len(self.outcomes)
        return {
            "structure_ok": _share(sum(o.structure_ok for o in self.outcomes), n),
            "citation_precision": self._ratio(lambda o: o.citations_retrieved, lambda o: o.citations),
            "link_validity": self._ratio(lambda o: o.links_valid, lambda o: o.links),
            "support_rate": self._ratio(lambda o: o.sentences_supported, lambda o: o.sentences),
            "refusal_accuracy": _share(sum(o.refusal_correct for o in self.outcomes), n),
            "tool_accuracy": None,  # measured once the agent can call the upscaler
            "latency_p50_s": _percentile(latencies, 50),
            "latency_p95_s": _percentile(latencies, 95),
            "first_token_p50_s": _percentile(first_tokens, 50),
            "fallback_rate": _share(sum(o.fallback_reason is not None for o in answered), len(answered)),
            "n": n,
            "per_question": [o.as_json() for o in self.outcomes],
        }

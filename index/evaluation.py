"""Retrieval quality on a question set: recall@k, MRR, refusal accuracy, threshold calibration.

A question lists the works that answer it (bare arXiv ids or record ids; a record is a hit
when its id or its arxiv_id is listed). A hit's rank is its 1-based position in the fused
ranking before it is split into the models and papers blocks, i.e. both blocks merged by
fused score. Recall and MRR are over answer and tool questions; refusal accuracy is over
all questions (a refuse question must be refused, any other must not).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from zoomqa.errors import ZoomqaError
from zoomqa.index.records import Record
from zoomqa.index.results import SearchResult
from zoomqa.index.retrieval import HybridRetriever
from zoomqa.question_set import Question

RECALL_AT = (1, 5, 10)


def is_hit(record: Record, relevant: Sequence[str]) -> bool:
    return record.id in relevant or (record.arxiv_id is not None and record.arxiv_id in relevant)


def hit_rank(result: SearchResult, relevant: Sequence[str]) -> int | None:
    """1-based position of the first relevant record in the fused ranking, or None."""
    fused = sorted(result.hits, key=lambda hit: -hit.score)  # stable: blocks keep their own order on ties
    return next((rank for rank, hit in enumerate(fused, start=1) if is_hit(hit.record, relevant)), None)


@dataclass(frozen=True)
class QuestionOutcome:
    id: str
    expect: str
    hit_rank: int | None
    refused: bool
    best_similarity: float

    @property
    def refusal_correct(self) -> bool:
        return self.refused == (self.expect == "refuse")


@dataclass(frozen=True)
class RetrievalReport:
    outcomes: tuple[QuestionOutcome, ...]

    @property
    def answerable(self) -> list[QuestionOutcome]:
        return [o for o in self.outcomes if o.expect != "refuse"]

    def recall(self, k: int) -> float:
        answerable = self.answerable
        found = sum(1 for o in answerable if o.hit_rank is not None and o.hit_rank <= k)
        return found / len(answerable) if answerable else 0.0

    @property
    def mrr(self) -> float:
        answerable = self.answerable
        return sum(1 / o.hit_rank for o in answerable if o.hit_rank) / len(answerable) if answerable else 0.0

    @property
    def refusal_accuracy(self) -> float:
        return sum(o.refusal_correct for o in self.outcomes) / len(self.outcomes)

    @property
    def false_refusals(self) -> int:
        """Answer and tool questions refused."""
        return sum(1 for o in self.answerable if o.refused)

    @property
    def false_answers(self) -> int:
        """Refuse questions answered."""
        return sum(1 for o in self.outcomes if o.expect == "refuse" and not o.refused)

    def misses(self, k: int = 5) -> list[QuestionOutcome]:
        """Questions answered wrongly: refused when they should not be (or not when they should), or no hit in the top k."""
        return [
            o
            for o in self.outcomes
            if not o.refusal_correct or (o.expect != "refuse" and (o.hit_rank is None or o.hit_rank > k))
        ]

    def as_json(self) -> dict[str, object]:
        metrics: dict[str, object] = {f"recall@{k}": round(self.recall(k), 4) for k in RECALL_AT}
        return {
            **metrics,
            "mrr": round(self.mrr, 4),
            "refusal_accuracy": round(self.refusal_accuracy, 4),
            "false_refusals": self.false_refusals,
            "false_answers": self.false_answers,
            "n": len(self.outcomes),
            "per_question": [
                {
                    "id": o.id,
                    "hit_rank": o.hit_rank,
                    "refused": o.refused,
                    "best_similarity": round(o.best_similarity, 4),
                }
                for o in self.outcomes
            ],
        }


def evaluate(retriever: HybridRetriever, questions: Sequence[Question], *, k: int = 10) -> RetrievalReport:
    """Search every question with ``k`` hits per block and score the outcomes."""
    outcomes = []
    for q in questions:
        result = retriever.search(q.question, k=k)
        outcomes.append(
            QuestionOutcome(
                id=q.id,
                expect=q.expect,
                hit_rank=hit_rank(result, q.relevant),
                refused=not result.relevant,
                best_similarity=retriever.best_similarity(q.question),
            )
        )
    return RetrievalReport(tuple(outcomes))


@dataclass(frozen=True)
class Calibration:
    """The relevance threshold that best separates refuse questions from the others."""

    threshold: float
    accuracy: float
    margin: float  # distance from the threshold to the nearest question on either side

    def as_json(self) -> dict[str, float]:
        return {key: round(value, 4) for key, value in asdict(self).items()}


def calibrate(outcomes: Sequence[QuestionOutcome]) -> Calibration:
    """Cut between two neighbouring best-match similarities: most questions on the right side,
    ties broken by the widest gap, so the threshold sits as far from both groups as it can."""
    if not any(o.expect == "refuse" for o in outcomes) or all(o.expect == "refuse" for o in outcomes):
        raise ZoomqaError("calibration needs both refuse questions and answer/tool questions")
    points = sorted(o.best_similarity for o in outcomes)
    best: Calibration | None = None
    for low, high in zip([points[0] - 0.1, *points], [*points, points[-1] + 0.1], strict=True):
        if high <= low:
            continue
        threshold = (low + high) / 2
        correct = sum((o.best_similarity < threshold) == (o.expect == "refuse") for o in outcomes)
        candidate = Calibration(threshold, correct / len(outcomes), (high - low) / 2)
        if best is None or (candidate.accuracy, candidate.margin) > (best.accuracy, best.margin):
            best = candidate
    assert best is not None
    return best


def report_json(report: RetrievalReport, calibration: Calibration | None) -> str:
    data = report.as_json()
    if calibration is not None:
        data["calibration"] = calibration.as_json()
    return json.dumps(data)

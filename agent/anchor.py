"""Which retrieved work part 2 of an answer explains: the anchor.

Retrieval ranks records by likeness to the whole question. The anchor must also fit what
the question asks: a work the question names, a method that can meet the person's
constraints (any scale, JPEG damage, faces...), something runnable when they ask for a tool.
Each signal is a bonus on the source's best passage similarity, so a strong textual match
still wins when the question carries no signal.
"""

from __future__ import annotations

from collections.abc import Sequence

from zoomqa.agent.question import Analysis, named_in
from zoomqa.index.records import Record

NAMED_BONUS = 0.5  # the question names the work ("what does the cell size in LIIF do?")
PREFERRED_BONUS = 0.2  # the work's task labels meet the person's constraints
PREFERENCE_DECAY = 0.8  # each later preferred task counts this much less than the one before
RUNNABLE_BONUS = 0.05  # a model card, when the person asks what to use
RETRIEVAL_WEIGHT = 0.1  # the fused retrieval score, relative to the best in this search


def preference_bonus(analysis: Analysis, record: Record) -> float:
    """How well the record's task labels meet the constraints (0 when none applies)."""
    labels = [t.lower() for t in record.tasks]
    for i, fragment in enumerate(analysis.preferred_tasks):
        if any(fragment in label for label in labels):
            return PREFERRED_BONUS * PREFERENCE_DECAY**i
    return 0.0


def anchor_scores(
    analysis: Analysis,
    records: Sequence[Record],
    best_similarity: Sequence[float],
    retrieval_scores: Sequence[float],
) -> list[float]:
    """One score per source (same order as ``records``); the highest is the anchor."""
    top = max(retrieval_scores, default=0.0) or 1.0
    named = named_in(analysis, tuple(records))
    runnable = analysis.intent in ("which", "can")
    scores = []
    for number, record in enumerate(records, start=1):
        score = best_similarity[number - 1] + RETRIEVAL_WEIGHT * retrieval_scores[number - 1] / top
        score += preference_bonus(analysis, record)
        if number in named:
            score += NAMED_BONUS * PREFERENCE_DECAY ** named.index(number)
        if runnable and record.kind == "model":
            score += RUNNABLE_BONUS
        scores.append(score)
    return scores


def choose_anchor(scores: Sequence[float]) -> int:
    """The 1-based number of the best-scoring source (the earlier one on a tie)."""
    return max(range(1, len(scores) + 1), key=lambda n: (scores[n - 1], -n)) if scores else 1

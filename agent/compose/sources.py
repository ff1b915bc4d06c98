"""The answer's list of papers and tools: one entry per work, the cited ones first, a few in all.

Retrieval returns a model card and the paper it implements as two records, and up to ``k``
of each kind; shown as they come, a reader meets "Bringing Old Photos Back to Life" twice
and scrolls past test sets that no sentence cites. Here a paper and its model cards become
one entry (the first: a model card before its paper), citations are renumbered to it, and the list
stops at ``limit`` entries: every cited one, then the others that fit the question best (the
anchor's scores: a paper on video that fits the question is not pushed out by five photo models
that come first only because models are numbered first).
"""

from __future__ import annotations

from collections.abc import Sequence

from zoomqa.agent.compose.answer import Draft, Source, Statement, WorkflowStep
from zoomqa.index.records import Record

MAX_SOURCES = 6


def _renumbered(statement: Statement, numbers: dict[int, int]) -> Statement:
    sources = tuple(dict.fromkeys(numbers[n] for n in statement.sources if n in numbers))
    return statement.model_copy(update={"sources": sources})


def merge_sources(
    draft: Draft,
    sources: Sequence[Source],
    records: Sequence[Record],
    limit: int = MAX_SOURCES,
    fit: Sequence[float] | None = None,
) -> tuple[Draft, tuple[Source, ...]]:
    """``draft`` with citations pointing at the merged, shortened list, and that list. ``fit``
    (one score per source, higher is better) chooses the uncited entries; without it, the
    first-numbered."""
    first_of_work: dict[str, int] = {}
    entry_of: dict[int, int] = {}  # original number -> the original number of its work's entry
    for source, record in zip(sources, records, strict=True):
        entry_of[source.number] = first_of_work.setdefault(record.work, source.number)
    cited = {entry_of[n] for s in draft.statements for n in s.sources if n in entry_of}
    entries = list(dict.fromkeys(entry_of.values()))
    best: dict[int, float] = {}
    for source, score in zip(sources, fit if fit is not None else [0.0] * len(sources), strict=True):
        entry = entry_of[source.number]
        best[entry] = max(best.get(entry, score), score)
    kept = [n for n in entries if n in cited]
    others = sorted((n for n in entries if n not in cited), key=lambda n: -best[n])  # stable: ties by number
    kept += others[: max(0, limit - len(kept))]
    kept.sort()
    numbers = {n: kept.index(entry_of[n]) + 1 for n in entry_of if entry_of[n] in kept}
    by_number = {s.number: s for s in sources}
    merged = [by_number[old].model_copy(update={"number": new}) for new, old in enumerate(kept, start=1)]
    steps = tuple(
        WorkflowStep(stage=step.stage, statements=tuple(_renumbered(s, numbers) for s in step.statements))
        for step in draft.steps
    )
    task = tuple(_renumbered(s, numbers) for s in draft.task)
    return Draft(task=task, steps=steps), tuple(merged)

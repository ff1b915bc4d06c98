"""The work the tuned question encoder puts first joins the sources when retrieval missed it.

Retrieval ranks passages by likeness to the question's words. A person who describes a
situation ("why would an upscaler spend the same effort on a plain sky as on a face?") may
share no words with the work that answers it, and the anchor can only choose among what was
retrieved. The work matcher (work_matching.py) was trained to carry such questions to the works
that answer them, across every bundled work. When its first choice is a work no retrieved
record belongs to, that record joins the sources at the weakest retrieved score (called in,
not found), as the local upscaler's card does (local_method.py); the anchor then weighs it like
any other source. The matcher knows only the bundled works, so only a bundled record is ever
called in. Only its first choice: calling in its second too lost as many development questions
as it won.
"""

from __future__ import annotations

from dataclasses import replace
from functools import cache

import numpy as np

from zoomqa.agent.compose.work_matching import WorkMatcher
from zoomqa.index.records import Record, bundled_cards
from zoomqa.index.results import Hit, SearchResult


@cache
def _bundled() -> dict[str, Record]:
    return {r.id: r for r in bundled_cards()}


def matched_first(matcher: WorkMatcher, question: str) -> Record | None:
    """The bundled record whose work the matcher ranks first for ``question``; None when the
    matcher carries no work vectors or names a record no longer bundled."""
    if matcher.work_vectors is None or not matcher.work_ids:
        return None
    best = matcher.work_ids[int(np.argmax(matcher.work_vectors @ matcher.question_vector(question)))]
    return _bundled().get(best)


def with_matched_work(result: SearchResult, matcher: WorkMatcher | None) -> SearchResult:
    """``result`` with the matcher's first choice among the bundled works, when no retrieved
    record is of that work."""
    if matcher is None or not result.relevant or not result.hits:
        return result
    best = matched_first(matcher, result.question)
    if best is None or any(hit.record.work == best.work for hit in result.hits):
        return result
    weakest = min(result.hits, key=lambda hit: hit.score)
    called = Hit(best, weakest.score, weakest.similarity)
    if best.kind == "model":
        return replace(result, models=(*result.models, called))
    return replace(result, papers=(*result.papers, called))

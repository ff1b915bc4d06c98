"""The method zoomqa runs on the person's own picture joins the sources when it is what fits.

Retrieval ranks records by the question's words: "what's the best free tool to make my
wallpaper 4K from 1080p?" finds fixed-4x upscalers and never LIIF, although only an
arbitrary-scale method hits an exact size and zoomqa can demonstrate one on the picture.
When the question needs an arbitrary scale, or asks how a picture gets bigger with no
damage to repair and no work named, the local upscaler's card is added to the retrieved
models at the weakest retrieved score (it was called in, not found); the anchor then weighs
it like any other source.
"""

from __future__ import annotations

from dataclasses import replace

from zoomqa.agent.understand.question import Analysis, named_in
from zoomqa.index.records import Record, bundled_cards
from zoomqa.index.results import Hit, SearchResult


def local_card() -> Record | None:
    """The bundled card of the model the local upscaler runs by default (the first with a tool)."""
    return next((r for r in bundled_cards() if r.kind == "model" and r.tool), None)


def demonstrable(analysis: Analysis, records: tuple[Record, ...]) -> bool:
    """Whether the local upscaler's method is what answers the question: only an arbitrary-scale
    method meets it, or the person asks about an enlargement itself (no damage, no work named)."""
    c = analysis.constraints
    plain = c.enlarging and not analysis.preferred_tasks and not named_in(analysis, records, contrasts=False)
    return c.needs_arbitrary_scale or plain


def with_local_method(result: SearchResult, analysis: Analysis) -> SearchResult:
    """``result`` with the local upscaler's card among the models when it fits and is missing."""
    card = local_card()
    records = tuple(hit.record for hit in result.hits)
    if card is None or not result.hits or any(r.tool for r in records) or not demonstrable(analysis, records):
        return result
    weakest = min(result.hits, key=lambda hit: hit.score)
    return replace(result, models=(*result.models, Hit(card, weakest.score, weakest.similarity)))

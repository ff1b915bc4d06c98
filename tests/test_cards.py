"""Every bundled card carries the structured fields an answer is composed from (schema v2)."""

from __future__ import annotations

import re

import pytest

from zoomqa.index.records import Record, read_bundled_corpus
from zoomqa.index.sentences import split_sentences

# A sentence quoted on its own must name its subject; these openings lean on a previous one.
_LEANING_OPENING = re.compile(r"^(It|Its|It's|This|They|The model)\b")

CARDS = read_bundled_corpus()


@pytest.mark.parametrize("card", CARDS, ids=lambda card: card.id)
def test_card_has_every_structured_field(card: Record) -> None:
    assert card.task, "no task"
    assert card.workflow, "no workflow"
    assert card.explains, "no explains"
    assert card.facts, "no facts"


def _gist(sentence: str) -> str:
    """A sentence with case, punctuation and spacing ignored: equal gists say the same thing."""
    return " ".join(re.sub(r"[^\w\s]", " ", sentence.casefold()).split())


@pytest.mark.parametrize("card", CARDS, ids=lambda card: card.id)
def test_card_sentences_read_alone_and_do_not_repeat(card: Record) -> None:
    sentences = [*card.explains, *card.facts]
    leaning = [s for s in sentences if _LEANING_OPENING.match(s)]
    assert not leaning, f"sentences that do not name their subject: {leaning}"
    assert card.workflow is not None and card.task is not None
    gists = [_gist(s) for s in sentences]
    flow = card.workflow
    fields = " ".join([card.task, flow.input, flow.model, flow.output])
    elsewhere = {_gist(s) for s in split_sentences(fields)}
    repeated = [s for s, g in zip(sentences, gists, strict=True) if gists.count(g) > 1 or g in elsewhere]
    assert not repeated, f"sentences said twice in this card: {repeated}"

"""One typing slip from a request word is read as that word; English words are left alone."""

from __future__ import annotations

import pytest

from zoomqa.agent.understand.spelling import one_slip, respell


@pytest.mark.parametrize(
    ("typed", "word", "slip"),
    [
        ("enlrage", "enlarge", True),  # two neighbours swapped
        ("tims", "times", True),  # a letter dropped
        ("upscalle", "upscale", True),  # a letter added
        ("magnofy", "magnify", True),  # a letter changed
        ("enlgrae", "enlarge", False),  # two slips
        ("times", "times", False),
    ],
)
def test_one_slip(typed: str, word: str, slip: bool) -> None:
    assert one_slip(typed, word) is slip


def test_respell_reads_misspellings_and_keeps_words() -> None:
    assert respell("Enlrage it 3 tims") == "enlarge it 3 times"
    assert respell("the tiles at the same time") == "the tiles at the same time"
    assert respell("it was resized and scaled") == "it was resized and scaled"

"""Telling a question in another language from a terse English one (agent/understand/language.py)."""

from __future__ import annotations

import pytest

from zoomqa.agent.understand.language import language_of


@pytest.mark.parametrize(
    "query",
    [
        "psnr y channel",  # py3langid alone reads this as Welsh
        "SwinIR x4 psnr set5",
        "realesrgan anime video tile size",
        "gfpgan codeformer fidelity weight",
    ],
)
def test_a_terse_query_in_the_cards_own_words_is_english(query: str) -> None:
    assert language_of(query) is None


@pytest.mark.parametrize(
    ("question", "language"),
    [
        ("imagen pixelada de mi hijo, quiero agrandarla", "es"),
        ("hoe kan ik mijn foto groter maken", "nl"),
        ("comment agrandir une photo ancienne sans perte", "fr"),
        ("Wie kann ich ein altes Foto zehnfach vergrößern?", "de"),
    ],
)
def test_a_question_in_another_language_is_told_even_when_it_shares_a_word_with_the_cards(
    question: str, language: str
) -> None:
    assert language_of(question) == language

"""Is a question written in English? The offline writers compose answers from English cards.

A question in German or Chinese would otherwise be matched word by word against English cards
and refused as "not covered", which misleads: the topic may well be covered. The language is
told by py3langid (a naive Bayes model over byte n-grams, shipped in the package as numpy
arrays, no pickle). Loading that model costs about a second, so plain ASCII text with an
English function word is taken as English without it: that is nearly every English question.
A terse ASCII query without one ("psnr y channel", which the model reads as Welsh) is English
too when most of its words are words of the bundled cards.
"""

from __future__ import annotations

import re
import threading
from functools import cache
from typing import Any

# Common English function words: one of them in an ASCII question settles it without the model.
_ENGLISH_WORDS = frozenset(
    "a an the and or but if of to in on at by for from with without into about how what why which "
    "who when where can could should would will is are was were be been do does did i my me you your "
    "it its this that these those there their they we our not no".split()
)
_WORD = re.compile(r"[^\W\d_]+")
# The model's normalised probability above which a question is taken to be in another language.
# Short English keyword queries ("LIIF vs LTE", "SwinIR x4 psnr set5") score below 0.2 for any
# other language; real sentences in German, French or Chinese score above 0.6.
OTHER_LANGUAGE_CONFIDENCE = 0.5
# Share of an ASCII query's words found in the bundled cards at which it is taken as English:
# the cards are English and carry the field's own terms ("swinir", "psnr", "div2k").
CARD_WORD_SHARE = 0.5

_lock = threading.Lock()
_identifier: Any = None


def _model() -> Any:
    global _identifier
    with _lock:
        if _identifier is None:
            from py3langid.langid import MODEL_FILE, LanguageIdentifier

            _identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
        return _identifier


@cache
def _card_words() -> frozenset[str]:
    """Every word the bundled cards use, lower-cased."""
    from zoomqa.index.records import bundled_cards

    return frozenset(w for r in bundled_cards() for w in _WORD.findall(r.keyword_text().lower()))


def language_of(text: str) -> str | None:
    """The ISO 639-1 code of the language ``text`` is written in when it is clearly not English,
    else None (English, or too short and ambiguous to say)."""
    words = _WORD.findall(text.lower())
    if not words:
        return None
    if text.isascii():
        if any(word in _ENGLISH_WORDS for word in words):
            return None
        known = _card_words()
        if sum(word in known for word in words) >= CARD_WORD_SHARE * len(words):
            return None
    language, confidence = _model().classify(text)
    if language == "en" or confidence < OTHER_LANGUAGE_CONFIDENCE:
        return None
    return str(language)

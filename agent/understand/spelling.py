"""Misspelt request words read as meant: "enlrage cat.png 3 tims" asks for a 3x enlargement.

People type requests fast. A word one slip away from a request word (vocabulary.toml
[spelling]) is read as that word, unless it is an English word of its own ("tiles" is not
"times"; the embedder's tokenizer vocabulary is the word list) or the request word with an
ending ("resized" reports, it does not ask).
"""

from __future__ import annotations

import re
from functools import lru_cache

from zoomqa.agent.understand.vocabulary import vocabulary
from zoomqa.index.embedding import known_words

_TOKEN = re.compile(r"[A-Za-z]{4,}")


def one_slip(typed: str, word: str) -> bool:
    """``typed`` is ``word`` with one letter added, dropped or changed, or two neighbours swapped."""
    if typed == word or abs(len(typed) - len(word)) > 1:
        return False
    if len(typed) == len(word):
        diffs = [i for i, (a, b) in enumerate(zip(typed, word, strict=True)) if a != b]
        if len(diffs) == 1:
            return True
        i = diffs[0]
        return len(diffs) == 2 and diffs[1] == i + 1 and typed[i] == word[i + 1] and typed[i + 1] == word[i]
    short, long = sorted((typed, word), key=len)
    return any(long[:i] + long[i + 1 :] == short for i in range(len(long)))


@lru_cache(maxsize=4096)  # bounded: the words come from people's messages
def _meant(typed: str) -> str | None:
    """The request word a lower-case token stands for, or None."""
    words = vocabulary().spelling
    if typed in words or typed in known_words() or any(typed.startswith(w) for w in words):
        return None
    candidates = [w for w in words if one_slip(typed, w)]
    return candidates[0] if len(candidates) == 1 else None


def respell(text: str) -> str:
    """``text`` with each misspelt request word replaced by the word meant."""
    return _TOKEN.sub(lambda m: _meant(m.group().lower()) or m.group(), text)

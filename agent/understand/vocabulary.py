"""The vocabulary file (``vocabulary.toml``): the person's conditions and the words for them.

Question analysis and the anchor read what the field calls things from this one file, so a
new way of saying "JPEG damage" or "no GPU" is a line of data, not a new rule in code.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from pathlib import Path

from zoomqa.errors import ZoomqaError

VOCABULARY_FILE = Path(str(files("zoomqa.agent.understand") / "vocabulary.toml"))


@dataclass(frozen=True)
class Vocabulary:
    """The parsed file: one compiled pattern per condition and intent, and the word lists."""

    conditions: dict[str, re.Pattern[str]]
    intents: tuple[tuple[str, re.Pattern[str]], ...]
    stopwords: frozenset[str]
    preferred: dict[str, tuple[str, ...]]
    specialties: tuple[tuple[str, str], ...]
    task_labels: dict[str, tuple[str, ...]]
    card_patterns: dict[str, re.Pattern[str]]
    question_patterns: dict[str, re.Pattern[str]]
    requests: dict[str, tuple[str, ...]]  # REQUEST_WORDS: alternatives as written
    spelling: tuple[str, ...]  # request words a misspelling is read as

    def condition(self, name: str) -> re.Pattern[str]:
        return self.conditions[name]


REQUEST_WORDS = (
    "verbs",
    "make",
    "sized",
    "past",
    "report",
    "commentary",
    "corrections",
    "other_edits",
    "polite",
    "intention",
    "cancel",
    "results",
    "size_reference",
    "picture_reference",
)


def _checked(pattern: str) -> str:
    """A pattern that compiles, with "any spacing" where it has a space."""
    spaced = str(pattern).replace(" ", r"\s+")
    re.compile(spaced)
    return spaced


def _alternatives(words: list[str]) -> re.Pattern[str]:
    return re.compile(r"\b(" + "|".join(words) + r")\b")


def _patterns(table: dict[str, str]) -> dict[str, re.Pattern[str]]:
    return {name: re.compile(p, re.IGNORECASE) for name, p in table.items()}


@cache
def vocabulary(path: Path = VOCABULARY_FILE) -> Vocabulary:
    """The vocabulary at ``path`` (read once per process); ZoomqaError when it is malformed."""
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        tool = "(" + "|".join(data["tool"]["words"]) + ")"
        intents = tuple(
            (name, re.compile("|".join(data["intents"][name]["patterns"]).replace("{tool}", tool)))
            for name in data["intents"]["order"]
        )
        labels = data["task_labels"]
        return Vocabulary(
            conditions={name: _alternatives(c["words"]) for name, c in data["conditions"].items()},
            intents=intents,
            stopwords=frozenset(data["stopwords"]["words"].split()),
            preferred={name: tuple(words) for name, words in data["preferred"].items()},
            specialties=tuple((str(a), str(b)) for a, b in labels["specialties"]),
            task_labels={name: tuple(v) for name, v in labels.items() if name != "specialties"},
            card_patterns=_patterns(data["card_patterns"]),
            question_patterns=_patterns(data["question_patterns"]),
            requests={name: tuple(_checked(w) for w in data["requests"][name]) for name in REQUEST_WORDS},
            spelling=tuple(str(w).lower() for w in data["spelling"]["words"]),
        )
    except (OSError, tomllib.TOMLDecodeError, KeyError, TypeError, ValueError, re.error) as exc:
        raise ZoomqaError(f"the vocabulary file {path} is malformed: {exc}") from None

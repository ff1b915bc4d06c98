"""Splitting text into sentences and clauses, and reading ``[n]`` citation markers.

Card validation checks these units, the extractive writer quotes them and the grounding
guard checks each one, so all must cut text the same way; it lives in index/ because the
card schema needs it and index/ imports nothing from agent/.
"""

from __future__ import annotations

import re

# A sentence ends at . ! or ? followed by space and an upper-case letter, digit, quote or
# bracket, unless the dot belongs to a common abbreviation ("e.g.", "et al.", "Fig.").
_ABBREVIATIONS = ("e.g.", "i.e.", "et al.", "etc.", "vs.", "fig.", "eq.", "no.", "cf.", "approx.")
_BOUNDARY = re.compile(r"(?<=[.!?])[\"”')\]]*\s+(?=[A-Z0-9\"“'(\[])")
CITATION = re.compile(r"\s*\[(\d{1,3}(?:\s*,\s*\d{1,3})*)\]")
MIN_CLAUSE_WORDS = 6


def split_sentences(text: str) -> list[str]:
    """Sentences of ``text``, whitespace collapsed, in order."""
    text = " ".join(text.split())
    if not text:
        return []
    sentences: list[str] = []
    start = 0
    for match in _BOUNDARY.finditer(text):
        candidate = text[start : match.start()]
        if candidate.lower().endswith(_ABBREVIATIONS):
            continue
        sentences.append(candidate.strip())
        start = match.end()
    sentences.append(text[start:].strip())
    return [s for s in sentences if s]


def split_clauses(sentence: str) -> list[str]:
    """Split a sentence at semicolons when every part can stand alone, so each is one step."""
    parts = [p.strip() for p in sentence.split(";")]
    if len(parts) < 2 or any(len(p.split()) < MIN_CLAUSE_WORDS for p in parts):
        return [sentence]
    clauses = []
    for i, part in enumerate(parts):
        part = part[0].upper() + part[1:]
        clauses.append(part if i == len(parts) - 1 else part.rstrip(",") + ".")
    return clauses


def citations(text: str) -> tuple[int, ...]:
    """Source numbers cited in ``text`` as [1] or [1, 2], in order of first appearance."""
    found: list[int] = []
    for match in CITATION.finditer(text):
        for number in match.group(1).split(","):
            value = int(number)
            if value not in found:
                found.append(value)
    return tuple(found)


def strip_citations(text: str) -> str:
    return CITATION.sub("", text).strip()

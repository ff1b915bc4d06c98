"""The short names a person uses for a work ('LIIF', 'Real-ESRGAN', 'SinSR'), and finding them in a question.

Question analysis (which work does a question name?) and the relevance decision (does a
question name a record this index holds?) read names the same way, so they live here, below
both: index/ imports nothing from agent/.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable

from zoomqa.index.records import Record

# Short names of works that are also everyday words ("REAL: Realism Evaluation ...").
_COMMON_WORDS = frozenset({"real", "the", "deep", "image", "image quality assessment"})
MIN_NAME_CHARS = 3  # names of one or two letters are too ambiguous


def _acronym(word: str) -> bool:
    """A coined name: capitals inside ("SwinIR", "DualAug") or all capitals ("LIIF", "SR")."""
    return len(word) > 1 and (word.isupper() or any(ch.isupper() for ch in word[1:]))


def _written_names(record: Record) -> set[str]:
    """The names as the record writes them (case kept), before any filtering."""
    names = {record.id.split(":")[-1]}
    head = record.title.split(":")[0].strip().strip("{}")
    if len(head.split()) <= 3:
        names.add(head)
    lead = record.title.split(" for ")[0].strip()  # "Local Texture Estimator for Implicit ..."
    if ":" not in record.title and lead != record.title and 2 <= len(lead.split()) <= 4:
        names.add(lead)
    first = record.title.split()[0].strip("(),:\"'{}")
    if any(_acronym(part) for part in first.split("-")):  # "Real-ESRGAN", "DualAug"; not "Photo-Realistic"
        names.add(first)
    if record.kind == "model" and record.tool:
        names.add(record.tool)
    names |= {n.replace("-", "") for n in names if "-" in n}  # "realesrgan", "metasr"
    return names


def _usable(name: str) -> bool:
    lowered = name.lower()
    return len(lowered) >= MIN_NAME_CHARS and lowered not in _COMMON_WORDS and not lowered.startswith("sisr")


def record_names(record: Record) -> frozenset[str]:
    """The short names a person uses for a work: 'LIIF', 'Real-ESRGAN', 'DualAug', 'Set5'.

    Taken from the id after its prefix, the title before a colon (or, in a title without one,
    a short name before "for": "Local Texture Estimator"), and a leading capitalised acronym
    of the title; lower-cased. Names of one or two letters are ignored (too ambiguous).
    """
    return frozenset(n.lower() for n in _written_names(record) if _usable(n))


def coined_names(record: Record, ordinary_words: Collection[str] = ()) -> dict[str, bool]:
    """The names of ``record`` that no one writes by accident, lower-cased, each with whether
    it must be written in the title's capitals to count.

    A coined name has a capital inside it or a digit ("SinSR", "C2D-ISR", "DeblurGAN-v2"); one
    that is also an ordinary word ("GUN", "WiFi": in ``ordinary_words``, a lower-case
    vocabulary) counts only when the question writes it as the title does. Only the name a
    title gives its work before a colon counts ("SinSR: ..."), not a topic word that opens a
    title ("WiFi Assisted ...", "COVID-19 Detection ..."). Titles
    without a coined name ("Image Super-Resolution Using ...") and arXiv numbers name nothing here.
    """
    found: dict[str, bool] = {}
    head, colon, _ = record.title.partition(":")
    own = (
        {head.strip().strip("{}")} if colon else set()
    )  # "SinSR: Diffusion-Based ...", not "WiFi Assisted ..."
    own |= {n.replace("-", "") for n in own if "-" in n}
    for name in own & _written_names(record):
        if not _usable(name) or name[0].isdigit() or not any(ch.isalpha() for ch in name):
            continue
        parts = re.split(r"[-\s]", name)
        if not any(
            _acronym(p) or (any(c.isdigit() for c in p) and any(c.isalpha() for c in p)) for p in parts
        ):
            continue
        ordinary = name.lower() in ordinary_words  # "GUN", "WiFi": written as the title writes them
        found[name.lower()] = found.get(name.lower(), True) and ordinary
    return found


def _pattern(name: str, flags: int = 0) -> re.Pattern[str]:
    return re.compile(rf"(?<![A-Za-z0-9-]){re.escape(name)}(?![A-Za-z0-9-])", flags)


def name_positions(question: str, names: Iterable[str]) -> list[int]:
    """Where in ``question`` (whitespace collapsed, lower-cased) each of ``names`` appears."""
    text = " ".join(question.lower().split())
    return [m.start() for name in names for m in _pattern(name).finditer(text)]


def name_patterns(record: Record, ordinary_words: Collection[str] = ()) -> list[re.Pattern[str]]:
    """What finds ``record``'s coined names (see :func:`coined_names`) in a question whose
    whitespace is collapsed: a name that is also an ordinary word only as the title writes it."""
    patterns = []
    for name, needs_capitals in coined_names(record, ordinary_words).items():
        if needs_capitals:
            written = next((n for n in _written_names(record) if n.lower() == name), name)
            patterns.append(_pattern(written))
        else:
            patterns.append(_pattern(name, re.IGNORECASE))
    return patterns


def names_any(question: str, patterns: Iterable[re.Pattern[str]]) -> bool:
    """Whether one of ``patterns`` (from :func:`name_patterns`) finds a name in ``question``."""
    text = " ".join(question.split())
    return any(pattern.search(text) for pattern in patterns)


def names_record(question: str, record: Record, ordinary_words: Collection[str] = ()) -> bool:
    """Whether ``question`` names ``record`` by one of its coined names (see :func:`coined_names`)."""
    return names_any(question, name_patterns(record, ordinary_words))

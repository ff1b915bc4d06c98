"""What a question asks for: its intent, the person's constraints, and the works it names.

Retrieval ranks records by likeness to the whole question; that is not the same as knowing
which work explains the person's situation. A 10x enlargement needs an arbitrary-scale
method even when an old-photo card shares more words; blocky JPEG damage needs a method
trained on compression; a question naming a paper is about that paper. This module reads
those signals deterministically (no model), so the composer and the prompts can act on them.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal, cast

import snowballstemmer

from zoomqa.agent.understand.sizes import find_present_size, find_scale, parse_size
from zoomqa.agent.understand.vocabulary import vocabulary
from zoomqa.index.names import name_positions, record_names
from zoomqa.index.records import Record

Intent = Literal["compare", "which", "why", "data", "can", "what", "how"]
Damage = Literal["jpeg", "noise", "blur", "scratches", "old_photo"]

# The largest factor the fixed-scale upscalers are trained for (x2, x3, x4 models).
FIXED_SCALE_MAX = 4.0

# The person's conditions, the words for them and the intents' patterns: vocabulary.toml.
_VOCAB = vocabulary()
DAMAGE_KINDS: tuple[Damage, ...] = ("jpeg", "noise", "blur", "scratches", "old_photo")
_DAMAGE = tuple((name, _VOCAB.condition(name)) for name in DAMAGE_KINDS)
_INTENTS = tuple((cast(Intent, name), pattern) for name, pattern in _VOCAB.intents)
_STOPWORDS = _VOCAB.stopwords
_WORD = re.compile(r"[a-z0-9][a-z0-9+-]*")
_PATH = re.compile(r"[^\s\"'`]*\w\.(jpe?g|png|webp|bmp|tiff?|gif|heic)\b")
# "not a fixed 2x model", "instead of 4x": a factor the person rules out.
_NEGATED = re.compile(r"\b(not|no|without|instead of|rather than|other than)\b[\w\s/-]{0,20}$", re.IGNORECASE)
# "better than PSNR", "instead of ESRGAN", "how does it compare with LIIF": a work named as the
# contrast, not as the subject.
_CONTRASTED = re.compile(
    r"\b(than|instead of|other than|besides|apart from|unlike"
    r"|compar(e|es|ed|ing)( it| them| this| that)? (with|to|against))\s+$"
)


@dataclass(frozen=True)
class Constraints:
    """What the person's situation demands of a method."""

    scale: float | None = None
    size: tuple[int | None, int | None] | None = None
    # the wanted size over the present one, where both are given and agree ("64x64 ... want 512x512": 8)
    size_factor: float | None = None
    any_size: bool = False
    damage: frozenset[Damage] = field(default_factory=frozenset)
    fix_requested: bool = False
    enlarging: bool = False  # the person wants (or made) a picture bigger
    real_world: bool = False  # real-world photos, several damages at once, or damage of unknown cause
    unknown_quality: bool = False  # JPEG of an unknown quality, or compressed more than once
    faces: bool = False
    illustration: bool = False
    video: bool = False  # moving pictures, not one still
    cpu_only: bool = False  # no GPU, or a machine that rarely has a strong one (a laptop)
    no_gpu: bool = False  # says outright there is no GPU: a work that needs one cannot be the answer
    fast: bool = False  # speed (or cost) is what the person asks for
    faithful: bool = (
        False  # the detail must be true, not invented (evidence, medicine, "rather than inventing")
    )
    heavy_ok: bool = False  # realism or a GPU is asked for: a slow, GPU-only model is a fair recommendation
    no_training_data: bool = False  # nothing to train on: one odd picture, an unusual camera
    alternative: bool = False  # asks for another work than the one named (it was tried and fell short)

    @property
    def beyond_fixed(self) -> bool:
        """A factor larger than the fixed-scale models are trained for."""
        return self.scale is not None and self.scale > FIXED_SCALE_MAX

    @property
    def non_integer(self) -> bool:
        return self.scale is not None and abs(self.scale - round(self.scale)) > 1e-6

    @property
    def needs_arbitrary_scale(self) -> bool:
        """Only a method that decodes any coordinate meets the request."""
        return self.any_size or self.size is not None or self.beyond_fixed or self.non_integer


@dataclass(frozen=True)
class Analysis:
    """The reading of one question that the composer and the prompts act on."""

    question: str
    intent: Intent
    constraints: Constraints
    words: frozenset[str]
    # Where the question names each work (record id -> (named as a contrast, first position), None
    # when it does not), found once per work: the anchor, the local method and the composer all ask.
    _mentions: dict[str, tuple[bool, int] | None] = field(default_factory=dict, compare=False, repr=False)

    def mention(self, record: Record) -> tuple[bool, int] | None:
        """Whether the question names ``record`` as a contrast ("better than PSNR", or any work
        named by a person who asks for another: "GFPGAN changed his face, anything more
        faithful?"), and where it first names it; None when it does not name it."""
        if record.id not in self._mentions:
            text = " ".join(self.question.lower().split())
            first = min(name_positions(text, record_names(record)), default=None)
            self._mentions[record.id] = (
                None
                if first is None
                else (self.asks_alternative or bool(_CONTRASTED.search(text[:first])), first)
            )
        return self._mentions[record.id]

    @property
    def asks_alternative(self) -> bool:
        """The person asks for another work than the ones they name (not a comparison of them)."""
        return self.constraints.alternative and self.intent != "compare"

    @property
    def preferred_tasks(self) -> tuple[str, ...]:
        """Task-label fragments the explained work should carry, strongest first.

        A person with nothing to train on (one odd picture, an unusual camera) comes first: only
        a method that learns from the picture itself fits; then video, which a method made for
        it enlarges with the detail of the neighbouring frames. Then damage of several kinds (or of
        an unknown cause), because only a blind,
        real-world method was trained on such a mix; then compression damage, because
        enlarging JPEG blocks only enlarges them (of an unknown quality or applied again and
        again, as messaging apps do, by a method trained for every quality at once); then
        speed, when the person asks for it; then an enlargement no fixed-scale model makes;
        then other damage the person asks to repair; then faces and illustrations; then, when
        the detail must be true, the PSNR-oriented methods.
        """
        c = self.constraints
        p = _VOCAB.preferred
        wanted: list[str] = list(p["no_training_data"]) if c.no_training_data else []
        if c.video:
            wanted += p["video"]
        repair = c.fix_requested or self.intent in ("which", "can")
        # Real-world damage, or the data of real-world models: only blind methods synthesise it.
        blind = c.real_world and (repair or bool(c.damage) or self.intent == "data")
        if blind and c.damage != {"jpeg"}:
            wanted += p["blind"]
        if "jpeg" in c.damage:
            wanted += p["jpeg_unknown_quality"] if c.unknown_quality else ()
            wanted += [*p["jpeg"], *(p["blind"][:1] if blind else ()), *p["real_world"]]
        if c.fast:
            wanted += p["fast"]
        if c.needs_arbitrary_scale:
            wanted += p["arbitrary_scale"]
        if repair and ("scratches" in c.damage or "old_photo" in c.damage):
            wanted += p["old_photo"]
        if repair and c.faces:
            wanted += p["faces"]
        if repair and ("noise" in c.damage or "blur" in c.damage):
            wanted += p["noise_blur"]
        if c.illustration:
            wanted += p["illustration"]
        if c.faithful:  # the PSNR-oriented line of work: the most faithful detail, none invented
            wanted += p["faithful"]
        return tuple(dict.fromkeys(wanted))


def speaks_of_enlarging(text: str) -> bool:
    """Whether ``text`` asks for (or describes) a bigger picture: "upscale", "zoom", "4K"..."""
    return bool(_VOCAB.condition("enlarge").search(text.lower()))


def content_words(text: str) -> frozenset[str]:
    """The words of ``text`` that carry its topic (lower-cased, stop words removed)."""
    return frozenset(w for w in _WORD.findall(text.lower()) if w not in _STOPWORDS and len(w) > 1)


# A snowballstemmer stemmer keeps its working word in the object, so threads that share one
# (the Slack bot's workers) corrupt each other's words: each thread gets its own.
_STEMMERS = threading.local()


def _stemmer() -> Any:
    if not hasattr(_STEMMERS, "english"):
        _STEMMERS.english = snowballstemmer.stemmer("english")
    return _STEMMERS.english


@lru_cache(maxsize=4096)  # card sentences recur in every answer that retrieves their card
def content_stems(text: str) -> frozenset[str]:
    """The stems of ``text``'s content words: "improve" in a question meets "improved" in a card."""
    return frozenset(_stemmer().stemWords(sorted(content_words(text))))


def _stated(pattern: re.Pattern[str], text: str) -> bool:
    """Whether ``text`` says the pattern holds: "without it going blocky" does not."""
    return any(not _NEGATED.search(text[: m.start()]) for m in pattern.finditer(text))


def _intent(text: str) -> Intent:
    for intent, pattern in _INTENTS:
        if pattern.search(text):
            return intent
    return "how"


# A factor written as "10x", "x30", "16 ×", "2.5 times": beyond the fixed models when above
# FIXED_SCALE_MAX, out of their reach too when not a whole number.
_FACTOR = re.compile(
    r"(?<![\w.])(?:(\d+(?:\.\d+)?)\s?[x×](?![\w.]|\s*\d)|[x×]\s?(\d+(?:\.\d+)?)(?![\w.]|\s*[x×]\s*\d)|"
    r"(\d+(?:\.\d+)?)[\s-]?times\b)"
)
_NON_INTEGER_WORDS = _VOCAB.question_patterns["non_integer_factor"]


def _factors(text: str) -> list[float]:
    return [float(next(g for g in groups if g)) for groups in _FACTOR.findall(text)]


def situation_terms(text: str) -> frozenset[str]:
    """The kinds of picture, damage and demand a text speaks of ("faces", "jpeg", "illustration", "video",
    "text" for writing in the picture, "cpu_only", "fast", "large_scale" and "non_integer" for factors the fixed models do not
    make): a point about the person's own kind of picture or zoom answers them better."""
    lowered = text.lower()
    terms: set[str] = {name for name, pattern in _DAMAGE if pattern.search(lowered)}
    factors = _factors(lowered)
    if any(f > FIXED_SCALE_MAX for f in factors):
        terms.add("large_scale")
    if _NON_INTEGER_WORDS.search(lowered) or any(f != round(f) for f in factors):
        terms.add("non_integer")
    for name in ("faces", "illustration", "video", "text", "cpu_only", "fast"):
        if _VOCAB.condition(name).search(lowered):
            terms.add(name)
    return frozenset(terms)


def _size_factor(size: tuple[int | None, int | None] | None, present: tuple[int, int] | None) -> float | None:
    """How many times larger the wanted size is than the present one, when every side given agrees."""
    if size is None or present is None:
        return None
    ratios = {round(wanted / now, 3) for wanted, now in zip(size, present, strict=True) if wanted}
    return ratios.pop() if len(ratios) == 1 else None


@lru_cache(maxsize=256)
def analyse(question: str) -> Analysis:
    """Intent and constraints of ``question`` (deterministic: the same text, the same reading,
    so it is read once per turn however many parts of the turn ask).

    File paths are read past: "wedding.jpg" names a file, it does not complain of JPEG damage.
    """
    text = " ".join(_PATH.sub(" ", question.lower()).split())
    damage = frozenset(name for name, pattern in _DAMAGE if _stated(pattern, text))
    several = len(damage - {"old_photo"}) >= 2
    found = find_scale(question)
    no_gpu = bool(_VOCAB.condition("no_gpu").search(text))
    scale = None if found is None or _NEGATED.search(question[: found[1][0]]) else found[0]
    size = parse_size(question)
    constraints = Constraints(
        scale=scale,
        size=size,
        size_factor=_size_factor(size, find_present_size(question)),
        any_size=bool(_VOCAB.condition("any_size").search(text)),
        damage=damage,
        fix_requested=bool(_VOCAB.condition("fix").search(text)),
        enlarging=scale is not None or bool(_VOCAB.condition("enlarge").search(text)),
        real_world=several or bool(_VOCAB.condition("real_world").search(text)),
        unknown_quality=bool(_VOCAB.condition("unknown_quality").search(text)),
        faces=bool(_VOCAB.condition("faces").search(text)),
        illustration=bool(_VOCAB.condition("illustration").search(text)),
        video=bool(_VOCAB.condition("video").search(text)),
        cpu_only=no_gpu or bool(_VOCAB.condition("cpu_only").search(text)),
        no_gpu=no_gpu,
        fast=_stated(_VOCAB.condition("fast"), text),
        faithful=bool(_VOCAB.condition("faithful").search(text)),
        heavy_ok=_stated(_VOCAB.condition("heavy_ok"), text),
        no_training_data=bool(_VOCAB.condition("no_training_data").search(text)),
        alternative=bool(_VOCAB.condition("alternative").search(text)),
    )
    return Analysis(question, _intent(text), constraints, frozenset(_WORD.findall(text)))


def named_in(analysis: Analysis, records: tuple[Record, ...], *, contrasts: bool = True) -> list[int]:
    """1-based numbers of the records the question names, in the order it names them; works
    named only as a contrast ("a score better than PSNR") come last, or not at all without
    ``contrasts``."""
    found: list[tuple[bool, int, int]] = []
    for number, record in enumerate(records, start=1):
        mention = analysis.mention(record)
        if mention is not None and (contrasts or not mention[0]):
            found.append((*mention, number))
    return [number for *_, number in sorted(found)]

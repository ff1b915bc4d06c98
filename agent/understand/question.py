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
from typing import Any, Literal

import snowballstemmer

from zoomqa.agent.understand.sizes import find_scale, parse_size
from zoomqa.index.names import name_positions, record_names
from zoomqa.index.records import Record

Intent = Literal["compare", "which", "why", "data", "can", "what", "how"]
Damage = Literal["jpeg", "noise", "blur", "scratches", "old_photo"]

# The largest factor the fixed-scale upscalers are trained for (x2, x3, x4 models).
FIXED_SCALE_MAX = 4.0

# What a person calls the thing they want to run.
_TOOL = (
    r"(tool|model|method|one|upscaler|program|software|network|app|option|restorer|enhancer|denoiser|"
    r"algorithm|approach|solution|library|way|ai)"
)
# Intent patterns, tried in this order: a comparison or a request for a tool is what the
# person needs even when the sentence also starts with "why" or "how".
_INTENTS: tuple[tuple[Intent, re.Pattern[str]], ...] = (
    (
        "compare",
        re.compile(
            r"^[\w.+-]+ or [\w.+-]+(\s+(for|to|on|with|in)\b|\s*\?)|"  # "GFPGAN or CodeFormer for a tiny face?"
            r"\b(vs\.?|versus|compared? (to|with)|comparison|difference between|differs?\b|different (from|to|than)|better than|"
            r"(pick|choose|decide) between [\w.+-]+ (and|or) |"
            r"which is (better|faster|sharper|best)|what('s| is) (better|faster|sharper)|which (one )?(is|gives|looks) (better|faster|sharper)|"
            r", [\w.+-]+ or [\w.+-]+\s*\?$)",  # "what's good for anime, waifu2x or Real-ESRGAN?"
        ),
    ),
    (
        "which",
        re.compile(
            rf"\b(which {_TOOL}|what {_TOOL}s?\b|"
            r"what (should|can|could|would|do) (i|you|we|people) (use|run|pick|choose|try|recommend|suggest)|"
            r"recommend|suggest(ion)?s?\b|"
            rf"(best|good|decent|free|top|fastest|simplest|easiest) ((free|open[- ]source|local|offline|ai) )?{_TOOL}|"
            rf"is there (a|an|any) (\w+ )?(?!way\b){_TOOL}s?\b|(anything|something) (that|which) (can|could|will)|"
            rf"(looking for|need|want|searching for|after) (a |an |some |any )?(\w+ )?({_TOOL}|something|anything)|"
            rf"(help me |how (do|should|can) i )?(pick|choose|find) (a|an|the right|the best) |what works best|"
            r"what (can|could|will|would) (fix|remove|restore|repair|clean|sharpen|upscale|enlarge|handle)|"
            r"what options|"
            r"(how|what) (can|do|should) i (use )?(to )?(fix|remove|restore|repair|clean|get rid|reduce|"
            r"upscale|enlarge|sharpen|improve|make))",
        ),
    ),
    (
        "why",
        re.compile(
            r"^(why|how come)\b|\bwhy (does|do|did|is|are|was|would|can)\b|"
            r"\bwhy( is that| is this)?\W*$|\b(any idea|wondering|not sure|no idea) why\b|"  # "... look waxy, why?"
            r"\bwhat('s| is)? (causes?|caused|causing)\b|\bwhat('s| is) (behind|the reason)\b"
        ),
    ),
    (
        "data",
        re.compile(
            r"\b(data ?sets?|training data|trained on|train(ed|ing)? (it|them|with)|what data|"
            r"(lr|hr|low.res(olution)?|high.res(olution)?)[ /-]*(hr|pairs?)|how (was|is|were|are) .* trained|"
            r"training (pairs|images|set|recipe))\b",
        ),
    ),
    (
        "can",
        re.compile(
            r"^(can|could|is it possible|does it|will it|would it)\b|\b(can|could) (i|it|you|we)\b|"
            r"^(does|do|will|would) [\w -]{1,40}\bwork\b"  # "does super-resolution work on text?"
        ),
    ),
    ("what", re.compile(r"^(what('s| is| are| does| do)|explain|define|tell me about|who)\b|\bwhat is\b")),
)

_ANY_SIZE = re.compile(
    r"\b(any[ -](size|scale|zoom|factor|resolution|magnification|output size)|arbitrary|whatever size|"
    r"non-?integer|"
    r"exact(ly)? (size|\d+)|continuous (scale|zoom))\b"
)
_DAMAGE: tuple[tuple[Damage, re.Pattern[str]], ...] = (
    (
        "jpeg",
        re.compile(
            # "artifacts" alone, not the checkerboard, GAN or tiling artifacts of upscalers
            r"\b(jpe?g|compress(ed|ion)?|block(s|y|iness)|deblock\w*|(?<!checkerboard )(?<!gan )(?<!tiling )(?<!seam )"
            r"(artifacts?|artefacts?)|whatsapp|"
            r"messenger|group chat|low[- ]quality save|8x8|(little|tiny|ugly|visible) squares|squares all over)\b"
        ),
    ),
    ("noise", re.compile(r"\b(nois(e|y)|grain(y)?|denois\w*|speckles?)\b")),
    (
        "blur",
        re.compile(
            r"\b(blur(red|ry)?|out[- ]of[- ]focus|unfocused|defocus\w*|motion blur|deblur\w*|soft focus)\b"
        ),
    ),
    ("scratches", re.compile(r"\b(scratch(es|ed)?|tears?|torn|creases?|creased|dust|cracks?)\b")),
    (
        "old_photo",
        re.compile(
            r"\b(old (family )?(photo|picture|print|snapshot)s?|vintage|grand(ma|pa|mother|father|parents?)|"
            r"faded|scanned (photo|print)s?|antique)\b"
        ),
    ),
)
# Damage of many kinds at once, or of a kind the person cannot name: a blind, real-world method.
_REAL_WORLD = re.compile(
    r"\b(real[- ]world|real (life )?(photos?|pictures?|images?)|(phone|camera|everyday|my own|actual) "
    r"(photos?|pictures?|snaps?|shots?|images?)|in the wild|unknown (damage|degradation|cause|quality|blur|noise)|"
    r"(don'?t|do not|no idea|not sure) (know )?(what|how|which|why) (happened|quality|caused|it was|kind))\b"
)
# JPEG saved at a quality nobody knows, or saved again and again (messaging apps, reposts):
# one network for every quality factor, not one trained per factor.
_UNKNOWN_QUALITY = re.compile(
    r"\b(whatsapp|messenger|telegram|group chat|social media|instagram|facebook|re-?(saved|posted|shared|uploaded)|"
    r"forwarded|(compressed|saved) (twice|again|over and over|many times|several times|more than once)|"
    r"(what|which|unknown|any) (jpe?g )?quality|double[- ]jpe?g|double compression)\b"
)
_ENLARGE = re.compile(
    r"\b(bigger|larger|enlarg\w*|up-?scal\w*|up-?sampl\w*|blow(n|ing)? (it |this |that )?up|blew (it |this |that )?up|"
    r"zoom\w*|magnif\w*|super[- ]?resol\w*|increase the (size|resolution)|higher resolution|"
    r"big (canvas|print|poster|screen)|canvas|posters?|billboards?|print(ed|ing)? (it )?(big|large))\b"
)
_FACES = re.compile(
    r"\b(faces?|facial|portraits?|selfies?|headshots?|passport (photo|picture)s?|id photos?|mugshots?)\b"
)
# What only a heavy generative model gives, or a GPU to run one: then a slow, GPU-only work is
# no worse a recommendation than a light one.
_HEAVY_OK = re.compile(
    r"\b(diffusion|stable diffusion|(photo-?)?realistic|generative|most detail|(best|highest) (possible )?quality|"
    r"(my|a|an|the|with|have|got) (big |strong |good |powerful )?(gpu|graphics card|nvidia|rtx \d+)|cloud|colab)\b"
)
# Detail that must be true, not plausible: the person rules out invented detail, or the use needs fidelity.
_FAITHFUL = re.compile(
    r"\b(faithful\w*|fidelity|true to (the )?(original|real)|(original|real|true) detail|accura(te|cy)|"
    r"(not|no|without|rather than|instead of|never) (invent\w*|hallucinat\w*|mak\w+ (things|stuff|details?) up)|"
    r"forensic\w*|evidence|medical|scientific|satellite|licen[cs]e plates?|number plates?)\b"
)
# Writing in the picture: upscalers redraw letters as texture, so a point about text answers it.
_TEXT = re.compile(
    r"\b(text|letters?|lettering|handwriting|documents?|signs?|licen[cs]e plates?|number plates?|subtitles?|captions?)\b"
)
_ILLUSTRATION = re.compile(r"\b(anime|cartoons?|illustrations?|drawings?|manga|comics?|line art|artwork)\b")
# Speed or cost as the requirement; "speed doesn't matter" is left out on purpose.
_FAST = re.compile(
    r"\b(fast(est|er)?|quick(est|er|ly)?|real[- ]?time|lightweight|low[- ]latency|(too|so|very) slow|"
    r"takes (forever|ages|hours)|cheap(er|est)? (way|to run|method))\b"
)
_CPU_ONLY = re.compile(
    r"\b(cpu|(no|without( a| any)?) (gpu|graphics card|video card|nvidia|cuda)|laptop|integrated graphics|macbook)\b"
)
# Asking to repair damage, as opposed to mentioning it as part of the story.
_FIX = re.compile(
    r"\b(fix\w*|remov\w*|restor\w*|repair\w*|clean\w*|get rid|reduc\w*|undo|deblock\w*|denois\w*|"
    r"deblur\w*|recover\w*|sav(e|ing)|rescu\w*|bring(ing)? back)\b"
)
# Words that carry no topic: left out when measuring how many of a question's words a sentence shares.
_STOPWORDS = frozenset(
    """a an and are as at be been but by can could did do does doing for from get got had has have how i
    if in into is it its it's just me my of on or our so some such than that the their them then there
    these they this to too up us was we were what when where which who why will with would you your
    about any also very much more most make made makes use used using one ones image images picture
    pictures photo photos times""".split()
)
_WORD = re.compile(r"[a-z0-9][a-z0-9+-]*")
_PATH = re.compile(r"[^\s\"'`]*\w\.(jpe?g|png|webp|bmp|tiff?|gif|heic)\b")
# "not a fixed 2x model", "instead of 4x": a factor the person rules out.
_NEGATED = re.compile(r"\b(not|no|without|instead of|rather than|other than)\b[\w\s/-]{0,20}$", re.IGNORECASE)
# "better than PSNR", "instead of ESRGAN": a work named as the contrast, not as the subject.
_CONTRASTED = re.compile(r"\b(than|instead of|other than|besides|apart from|unlike)\s+$")


@dataclass(frozen=True)
class Constraints:
    """What the person's situation demands of a method."""

    scale: float | None = None
    size: tuple[int | None, int | None] | None = None
    any_size: bool = False
    damage: frozenset[Damage] = field(default_factory=frozenset)
    fix_requested: bool = False
    enlarging: bool = False  # the person wants (or made) a picture bigger
    real_world: bool = False  # real-world photos, several damages at once, or damage of unknown cause
    unknown_quality: bool = False  # JPEG of an unknown quality, or compressed more than once
    faces: bool = False
    illustration: bool = False
    cpu_only: bool = False
    fast: bool = False  # speed (or cost) is what the person asks for
    faithful: bool = (
        False  # the detail must be true, not invented (evidence, medicine, "rather than inventing")
    )
    heavy_ok: bool = False  # realism or a GPU is asked for: a slow, GPU-only model is a fair recommendation

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
        """Whether the question names ``record`` as a contrast ("better than PSNR"), and where it
        first names it; None when it does not name it."""
        if record.id not in self._mentions:
            text = " ".join(self.question.lower().split())
            first = min(name_positions(text, record_names(record)), default=None)
            self._mentions[record.id] = (
                None if first is None else (bool(_CONTRASTED.search(text[:first])), first)
            )
        return self._mentions[record.id]

    @property
    def preferred_tasks(self) -> tuple[str, ...]:
        """Task-label fragments the explained work should carry, strongest first.

        Damage of several kinds (or of an unknown cause) comes first, because only a blind,
        real-world method was trained on such a mix; then compression damage, because
        enlarging JPEG blocks only enlarges them (of an unknown quality or applied again and
        again, as messaging apps do, by a method trained for every quality at once); then
        speed, when the person asks for it; then an enlargement no fixed-scale model makes;
        then other damage the person asks to repair; then faces and illustrations; then, when
        the detail must be true, the PSNR-oriented methods.
        """
        c = self.constraints
        wanted: list[str] = []
        repair = c.fix_requested or self.intent in ("which", "can")
        # Real-world damage, or the data of real-world models: only blind methods synthesise it.
        blind = c.real_world and (repair or bool(c.damage) or self.intent == "data")
        if blind and c.damage != {"jpeg"}:
            wanted += ["blind", "real-world"]
        if "jpeg" in c.damage:
            wanted += ["double jpeg", "quality factor"] if c.unknown_quality else []
            wanted += ["jpeg", "compression", *(["blind"] if blind else []), "real-world"]
        if c.fast:
            wanted += ["real-time", "efficient"]
        if c.needs_arbitrary_scale:
            wanted.append("arbitrary-scale")
        if repair and ("scratches" in c.damage or "old_photo" in c.damage):
            wanted += ["old photo", "scratch"]
        if repair and c.faces:
            wanted.append("face restoration")
        if repair and ("noise" in c.damage or "blur" in c.damage):
            wanted += ["blind", "real-world", "denois", "deblur"]
        if c.illustration:
            wanted.append("anime")
        if c.faithful:  # the PSNR-oriented line of work: the most faithful detail, none invented
            wanted.append("single-image super-resolution")
        return tuple(dict.fromkeys(wanted))


def speaks_of_enlarging(text: str) -> bool:
    """Whether ``text`` asks for (or describes) a bigger picture: "upscale", "zoom", "4K"..."""
    return bool(_ENLARGE.search(text.lower()))


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
_NON_INTEGER_WORDS = re.compile(r"\bnon-?integer|fractional (factor|scale)")


def _factors(text: str) -> list[float]:
    return [float(next(g for g in groups if g)) for groups in _FACTOR.findall(text)]


def situation_terms(text: str) -> frozenset[str]:
    """The kinds of picture, damage and demand a text speaks of ("faces", "jpeg", "illustration",
    "text" for writing in the picture, "cpu_only", "fast", "large_scale" and "non_integer" for factors the fixed models do not
    make): a point about the person's own kind of picture or zoom answers them better."""
    lowered = text.lower()
    terms: set[str] = {name for name, pattern in _DAMAGE if pattern.search(lowered)}
    factors = _factors(lowered)
    if any(f > FIXED_SCALE_MAX for f in factors):
        terms.add("large_scale")
    if _NON_INTEGER_WORDS.search(lowered) or any(f != round(f) for f in factors):
        terms.add("non_integer")
    named_patterns = (
        ("faces", _FACES), ("illustration", _ILLUSTRATION), ("text", _TEXT), ("cpu_only", _CPU_ONLY), ("fast", _FAST),
    )  # fmt: skip
    for name, pattern in named_patterns:
        if pattern.search(lowered):
            terms.add(name)
    return frozenset(terms)


def analyse(question: str) -> Analysis:
    """Intent and constraints of ``question`` (deterministic: the same text, the same reading).

    File paths are read past: "wedding.jpg" names a file, it does not complain of JPEG damage.
    """
    text = " ".join(_PATH.sub(" ", question.lower()).split())
    damage = frozenset(name for name, pattern in _DAMAGE if _stated(pattern, text))
    several = len(damage - {"old_photo"}) >= 2
    found = find_scale(question)
    scale = None if found is None or _NEGATED.search(question[: found[1][0]]) else found[0]
    constraints = Constraints(
        scale=scale,
        size=parse_size(question),
        any_size=bool(_ANY_SIZE.search(text)),
        damage=damage,
        fix_requested=bool(_FIX.search(text)),
        enlarging=scale is not None or bool(_ENLARGE.search(text)),
        real_world=several or bool(_REAL_WORLD.search(text)),
        unknown_quality=bool(_UNKNOWN_QUALITY.search(text)),
        faces=bool(_FACES.search(text)),
        illustration=bool(_ILLUSTRATION.search(text)),
        cpu_only=bool(_CPU_ONLY.search(text)),
        fast=_stated(_FAST, text),
        faithful=bool(_FAITHFUL.search(text)),
        heavy_ok=_stated(_HEAVY_OK, text),
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

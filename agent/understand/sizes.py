"""Scales and pixel sizes as people write them: "3x", "x2.5", "twice as big", "1920x1080", "1080 px tall".

One parser for the whole agent: the question analysis reads the scale a person asks about
("why does 10x stay crisp?"), the request parser reads the size an image should become.
Both functions only read the text; whether a value is allowed is the upscaler's decision.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import NamedTuple

from text_to_num import alpha2digit

_NUMBER = r"(\d+(?:\.\d+)?)"
_WORDS = {
    "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
    "ten": 10, "eleven": 11, "twelve": 12, "sixteen": 16, "twenty": 20, "thirty": 30,
}  # fmt: skip
# "two and a half times", "three and a quarter times": a number word and a part of one.
_PARTS = {"a half": 0.5, "a quarter": 0.25, "three quarters": 0.75}
_WORD = rf"(?:one|{'|'.join(_WORDS)})\s+and\s+(?:{'|'.join(_PARTS)})|{'|'.join(_WORDS)}"
_AND_A_PART = re.compile(rf"^(\w+)\s+and\s+({'|'.join(_PARTS)})$")
_MULTIPLIERS = {
    "twice": 2,
    "double": 2,
    "doubled": 2,
    "triple": 3,
    "tripled": 3,
    "quadruple": 4,
    "quadrupled": 4,
}
_MULTIPLIER = "|".join(_MULTIPLIERS)
# The largest bare number read as a scale in "enlarge by 4"; "1920 by 1080" is a size.
_BARE_SCALE_LIMIT = 64
# Sides below this are kernel sizes ("a 3x3 convolution"), not image sizes.
MIN_SIDE = 8
# "10x15 cm", "8x10 in prints", '8x10"': a print's size, not the picture's in pixels.
_PHYSICAL_UNIT = re.compile(
    r"""^\s*(?:cm|mm|inch(?:es)?\b|in\.|in\b(?=\s*(?:prints?|photos?|frames?|posters?|canvas|[.,;!?)]|$))|["″]|ft\b|feet\b)""",
    re.IGNORECASE,
)
# "8x8 blocks", "16x16 patches", "8x8 windows": parts of a picture, not its size.
_PART_OF_PICTURE = re.compile(
    r"^[\s-]*(?:pixels?[\s-]+)?(?:blocks?|squares?|grids?|patch(?:es)?|tiles?|kernels?|windows?|cells?|filters?)\b",
    re.IGNORECASE,
)

# Each pattern's first group is the factor (a number or a word); the order is the order tried.
_SCALE_PATTERNS: tuple[re.Pattern[str], ...] = tuple(
    re.compile(p, re.IGNORECASE)
    for p in (
        # 3x, 2.5 x, 4×, 3X bigger -- but not the 3 of "3x3" or "1920x1080"
        rf"(?<![\w.]){_NUMBER}\s?[x×](?!\w|\.\w|\s*\d)",
        # x2.5, ×4, x 3 -- but not the x of "1920x1080"
        rf"(?<![\w.])(?<!\d\s)[x×]\s?{_NUMBER}(?!\w|\.\w|\s*[x×]\s*\d)",
        # 10 times, ten times, 3-fold, threefold
        rf"(?<![\w.])({_NUMBER[1:-1]}|{_WORD})[\s-]?(?:times\b|fold\b)",
        # twice as big, double the size, quadruple it
        rf"\b({_MULTIPLIER})\b",
        # times ten, times 4
        rf"\btimes\s+({_NUMBER[1:-1]}|{_WORD})\b(?!\.\d)",
        # scale 3, scale of 3, scale factor 2.5, factor of 4, by a factor 4
        rf"\b(?:scale(?:\s+factor)?|factor)\s*(?:of|=|:)?\s*({_NUMBER[1:-1]}|{_WORD})(?!\d|\.\d|\s*[x×%]|\s*(?:px|pixels)\b)",
        # 50% bigger, 20 % larger, add 50%: the picture plus that share of it (1.5, 1.2)
        rf"(?<![\w.]){_NUMBER}\s?%\s+(?:bigger|larger)\b",
        rf"\badd\s+{_NUMBER}\s?%",
        rf"\b(?:bigger|larger)\s+by\s+{_NUMBER}\s?%",  # bigger by 50%: also 1.5
        # by 300%, to 250 %, at 400%, scale it up 350%, 175% of its size
        rf"\b(?:by|to|at|up)\s+{_NUMBER}\s?%",
        rf"(?<![\w.]){_NUMBER}\s?%\s+of\s+(?:its|the|their)\b",
        # upscale it 300%: a bare share above 100% is the size to reach (not "100% sure", "90% quality")
        r"(?<![\w.])(?!100(?![\d.]))([1-9]\d{2,3}(?:\.\d+)?)\s?%"
        r"(?!\s*(?:quality|zoom|crop|opacity|brightness|contrast|sure|certain|done|off)\b)",
        # enlarge by 4 (not "1920 by 1080")
        rf"(?<!\d)(?<!\d\s)\bby\s+({_NUMBER[1:-1]}|{_WORD})(?!\d|\.\d|\s*[x×%]|\s*(?:px|pixels|wide|tall|high)\b)",
    )
)

_PX = r"(?:\s*(?:-\s*)?(?:px|pixels?|pixel)\b)?"
# "width 3000 height 2000": a side named before its number is tried first, so the 3000 of
# "width 3000" is not also read as "3000 height".
_SIDE_IS = r"\s*(?:of|=|:|to|is|becomes|will\s+be|should\s+be)?\s*(\d{2,5})(?=\s*(?:px|pixels?)?\b)"
_WIDTH_PATTERNS = tuple(
    re.compile(p, re.IGNORECASE)
    for p in (
        rf"\bwidth{_SIDE_IS}",
        r"\bw\s*[=:]\s*(\d{2,5})\b",  # w=1600
        r"\b(\d{3,5})w\b",  # 1600w, as image sizes are listed for the web
        rf"\b(\d{{2,5}}){_PX}[\s-]*(?:wide|across|(?:in|of)\s+width|width)\b",
        r"\b(4k|8k|uhd)\b",
    )
)
_HEIGHT_PATTERNS = tuple(
    re.compile(p, re.IGNORECASE)
    for p in (
        rf"\bheight{_SIDE_IS}",
        r"\bh\s*[=:]\s*(\d{2,5})\b",  # h: 900
        rf"\b(\d{{2,5}}){_PX}[\s-]*(?:tall|high|(?:in|of)\s+height|height)\b",
        r"\b(\d{3,4})p\b",  # 1080p, 720p
        r"\b(full[- ]?hd|fhd)\b",
    )
)
# "the long side 3000", "longest edge of 2000 px", "1500 on the long edge", "make it 1200px": the
# longer side, whichever it is (a bare pixel count with no side named is how photo exports and
# print shops give it).
_LONG_SIDE_PATTERNS = tuple(
    re.compile(p, re.IGNORECASE)
    for p in (
        rf"\blong(?:er|est)?\s+(?:side|edge)\b[^\d.?!]{{0,25}}?(\d{{2,5}}){_PX}(?![\w.]|\s*[x×])",
        rf"(?<![\w.])(\d{{2,5}}){_PX}\s+(?:on|along|for|at|as)\s+the\s+long(?:er|est)?\s+(?:side|edge)\b",
        r"(?<![\w.])(\d{2,5})\s*(?:px|pixels)\b(?!\s*(?:[x×]|by|wide|across|tall|high|in\b|of\b|width|height))"
        r"(?!\s+(?:images?|photos?|pictures?|pics?|thumbnails?|icons?|ones?|versions?)\b)",
    )
)
# Screen and video resolutions by name; 4K is 3840 wide whatever the picture's shape.
_NAMED_SIDES = {"4k": 3840, "uhd": 3840, "8k": 7680, "fullhd": 1080, "fhd": 1080}
# Two sides given by two resolution names ("our 480p videos ... on the 4k tv", "1080p to 4K")
# are two sizes, not one: the later is the one wanted.
_RESOLUTION_NAMES = r"(?:4k|8k|uhd|full[- ]?hd|fhd|\d{3,4}p)"
_RESOLUTION_NAME = re.compile(rf"{_RESOLUTION_NAMES}\b", re.IGNORECASE)
_PAIR = re.compile(
    r"(?<![\w.])(\d{1,5})\s*(?:[x×*]|by)\s*(\d{1,5})(?!\.\d)(?:(?=px\b|pixels?\b)|(?!\w))",  # 2400×1600px
    re.IGNORECASE,
)
# ... of which these leave no doubt that the size is the one wanted ("at" may describe the picture).
# "make it", "make the image" (a named picture reads as IMAGE where sizes are looked for).
_MAKE_IT = r"make\s+(?:it|them|this|that|(?:the\s+|my\s+)?(?:image|picture|photo|pic))"
# A size named and then spelt out in brackets is one wish: "to 4K (3840x2160)".
_NAMED_THEN = rf"(?:\s*{_RESOLUTION_NAMES}\s*\()?"
# "to a width of 1600 pixels": an article may stand between the word and the size.
_STATED = re.compile(
    rf"(?:\b(?:to|into|exact|exactly|{_MAKE_IT})(?:\s+(?:a|an|the))?{_NAMED_THEN}|->|→|=>"
    r"|\btarget(?:\s+(?:size|resolution))?\s*[:=])\s*$",  # "- target: 1080p"
    re.IGNORECASE,
)
_TARGET_WORD = re.compile(
    rf"(?:\b(?:to|into|at|as|of|exact|exactly|need|want|get|{_MAKE_IT}){_NAMED_THEN}|->|→|=>)\s*$",
    re.IGNORECASE,
)
# "from a small 320x240 one", "my 320x240 photo", "it is only 320x240", "the plate is 12 pixels
# wide": the size the picture has, not the one wanted.
_SOURCE_WORD = re.compile(
    r"(?:\bfrom\s+(?:(?:a|an|the|my|this|small|tiny|little)\s+)*"
    r"|\b(?:my|this|our|is|was|are|it'?s|currently|only|just|got|have|has|had)\s+(?:(?:only|just|about|around|a|an)\s+)*)$",
    re.IGNORECASE,
)


_FROM = re.compile(r"\bfrom\s*$", re.IGNORECASE)
# "width 800", "height: 1200px": a side given as a setting is the one wanted ("its height is
# 1200" describes the picture).
_SIDE_SETTING = re.compile(r"(?:width|height)\s*[:=]?\s*\d", re.IGNORECASE)


# "so it's 3000 pixels wide", "until it is 4K": the size wanted, though "is" comes before it.
_TARGET_CLAUSE = re.compile(
    r"\b(?:so|until|till|such\s+that)\s+(?:that\s+)?(?:it|the\s+\w+)\s*(?:is|'s|becomes|gets|will\s+be)\s+"
    r"(?:(?:about|around|a|an)\s+)*$"
    r"|\b(?:so|until|till)\s+(?:that\s+)?(?:its|the\s+\w+'s)\s*$",  # "so its width becomes 2000"
    re.IGNORECASE,
)


_MORE = re.compile(r"(?:bigger|larger)$|^(?:add|bigger|larger)\b", re.IGNORECASE)


# "1 920", "1,920", "1 920" (a thin space): thousands written in groups.
_GROUPED_THOUSANDS = re.compile(r"(?<![\d.,])(\d{1,2})[ ,\u2009\u202f](\d{3})(?!\d|[.,]\d)")
_PERCENT_WORD = re.compile(r"(?<=\d)\s*(?:percent|per\s+cent)\b", re.IGNORECASE)


# "a square of 2000px", "2000 px square": both sides
_SQUARE = re.compile(
    r"\bsquare\s+(?:of\s+)?(\d{2,5})(?=\s*(?:px|pixels?)?\b)|\b(\d{2,5})\s*(?:px|pixels?)?\s+square\b",
    re.IGNORECASE,
)
# Numbers in words up to this stay words: the factor patterns read "three times", and "one" is
# also a pronoun ("the 4x one"); larger ones ("twenty four hundred pixels wide") become digits.
NUMBER_WORDS_KEPT = 20
_TENS = "twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety"
_TWO_DIGITS = (
    rf"(?:ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|nineteen"
    rf"|(?:{_TENS})(?:[ -](?:one|two|three|four|five|six|seven|eight|nine))?)"
)
# "nineteen twenty by ten eighty": a number said as two two-digit halves, as sizes are read out
_PAIRED_WORDS = re.compile(rf"\b({_TWO_DIGITS}) ({_TWO_DIGITS})\b", re.IGNORECASE)


def _digits(words: str) -> str:
    return alpha2digit(words, "en", threshold=0)


def normalise_numbers(text: str) -> str:
    """The text with numbers in words above NUMBER_WORDS_KEPT, decimals ("one point five") and
    numbers said in halves ("nineteen twenty") in digits; numbers written in groups of thousands
    ("1 920 × 1 080 px") as one number; "300 percent" as "300%"; "a square of 2000px" as
    "2000x2000"."""
    text = _PAIRED_WORDS.sub(lambda m: _digits(m[1]) + _digits(m[2]).zfill(2), text)
    text = alpha2digit(text, "en", threshold=NUMBER_WORDS_KEPT)
    text = _PERCENT_WORD.sub("%", _GROUPED_THOUSANDS.sub(r"\1\2", text))
    return _SQUARE.sub(lambda m: "{0}x{0}".format(m[1] or m[2]), text)


def _is_present_size(before: str) -> bool:
    """Whether a size written after ``before`` is the picture's present size, not the one wanted."""
    return bool(_SOURCE_WORD.search(before)) and not _TARGET_CLAUSE.search(before)


def _factor(token: str) -> float:
    token = " ".join(token.lower().split())
    parts = _AND_A_PART.match(token)
    if parts:
        return float(_WORDS.get(parts[1], 1)) + _PARTS[parts[2]]
    return float(_WORDS.get(token) or _MULTIPLIERS.get(token) or token)


def _scales(text: str) -> Iterator[tuple[float, tuple[int, int]]]:
    """Every factor the text names, pattern by pattern (the order they are tried in)."""
    for pattern in _SCALE_PATTERNS:
        for match in pattern.finditer(text):
            if _FROM.search(text[: match.start()]):  # "from 1x to 6x": where it starts
                continue
            value = _factor(match.group(1))
            if "%" in match.group(0):
                value = value / 100 + (1 if _MORE.search(match.group(0)) else 0)
            elif match.group(0).lower().startswith("by") and value > _BARE_SCALE_LIMIT:
                continue
            yield value, match.span()


def find_scale(text: str) -> tuple[float, tuple[int, int]] | None:
    """The enlargement factor a text names and where it is written (start, end), or None.

    "3x", "x2.5", "10 times", "two and a half times", "threefold", "twice as big", "scale of 4",
    "by 300%" (3.0), "50% bigger", "bigger by 50%" and "add 50%" (1.5), "enlarge by 4". Sizes such as "1920x1080"
    or "3x3" are not scales. A factor no enlargement
    has ("0x", "0.5x", "1x") is read as written, so that the upscaler refuses it (the scale must
    be greater than 1) instead of a request falling back to its default amount.
    """
    return next(_scales(text), None)


def all_scales(text: str) -> list[tuple[float, tuple[int, int]]]:
    """Every factor the text names, in the order written; of two that overlap, the one
    :func:`find_scale` would read."""
    found: list[tuple[float, tuple[int, int]]] = []
    for value, (start, end) in _scales(text):
        if not any(start < e and s < end for _, (s, e) in found):
            found.append((value, (start, end)))
    return sorted(found, key=lambda item: item[1][0])


def parse_scale(text: str) -> float | None:
    """The enlargement factor a text names ("3x", "twice as big", "by 300%"...), or None."""
    found = find_scale(text)
    return found[0] if found else None


def _sides(patterns: tuple[re.Pattern[str], ...], text: str) -> Iterator[tuple[int, int]]:
    """Every side the patterns find that is not the picture's present size ("from 1080p"), and
    where it is written, pattern by pattern."""
    for pattern in patterns:
        for match in pattern.finditer(text):
            if _is_present_size(text[: match.start()]):
                continue
            side = match.group(1).lower()
            value = int(side) if side.isdigit() else _NAMED_SIDES[re.sub(r"[\s-]", "", side)]
            yield value, match.start()


def _first(patterns: tuple[re.Pattern[str], ...], text: str) -> tuple[int, int] | None:
    """The first side a pattern finds that is not the picture's present size, and where."""
    return next(_sides(patterns, text), None)


def _wanted_side(patterns: tuple[re.Pattern[str], ...], text: str) -> tuple[int, int] | None:
    """Of several sides, the last one stated as the wish ("it's like 400px across ... make it
    3000 pixels wide"), else the first."""
    found = list(_sides(patterns, text))
    stated = [side for side in found if _STATED.search(text[: side[1]])]
    return max(stated, key=lambda side: side[1]) if stated else next(iter(found), None)


class FoundSize(NamedTuple):
    """A size a text names: (width, height), either None when not given; where it is written;
    and whether a word says it is the size wanted ("to", "into", "exactly", "make it")."""

    value: tuple[int | None, int | None]
    start: int
    stated: bool


def find_size(text: str) -> FoundSize | None:
    """The size in pixels a text names, or None.

    "1920x1080", "1920 by 1080", "to 1920 wide", "1080 px tall", "width 800", "1080p", "4K" (3840
    wide). A side after "from" is the picture's present size: "4K from 1080p" is 3840 wide; of two
    resolution names the later is the wish ("our 480p videos on a 4K TV" is 3840 wide).
    A WxH pair after "to"/"into"/"at"/"exactly"/"make it" wins (after "at" or "of", not over a
    width or height stated as the wish: "runs at 1920x1200 ... to a width of 1600"); then a width
    or height ("blow my 100x100 icon up to 1000 pixels wide"); then the last pair that is not
    the picture's present size ("from 640x480", "my 640x480 photo", "it is 640x480", "I've got a
    640x480 one"); a present size alone is no wanted size. Pairs with a side under ``MIN_SIDE``
    ("3x3 kernels"), naming a part of the picture ("8x8 blocks", "64x64 patches") or in a
    physical unit ("10x15 cm") are not image sizes.
    """
    pairs = _picture_sizes(text)
    targets = [m for m in pairs if _TARGET_WORD.search(text[: m.start()])]
    sides = _side_size(text)
    if targets:
        last = targets[-1]
        pair = FoundSize(
            (int(last[1]), int(last[2])), last.start(), bool(_STATED.search(text[: last.start()]))
        )
        # "the projector runs at 1920x1200 ... upscale it to a width of 1600": a side stated as
        # the wish wins over a pair that only "at" or "of" brings
        return sides if sides is not None and sides.stated and not pair.stated else pair
    if sides is not None:
        return sides
    wanted = [m for m in pairs if not _is_present_size(text[: m.start()])]
    if wanted:
        return FoundSize((int(wanted[-1][1]), int(wanted[-1][2])), wanted[-1].start(), False)
    return None


def _side_size(text: str) -> FoundSize | None:
    """The width and height named on their own ("1920 wide", "height: 1200px", "4K"), or None."""
    wide, tall = _wanted_side(_WIDTH_PATTERNS, text), _wanted_side(_HEIGHT_PATTERNS, text)
    if wide and tall and wide[1] != tall[1]:
        if _RESOLUTION_NAME.match(text, wide[1]) and _RESOLUTION_NAME.match(text, tall[1]):
            wide, tall = (wide, None) if wide[1] > tall[1] else (None, tall)
    sides = [side for side in (wide, tall) if side is not None]
    if not sides:
        return None
    start = min(side[1] for side in sides)
    stated = bool(_STATED.search(text[:start]) or _SIDE_SETTING.match(text, start))
    return FoundSize((wide and wide[0], tall and tall[0]), start, stated)


def _picture_sizes(text: str) -> list[re.Match[str]]:
    """The WxH pairs of a text that can be a picture's size in pixels (not "3x3 kernels", "8x8
    blocks", a "10x15 cm" print)."""
    return [
        m
        for m in _PAIR.finditer(text)
        if min(int(m[1]), int(m[2])) >= MIN_SIDE
        and not _PART_OF_PICTURE.match(text[m.end() :])
        and not _PHYSICAL_UNIT.match(text[m.end() :])
    ]


def find_present_size(text: str) -> tuple[int, int] | None:
    """The WxH size the picture has now ("my 640x480 photo", "the textures are 64x64"), or None."""
    present = (m for m in _picture_sizes(text) if _is_present_size(text[: m.start()]))
    return next(((int(m[1]), int(m[2])) for m in present), None)


def find_long_side(text: str, *, bare: bool = True) -> tuple[int, int] | None:
    """The length in pixels a text wants the picture's longer side to have, and where it is
    written, or None: "so the long side is 3000 pixels", "1500 on the long edge", and with
    ``bare`` a pixel count with no side named ("make it 1200px"), which means the longer side
    only where no width, height, WxH size or factor is written. A count that is the picture's
    present size ("it's 800 px") is not one."""
    return _first(_LONG_SIDE_PATTERNS if bare else _LONG_SIDE_PATTERNS[:-1], text)


def parse_size(text: str) -> tuple[int | None, int | None] | None:
    """The (width, height) in pixels a text names (see :func:`find_size`), or None."""
    found = find_size(text)
    return found.value if found else None

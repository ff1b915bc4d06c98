"""Is this message a request to enlarge a picture? The offline writers' stand-in for tool calling.

A message asks for the upscaler when it names an image (a file name or path in the text, or
a file the front door attached) together with a request to enlarge it: a verb ("upscale",
"enlarge", "zoom", "blow up", "make ... bigger") or an amount ("3x", "to 1920 wide"). Questions
*about* enlarging ("how does upscaling 3x work?", "why did my upscaled cat.png go blurry?")
and reports of what the person did ("I upscaled scan.png 4x and ...") are not requests.
The result is the tool's arguments, the same schema a language model fills in.

A file that is not an image, named right after the verb ("enlarge notes.txt 3x", "upscale
../../etc/passwd 2x"), is a request too: the tool refuses it by its name, without opening it,
so the person reads why instead of an answer to a question they did not ask.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from zoomqa.agent.understand.question import analyse
from zoomqa.agent.understand.sizes import (
    FoundSize,
    all_scales,
    find_long_side,
    find_scale,
    find_size,
    normalise_numbers,
)
from zoomqa.agent.understand.spelling import respell
from zoomqa.agent.understand.vocabulary import vocabulary
from zoomqa.tools.images import INPUT_SUFFIXES, OTHER_IMAGE_SUFFIXES

# Used when a request names no amount ("upscale cat.png"): the smallest enlargement worth showing.
DEFAULT_SCALE = 2.0
# Damage the upscale.damaged_model (liif-edsr-real) is measured to repair: JPEG compression.
# It was also trained on noise and blur, but not measured on them, so they do not pick it.
DAMAGED_MODEL_DAMAGE = frozenset({"jpeg"})

# Image files a person may name: those the upscaler reads, and formats it does not read (a
# phone's HEIC, a render's EXR) so that the request is answered with why, not ignored.
_EXTENSIONS = "|".join(
    ext.lstrip(".") for ext in sorted({*INPUT_SUFFIXES, *OTHER_IMAGE_SUFFIXES}, key=len, reverse=True)
)
_WINDOWS_NAME = r'[^<>:"/\\|?*\n]'  # a character Windows allows in a file or folder name
_PATH = re.compile(
    rf"""(?:"(?P<dq>[^"\n]+?\.(?:{_EXTENSIONS}))"|'(?P<sq>[^'\n]+?\.(?:{_EXTENSIONS}))'"""  # quoted: spaces allowed
    rf"""|`(?P<bq>[^`\n]+?\.(?:{_EXTENSIONS}))`"""
    # typographic quotes, as phones and word processors write them
    rf"""|“(?P<cdq>[^”\n]+?\.(?:{_EXTENSIONS}))”|‘(?P<csq>[^’\n]+?\.(?:{_EXTENSIONS}))’"""
    # A Windows path from a drive letter: its folders and name may hold spaces, unquoted.
    rf"""|(?<![\w/.~-])(?P<drive>[a-z]:\\(?:{_WINDOWS_NAME}+\\)*{_WINDOWS_NAME}*?\.(?:{_EXTENSIONS}))"""
    # a copy's mark as browsers and file managers add it: "IMG_2041 (1).jpg", "receipt (copy).png"
    rf"""|(?<![\w/\\.~@+-])(?P<bare>[\w~./\\@+-]*[\w-](?: ?\([\w -]{{1,20}}\))?\.(?:{_EXTENSIONS})))(?!\w|\.\w)""",  # icon@2x.png
    re.IGNORECASE,
)
# "landscapes/lake at dusk.jpg", "shots/Screen Shot 2023-04-01 at 10.22.31.png", "~/old
# photos/a.jpg": an unquoted name or folder with spaces (macOS names screenshots so) is read
# whole back to the folder it starts in, over at most three words that are no grammar word
# ("pics/2023 the file a.png" is two names).
_FOLDER_THEN_WORDS = re.compile(
    r"(?:^|(?<=[\s(]))((?:[\w~.@+-]*/)+[\w~.@+-]*[\w~@+-])((?: [\w.@+-]+){0,3}) $"
)
_NO_FOLDER = re.compile(r"[a-z]{1,3}/[a-z]{1,3}", re.IGNORECASE)  # "and/or", "b/w", "w/o"
_NOT_IN_A_NAME = frozenset(
    {"a", "an", "the", "my", "your", "this", "that", "file", "and", "or", "to", "please"}
)
_QUESTION_START = re.compile(
    # after a greeting or a lead-in ("hey,", "quick q:", "btw"); "do" opens a question, not "do
    # cover.png at 2x" (the named picture reads as IMAGE)
    r"^\W*(?:(?:hey|hi|hello|ok(?:ay)?|so|btw|zoomqa|(?:quick\s+)?q(?:uestion)?\s*:)\W+)?"
    r"(?:how|why|what|which|when|where|who|whose|is|are|was|were|does|do(?!\s+(?-i:IMAGE)\b)|did|should|shall|has|have|had|"
    r"would\s+it|could\s+it|can\s+it|will\s+it|isn'?t|doesn'?t)\b",
    re.IGNORECASE,
)
# "garden.jpg -> 1600x1200", "from 400 to 1200 px wide": the size it should become.
_ARROW = re.compile(r"(?:->|→|=>|\bfrom\s+\S+\s+to)\s*$", re.IGNORECASE)
# Where a clause ends: a sentence's end (not the point of "2.5x"), a semicolon, a dash, brackets.
_CLAUSE_END = re.compile(r"[.!?;](?=\s|$)|[()—–]|\s-\s")
_NEGATION = re.compile(r"\b(?:don'?t|do\s+not|never(?!\s*mind)|not|no\s+need\s+to|stop)\b", re.IGNORECASE)
# Any file name or path, quoted (spaces allowed) or bare ...
_ANY_FILE = re.compile(
    r"""(?:"(?P<dq>[^"\n]+)"|'(?P<sq>[^'\n]+)'|`(?P<bq>[^`\n]+)`|(?<![\w/.~:-])(?P<bare>[\w~./-]*[\w~/]))"""
)
# ... that looks like one: a folder in it, or an extension ("notes.txt", not "e.g" or "v1.2") ...
_FILE_LIKE = re.compile(r"(?:.*/.*|.*[^/.]{2}\.[a-z][a-z0-9]{0,7})", re.IGNORECASE | re.DOTALL)
# An amount as it names a result: "4x", "x4", "2.5x", "1920x1080", "1920 by 1080", "1080p", "4k".
_AMOUNT = (
    r"\d+(?:\.\d+)?\s*[x×]|[x×]\s*\d+(?:\.\d+)?|\d{3,5}\s*(?:[x×]|by)\s*\d{3,5}|\d{3,5}\s*(?:px|p)|[248]k"
)
_AMOUNT_LIKE = re.compile(r"[\d.,:x×/%-]+", re.IGNORECASE)  # "2x/4x", "16:9", "3/4"


@dataclass(frozen=True)
class ImageRequest:
    """What the person asked for: the upscale tool's arguments (exactly one way to size)."""

    path: str
    scale: float | None = None
    width: int | None = None
    height: int | None = None
    damaged: bool = False  # the person says the picture is JPEG-compressed
    long_side: int | None = None  # "3000 px on the long edge": width or height, whichever is longer

    def arguments(self) -> dict[str, str | float | int | bool]:
        given = {
            "path": self.path,
            "scale": self.scale,
            "width": self.width,
            "height": self.height,
            "long_side": self.long_side,
        }
        return {key: value for key, value in given.items() if value is not None} | (
            {"damaged": True} if self.damaged else {}
        )


def find_image_paths(message: str) -> list[str]:
    """Image file names and paths written in the message, in order (quotes allow spaces)."""
    found = []
    for match in _PATH.finditer(message):
        path = next(group for group in match.groups() if group)
        if match.group("bare") and not path.startswith(("/", "~", "./", "../")):  # not already a whole path
            path = _with_its_folder(message[: match.start()]) + path
        if path not in found:
            found.append(path)
    return found


def _with_its_folder(before: str) -> str:
    """The folder and words of a name with spaces that end right before its last word, or ""."""
    match = _FOLDER_THEN_WORDS.search(before)
    if match is None or _NO_FOLDER.fullmatch(match[1]) or _PATH.search(match[0]):
        return ""
    words = match[2].split()
    return "" if any(w.lower() in _NOT_IN_A_NAME for w in words) else match[1] + match[2] + " "


@dataclass(frozen=True)
class _RequestWords:
    verb: re.Pattern[str]  # asks for a bigger picture: "upscale", "make it bigger"
    past: re.Pattern[str]  # reports one: "I upscaled it"
    report: re.Pattern[str]  # a clause about an earlier run: "it was 2x already", "last week"
    commentary: re.Pattern[str]  # an amount that comments on the wish: "that should make it about"
    correction: re.Pattern[str]  # takes back the amount before it: "no wait", "actually"
    other_edit: re.Pattern[str]  # asks for another edit: "crop", "rotate", "flip"
    intention: re.Pattern[str]  # puts one off: "I'll enlarge it later"
    cancel: re.Pattern[str]  # takes one back: "never mind", "cancel the upscale"
    request: re.Pattern[str]  # "please", "can you"
    sized: re.Pattern[str]  # "make", "enhance": a request when a wanted size follows
    object_of_verb: re.Pattern[str]  # ends where the file an enlarge verb acts on starts
    result: re.Pattern[str]  # a picture already made, named by its amount: "the 4x version"
    picture_reference: re.Pattern[str]  # "enlarge it": group "ref" is the picture referred back to
    size_reference: re.Pattern[str]  # "... to that": a size referred back to


@cache
def _patterns() -> _RequestWords:
    """The request words of the vocabulary file (agent/understand/vocabulary.toml), as patterns."""
    words = vocabulary().requests
    verbs, make, results = "|".join(words["verbs"]), "|".join(words["make"]), "|".join(words["results"])
    return _RequestWords(
        verb=re.compile(rf"\b(?:{verbs}|make\b[^.?!]{{0,60}}?\b(?:{make}))\b", re.IGNORECASE),
        past=re.compile(rf"\b(?:{'|'.join(words['past'])})\b", re.IGNORECASE),
        report=re.compile(rf"\b(?:{'|'.join((*words['past'], *words['report']))})\b", re.IGNORECASE),
        other_edit=re.compile(rf"\b(?:{'|'.join(words['other_edits'])})\b", re.IGNORECASE),
        commentary=re.compile(rf"(?:\b(?:{'|'.join(words['commentary'])})\b|~)", re.IGNORECASE),
        correction=re.compile(rf"\b(?:{'|'.join(words['corrections'])})\b", re.IGNORECASE),
        intention=re.compile(rf"\b(?:{'|'.join(words['intention'])})(?!\w)", re.IGNORECASE),
        cancel=re.compile(rf"\b(?:{'|'.join(words['cancel'])})(?!\w)", re.IGNORECASE),
        request=re.compile(rf"\b(?:{'|'.join(words['polite'])})\b", re.IGNORECASE),
        sized=re.compile(rf"\b(?:{'|'.join(words['sized'])})\b", re.IGNORECASE),
        object_of_verb=re.compile(
            rf"\b(?:{verbs}|make)(?:\s+(?:the|this|that|my|file|image|picture|photo|document))*\s+$",
            re.IGNORECASE,
        ),
        result=re.compile(
            rf"\b(?:the|that|this|these|those|your|my)\s+(?:{_AMOUNT})\s+(?:{results})\b", re.IGNORECASE
        ),
        picture_reference=re.compile(
            rf"\b(?:{verbs}|make|blow|scale|do)\s+(?P<ref>{'|'.join(words['picture_reference'])})\b",
            re.IGNORECASE,
        ),
        size_reference=re.compile(
            rf"\b(?:{'|'.join(words['size_reference'])})\b(?!\s+(?:{results}|pic|folder)\b)", re.IGNORECASE
        ),
    )


def referred_picture(message: str) -> tuple[int, int] | None:
    """Where an enlarge verb's object refers back to a picture ("enlarge it", "upscale that one")."""
    match = _patterns().picture_reference.search(message)
    return match.span("ref") if match else None


def referred_size(message: str) -> tuple[int, int] | None:
    """Where the message refers back to a size ("enlarge it to that", "at the same width")."""
    match = _patterns().size_reference.search(message)
    return match.span() if match else None


def find_named_files(message: str) -> list[str]:
    """Files that are not images, named as what an enlarge verb acts on ("enlarge notes.txt",
    "upscale ../../etc/passwd"); empty when the message names an image."""
    if find_image_paths(message):
        return []
    found = []
    for match in _ANY_FILE.finditer(message):
        path = next(group for group in match.groups() if group)
        if (
            _FILE_LIKE.fullmatch(path)
            and not _AMOUNT_LIKE.fullmatch(path)
            and "://" not in message[match.start() : match.end() + 3]
            and _patterns().object_of_verb.search(message[: match.start()])
            and path not in found
        ):
            found.append(path)
    return found


# What a cancel takes back runs to the end of its phrase: "cancel [the upscale of IMAGE], ..."
_CANCELLED_OBJECT = re.compile(r"^.*?(?:[,.;:!?\n]|\band\b|$)", re.DOTALL)
_SENTENCE_END = re.compile(r"[.!?]+(?=\s|$)|\n")
_PLACEHOLDER = "IMAGE"  # where a named picture was, in the text the request words are read from


def _without_paths(message: str, paths: Sequence[str]) -> str:
    for path in paths:
        message = message.replace(path, f" {_PLACEHOLDER} ")
    return message


def _clause(text: str, at: int) -> tuple[str, str]:
    """The clause around position ``at``: its part before ``at``, and the whole of it."""
    starts = [m.end() for m in _CLAUSE_END.finditer(text, 0, at)]
    start = starts[-1] if starts else 0
    end = next((m.start() for m in _CLAUSE_END.finditer(text, at)), len(text))
    return text[start:at], text[start:end]


def _reported(text: str, at: int) -> bool:
    """The clause at ``at`` tells of an earlier run ("last week you enlarged dog.png 2x"), and
    asks nothing."""
    _, clause = _clause(text, at)
    words = _patterns()
    return bool(words.report.search(clause)) and not words.request.search(clause)


def _commentary(text: str, at: int) -> bool:
    """The amount at ``at`` comments on the wish ("..., that should get it to roughly 3000 px")."""
    before, _ = _clause(re.sub(r",", ";", text), at)
    return bool(_patterns().commentary.search(before))


def _wished_scale(text: str) -> tuple[float, tuple[int, int]] | None:
    """The factor asked for: of several, the first not in a clause that tells of an earlier run
    ("make it 3 times bigger (it was 2x upscaled already)"), unless a later one takes it back
    ("make it 3x, no wait, 4x")."""
    found, every = find_scale(text), all_scales(text)
    wishes = [scale for scale in every if not _reported(text, scale[1][0])]
    wished = wishes[0] if found is not None and wishes and len(wishes) < len(every) else found
    for later in wishes:
        if wished is None or later[1][0] < wished[1][1]:
            continue
        if _patterns().correction.search(text, wished[1][1], later[1][0]):
            wished = later
    return wished


def _wished_paths(message: str, paths: list[str]) -> list[str]:
    """The pictures asked for: of several, those not only named in a clause that tells of an
    earlier run ("last week you enlarged dog.png 2x; now please do cat.png")."""
    wished = []
    for path in paths:
        at = message.find(path)
        before, clause = _clause(message, at)
        if clause.strip(" `'\"") == path:  # named aside, "(scan_2x.png)": the clause it sits in
            at = max(at - len(before) - 2, 0)
        if not _reported(message, at):
            wished.append(path)
    return wished or paths


def _asks_to_enlarge(
    text: str,
    size: FoundSize | None,
    scale: tuple[float, tuple[int, int]] | None,
    long_side: tuple[int, int] | None = None,
) -> bool:
    """A request (not a question about, or a report of, enlarging), with a verb or an amount;
    ``size``, ``scale`` and ``long_side`` are what the text names."""
    words = _patterns()
    verb = words.verb.search(text)
    request = words.request.search(text)
    if verb and _NEGATION.search(text[: verb.start()]):
        return False
    if _QUESTION_START.search(text) and not request:
        return False
    # A report of an earlier run ("I upscaled it 4x and ..."): the past tense where the amount
    # is asked (anywhere, when none is), and no verb or request word.
    amounts = [
        at
        for at in (size and size.start, scale and scale[1][0], long_side and long_side[1])
        if at is not None
    ]
    reported = (
        any(words.past.search(_clause(text, at)[1]) for at in amounts) if amounts else words.past.search(text)
    )
    if reported and not verb and not request:
        return False
    # "upscale beach2.jpg 2x... actually never mind", "cancel the upscale of scan.tiff": taken
    # back, unless a new wish follows in another clause ("never mind, make it 4x")
    cancels = list(words.cancel.finditer(text))
    if cancels:
        after = _CANCELLED_OBJECT.sub("", text[cancels[-1].end() :], count=1)
        if not (words.verb.search(after) or find_scale(after) or find_size(after)):
            return False
    # "I'll enlarge holiday.jpg later", but not "enlarge a.jpg to 5000px. I'll send the rest later"
    if not request and any(
        words.intention.search(sentence)
        for sentence in _SENTENCE_END.split(text)
        if _PLACEHOLDER in sentence
        or words.verb.search(sentence)
        or find_scale(sentence)
        or find_size(sentence)
    ):
        return False
    # Another edit and no enlarge verb: the amount is that edit's ("crop headshot.jpg to
    # 800x800") unless a verb that asks for a size comes between ("rotate it and make it 2000 wide").
    edit = words.other_edit.search(text)
    if edit and not verb and not words.sized.search(text, edit.end(), min(amounts, default=len(text))):
        return False
    image = text.find(_PLACEHOLDER)
    sentence = re.split(r"[.!?;]", text[: max(image, 0)])[-1]  # before the picture, in its sentence
    if not verb and _NEGATION.search(sentence):  # "don't touch wedding.jpg, ..."
        return False
    # An amount alone asks for the tool ("cat.png 4x", "cat.png 1200px"); a size alone may just
    # describe the picture ("cat.png is 640x480") unless it comes with "please", "I need"...,
    # after a verb that asks for a size ("make it 512x512", "enhance it to 1080 by 1350") or
    # a word that states it as the wish ("cat.png to 2560x1440").
    sized = words.sized.search(text)
    wanted_size = size is not None and (
        request is not None
        or size.stated
        or (sized is not None and sized.start() < size.start)
        or bool(_ARROW.search(text[: size.start]))
    )
    amount = scale is not None or long_side is not None or wanted_size
    return bool(verb or (amount and ("?" not in text or request)))


def parse_request(message: str, attachments: Sequence[Path] = ()) -> list[ImageRequest]:
    """The enlargements the message asks for: one per named image, else one per attachment,
    else one per other file named right after the verb (which the tool then refuses).

    Empty when the message does not ask to enlarge a picture.
    """
    named = find_image_paths(message)
    if not (named or attachments):
        named = find_named_files(message)
    paths = _wished_paths(message, named) if named else [str(path) for path in attachments]
    if not paths:
        return []
    text = normalise_numbers(respell(_without_paths(message, named)))
    if not _patterns().request.search(text):  # "thanks, the 4x one of cat.png looks great"
        text = _patterns().result.sub(" ", text)
    size, scale = find_size(text), _wished_scale(text)
    long_side = find_long_side(text, bare=size is None and scale is None)
    if long_side is not None and (size is not None or scale is not None):
        # the longer side named beside another amount: one that comments on the other gives
        # way ("1500 on the long edge, that is about 3x"), else the later wish wins ("upscale
        # cat.png 3x ... now 2000 on the long edge")
        other = max(at for at in (size and size.start, scale and scale[1][0]) if at is not None)
        long_comments, other_comments = _commentary(text, long_side[1]), _commentary(text, other)
        wins = not long_comments if long_comments != other_comments else long_side[1] > other
        size, scale, long_side = (None, None, long_side) if wins else (size, scale, None)
    if not _asks_to_enlarge(text, size, scale, long_side):
        return []
    # A size and a factor both written: one that comments on the other ("2.5x, that should make
    # it about 3000 wide") gives way; one taken back gives way to the later ("at 2x... no wait,
    # make it 1600x1600"); else a size stated as the wish ("to 1920x1080") wins, else the later
    # one does; the earlier describes the picture ("pano.jpg came out at 4000x1000; make it
    # twice as big").
    if size is not None and scale is not None:
        size_comments, scale_comments = _commentary(text, size.start), _commentary(text, scale[1][0])
        first, later = sorted((size.start, scale[1][0]))
        if size_comments != scale_comments:
            size, scale = (None, scale) if size_comments else (size, None)
        elif _patterns().correction.search(text, first, later):  # "to 1200 wide. scratch that, 4x"
            size, scale = (size, None) if size.start == later else (None, scale)
        else:
            size, scale = (size, None) if size.stated or size.start > scale[1][0] else (None, scale)
    width, height = size.value if size is not None else (None, None)
    longest = long_side[0] if long_side is not None else None
    sized = size is not None or longest is not None
    scale_value = scale[0] if scale is not None else (None if sized else DEFAULT_SCALE)
    damaged = bool(DAMAGED_MODEL_DAMAGE & analyse(message).constraints.damage)
    return [
        ImageRequest(
            path=path, scale=scale_value, width=width, height=height, damaged=damaged, long_side=longest
        )
        for path in paths
    ]

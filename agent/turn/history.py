"""The conversation so far, and follow-ups made into questions that stand alone.

Retrieval sees one question, so "and at 8x?" after "I blew up a photo 10x and it stayed crisp -
how?" must become "I blew up a photo 8x and it stayed crisp - how?" before it is searched.
Offline writers condense deterministically (here); the openai writer asks its model with
the same bounded history (``turn.planner``). A door adds a turn to the history only once it
is answered: a turn the person cancelled is not part of the conversation.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict

from zoomqa.agent.turn.enlarge_requests import (
    find_image_paths,
    find_named_files,
    referred_picture,
    referred_size,
)
from zoomqa.agent.understand.sizes import find_long_side, find_scale, find_size, parse_size

# Only the latest turns shape a follow-up; older ones would only dilute the search.
MAX_TURNS = 8
MAX_TURN_CHARS = 1200
# A message this short is read as a follow-up ("which one is faster?", "and at 8x?").
FOLLOW_UP_WORDS = 6

_OPENERS = re.compile(
    r"^\W*(?:and|or|but|also|so|then|now|ok(?:ay)?|what\s+about|how\s+about|what\s+if|which\s+one|which\s+of"
    r"|same|again|instead|why\s+not|compared\s+to|versus|vs)\b",
    re.IGNORECASE,
)
# Words that carry no topic of their own once a scale is taken out of a follow-up.
_FILLER = {
    "a", "about", "again", "and", "at", "but", "by", "do", "factor", "for", "how", "instead", "it",
    "now", "of", "ok", "okay", "or", "please", "same", "so", "the", "then", "this", "time", "to", "try",
    "what", "with",
}  # fmt: skip
_SIZE_WORD = re.compile(
    r"\d+(?:p|px)?|x|by|wide|tall|high|px|pixels?|width|height|\d+x\d+|long(?:er|est)?|sides?|edges?|on"
)


class Turn(BaseModel):
    """One message of the conversation, as the person or the assistant wrote it."""

    model_config = ConfigDict(frozen=True)

    role: Literal["user", "assistant"]
    text: str


def bounded(history: Sequence[Turn]) -> list[Turn]:
    """The latest ``MAX_TURNS`` turns, each cut to ``MAX_TURN_CHARS`` characters."""
    return [Turn(role=t.role, text=t.text[:MAX_TURN_CHARS]) for t in list(history)[-MAX_TURNS:]]


def is_follow_up(message: str) -> bool:
    """Does the message lean on the previous turn (a short question, or one opening with "and ...")?
    One that names a picture or another file to enlarge stands alone."""
    if find_image_paths(message) or find_named_files(message):
        return False
    return bool(_OPENERS.search(message)) or len(message.split()) <= FOLLOW_UP_WORDS


def _topic_words(text: str) -> list[str]:
    return [w for w in re.findall(r"[a-z0-9']+", text.lower()) if w not in _FILLER]


def only_an_amount(message: str) -> bool:
    """Does the message say nothing but a new scale or size ("and at 8x?", "now 1920 wide")?"""
    found = find_scale(message)
    if found is not None:
        (start, end) = found[1]
        message = message[:start] + message[end:]
    elif parse_size(message) is None and find_long_side(message, bare=False) is None:
        return False
    return not [w for w in _topic_words(message) if not _SIZE_WORD.fullmatch(w)]


def merge(follow_up: str, previous: str) -> str:
    """``previous`` (a standalone question) updated by ``follow_up``.

    A new scale replaces the previous question's scale; a follow-up that says more than a
    scale is added after it.
    """
    new, old = find_scale(follow_up), find_scale(previous)
    if new is not None and old is not None:
        (start, end), (new_start, new_end) = old[1], new[1]
        previous = previous[:start] + follow_up[new_start:new_end].strip() + previous[end:]
        rest = follow_up[:new_start] + follow_up[new_end:]
        if not _topic_words(rest):
            return previous
    return f"{previous.rstrip()} {follow_up.strip()}"


def condense(message: str, history: Sequence[Turn]) -> str:
    """The message as a standalone question, using the person's earlier turns."""
    previous: str | None = None
    for turn in bounded(history):
        if turn.role == "user":
            previous = merge(turn.text, previous) if previous and is_follow_up(turn.text) else turn.text
    if previous and is_follow_up(message):
        return merge(message, previous)
    return message


def _amount_text(text: str) -> str | None:
    """The amount a message names, written out: "3840x2160", "1500 pixels wide", "3x"."""
    size = find_size(text)
    if size is not None:
        width, height = size.value
        if width and height:
            return f"{width}x{height}"
        return f"{width} pixels wide" if width else f"{height} pixels tall"
    scale = find_scale(text)
    return None if scale is None else f"{scale[0]:g}x"


def resolve_references(message: str, history: Sequence[Turn], attachments: bool = False) -> str:
    """The message with the picture and the size it refers back to written out from the
    person's earlier messages: "ok, enlarge it to that" after "I need beach.jpg at 3840x2160"
    becomes "ok, enlarge beach.jpg to 3840x2160". What the message names itself (a file, an
    attachment, an amount) is kept; a reference with nothing earlier to point to stays as it is.
    """
    earlier = [t.text for t in reversed(bounded(history)) if t.role == "user"]
    span = referred_size(message)
    if span is not None and find_size(message) is None and find_scale(message) is None:
        amount = next((a for a in map(_amount_text, earlier) if a), None)
        if amount is not None:
            message = f"{message[: span[0]]}to {amount}{message[span[1] :]}"
    span = referred_picture(message)
    if span is not None and not (attachments or find_image_paths(message) or find_named_files(message)):
        picture = next((paths[-1] for paths in map(find_image_paths, earlier) if paths), None)
        if picture is not None:
            written = f'"{picture}"' if re.search(r"\s", picture) else picture  # keeps its spaces
            message = f"{message[: span[0]]}{written}{message[span[1] :]}"
    return message

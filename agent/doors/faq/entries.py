"""The FAQ as data: question groups, their answers, and the names every rendering shares."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from zoomqa.agent.compose.answer import Answer


@dataclass(frozen=True)
class QuestionGroup:
    """One FAQ entry's question (its first phrasing in the list, the one answered) and the others."""

    question: str
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class FaqItem:
    group: QuestionGroup
    answer: dict[str, Any]  # exactly what `zoomqa ask --json` prints for group.question

    @cached_property
    def parsed(self) -> Answer:
        """The answer without the tool runs ``ask --json`` adds (an FAQ runs none)."""
        return Answer.model_validate(
            {key: value for key, value in self.answer.items() if key != "tool_calls"}
        )

    @property
    def covered(self) -> bool:
        return bool(self.answer["relevant"])


@dataclass(frozen=True)
class Faq:
    items: tuple[FaqItem, ...]
    index: dict[str, Any]  # which index answered: digest, records, embedder, created
    writer: str

    @property
    def entries(self) -> tuple[FaqItem, ...]:
        return tuple(item for item in self.items if item.covered)

    @property
    def not_covered(self) -> tuple[FaqItem, ...]:
        return tuple(item for item in self.items if not item.covered)


def anchor(text: str, taken: set[str]) -> str:
    """GitHub's heading anchor for ``text``, made unique among ``taken`` (HTML ids use the same)."""
    base = re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-") or "entry"
    slug, n = base, 0
    while slug in taken:
        n += 1
        slug = f"{base}-{n}"
    taken.add(slug)
    return slug


def refusal_reason(answer: Answer) -> str:
    """The refusal the answerer wrote: the same words `zoomqa ask` shows."""
    return " ".join(statement.text for statement in answer.task)


def index_line(faq: Faq) -> str:
    index = faq.index
    return (
        f"Answered from the zoomqa index ({index['records']} records, digest {index['digest'][:12]}, "
        f"built {index['created'][:10]}) by the {faq.writer} writer."
    )


NOT_COVERED_TITLE = "Not covered"

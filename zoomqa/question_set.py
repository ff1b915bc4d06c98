"""The question-set schema every evaluation reads: retrieval, answers, the tool, the FAQ list.

One JSON object a line: what is asked, what should happen (``answer``, ``refuse`` or ``tool``),
which works answer it, and how to judge the answer (the work it should explain, the points it
should make) or the enlargement (the picture and the size asked for). Each evaluation reads
the keys it needs from the same object, so a set is written once and checked once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from zoomqa.errors import ZoomqaError

Expect = Literal["answer", "refuse", "tool"]
LineT = TypeVar("LineT", bound=BaseModel)


class Question(BaseModel):
    """One line of a question set; keys no evaluation uses (a note) are ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: str = Field(min_length=1)
    question: str = Field(min_length=1)
    relevant: list[str] = Field(default_factory=list, description="arXiv ids or record ids of the works")
    expect: Expect
    anchor: str | None = Field(None, min_length=1, description="the work part 2 should explain")
    nuggets: list[str] = Field(default_factory=list, max_length=4, description="points a full answer makes")
    kind: str | None = None
    path: str | None = Field(None, min_length=1, description="tool questions: the picture named")
    scale: float | None = Field(None, gt=0)
    width: int | None = Field(None, gt=0)
    height: int | None = Field(None, gt=0)

    @model_validator(mode="after")
    def _tool_questions_say_what_to_make(self) -> Question:
        if self.expect == "tool" and (
            self.path is None or (self.scale, self.width, self.height) == (None,) * 3
        ):
            raise ValueError("a tool question needs 'path' and a scale, width or height")
        return self


def read_jsonl(path: Path, schema: type[LineT], what: str, items_name: str) -> list[LineT]:
    """Every line of a JSONL file as ``schema``, or one ZoomqaError naming each bad line.

    ``what`` names the file in messages ("question set"), ``items_name`` its lines ("questions").
    """
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ZoomqaError(f"cannot read the {what} {path}: {exc}") from None
    items, problems = [], []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            items.append(schema.model_validate_json(line))
        except ValidationError as exc:
            problems.append(f"{path}:{number}: {exc.errors()[0]['msg']}")
    if problems:
        raise ZoomqaError(f"invalid {what}:\n" + "\n".join(problems[:10]))
    if not items:
        raise ZoomqaError(f"{path} holds no {items_name}")
    return items


def read_question_set(path: Path) -> list[Question]:
    """Every question of a question-set file, or a ZoomqaError naming each bad line."""
    return read_jsonl(path, Question, "question set", "questions")

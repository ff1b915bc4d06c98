"""Tool accuracy on a question set's ``expect: tool`` lines: did the request enlarge the picture as asked?

Each tool question names a picture (``path``) and what was asked for (``scale``, or ``width``
and/or ``height``). Those pictures are not on this machine, so a small stand-in is made in a
temporary folder at the same place relative to it (a ``~/`` path under ``home/``, an absolute
one under ``root/``), the message is pointed at it, and the assistant runs the real tool. A
question is correct when exactly one call ran, on that picture, and the file it wrote has the
size the question asked for.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from zoomqa.agent.turn.assistant import Assistant, Reply
from zoomqa.config import Settings
from zoomqa.question_set import Question

if TYPE_CHECKING:
    from zoomqa.agent.compose.pipeline import Answerer
    from zoomqa.index.retrieval import HybridRetriever

# 4:3, smaller than every size in the question set, so each request is an enlargement.
STAND_IN_SIZE = (64, 48)


def tool_questions(questions: Iterable[Question]) -> list[Question]:
    """The ``expect: tool`` questions of a set (the schema makes each name its path and size)."""
    return [q for q in questions if q.expect == "tool"]


def _named_path(question: Question) -> str:
    if question.path is None:
        raise ValueError(f"question {question.id} names no picture")
    return question.path


class ToolSandbox:
    """A temporary folder of stand-in pictures, one per tool question; removed by :meth:`close`."""

    def __init__(self, questions: Iterable[Question]) -> None:
        self._folder = tempfile.TemporaryDirectory(prefix="zoomqa-tool-eval-")
        self.root = Path(self._folder.name).resolve()
        self.questions = {q.id: q for q in questions}
        pixels = np.random.default_rng(0).integers(
            0, 256, (STAND_IN_SIZE[1], STAND_IN_SIZE[0], 3), dtype=np.uint8
        )
        for question in self.questions.values():
            picture = self.stand_in(question)
            picture.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(pixels).save(picture)

    def close(self) -> None:
        self._folder.cleanup()

    def __enter__(self) -> ToolSandbox:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def stand_in(self, question: Question) -> Path:
        path = _named_path(question)
        if path.startswith("~/"):
            return self.root / "home" / path[2:]
        if path.startswith("/"):
            return self.root / "root" / path.lstrip("/")
        return self.root / path

    def message(self, question: Question) -> str:
        """The question, with a home or absolute path pointed at its stand-in (relative ones resolve in the folder)."""
        path = _named_path(question)
        if path.startswith(("~/", "/")):
            return question.question.replace(path, str(self.stand_in(question)))
        return question.question

    def expected_size(self, question: Question) -> tuple[int, int]:
        from zoomqa.tools.upscale import target_size

        width, height = question.width, question.height
        both = width is not None and height is not None
        return target_size(
            STAND_IN_SIZE,
            scale=question.scale,
            width=None if both else width,
            height=None if both else height,
            size=(width, height) if width is not None and height is not None else None,
        )

    def correct(self, question: Question, reply: Reply) -> bool:
        """One call, on the stand-in, that wrote a file of the asked size."""
        if len(reply.tool_calls) != 1:
            return False
        call = reply.tool_calls[0]
        if not call.ok or call.output_path is None or not Path(call.output_path).is_file():
            return False
        requested = Path(str(call.arguments.get("path", ""))).expanduser()
        requested = requested if requested.is_absolute() else self.root / requested
        if requested.resolve() != self.stand_in(question).resolve():
            return False
        with Image.open(call.output_path) as written:
            return written.size == self.expected_size(question) == tuple(call.output_size or ())

    def respond(self, assistant: Assistant, question_id: str) -> tuple[Reply, bool]:
        """The assistant's reply to the question, and whether the tool did what it asked."""
        question = self.questions[question_id]
        reply = assistant.respond(self.message(question))
        return reply, self.correct(question, reply)

    def assistant(self, retriever: HybridRetriever, answerer: Answerer, settings: Settings) -> Assistant:
        """An assistant over an open index whose upscaler may use only this folder."""
        upscale = settings.upscale.model_copy(update={"allowed_dirs": [self.root]})
        return Assistant(retriever, answerer, upscale, model_dirs=(settings.home / "models",))

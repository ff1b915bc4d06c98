"""Tool accuracy: stand-in pictures for the question set's tool requests, scored on what the real tool wrote."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from zoomqa.agent.evaluation.tools import STAND_IN_SIZE, ToolSandbox, tool_questions
from zoomqa.agent.turn.assistant import Assistant, ToolCall
from zoomqa.config import get_settings
from zoomqa.question_set import Question, read_question_set

QUESTION_SET = Path(__file__).parent / "questions.jsonl"


def test_every_tool_question_gets_a_stand_in_inside_the_sandbox() -> None:
    questions = tool_questions(read_question_set(QUESTION_SET))
    assert len(questions) >= 9
    with ToolSandbox(questions) as sandbox:
        for q in questions:
            picture = sandbox.stand_in(q)
            assert picture.is_relative_to(sandbox.root) and picture.is_file()
            with Image.open(picture) as image:
                assert image.size == STAND_IN_SIZE
            message = sandbox.message(q)
            named = q.path if not q.path.startswith(("~/", "/")) else str(picture)
            assert named in message and message.replace(named, q.path) == q.question
        root = sandbox.root
    assert not root.exists()


@pytest.mark.parametrize(
    ("question", "size"),
    [
        (Question(expect="tool", id="a", question="a 2.5x", path="a.png", scale=2.5), (160, 120)),
        (Question(expect="tool", id="b", question="b 128 wide", path="b.png", width=128), (128, 96)),
        (Question(expect="tool", id="c", question="c 96 tall", path="c.png", height=96), (128, 96)),
        (Question(expect="tool", id="d", question="d 100x50", path="d.png", width=100, height=50), (100, 50)),
    ],
)
def test_the_expected_size_is_what_the_upscaler_makes_of_the_request(question: Question, size: tuple) -> None:
    with ToolSandbox([question]) as sandbox:
        assert sandbox.expected_size(question) == size


def test_a_request_is_correct_only_when_the_tool_wrote_the_asked_size(indexed_home: Path) -> None:
    questions = [
        Question(
            expect="tool",
            id="home",
            question="pls make ~/Desktop/logo.png twice as big",
            path="~/Desktop/logo.png",
            scale=2,
        ),
        Question(
            expect="tool",
            id="rel",
            question="upscale ./old/wedding.jpg to 96 pixels wide",
            path="./old/wedding.jpg",
            width=96,
        ),
        Question(
            expect="tool", id="unasked", question="how does upscaling 3x work?", path="scan.png", scale=3
        ),
    ]
    with ToolSandbox(questions) as sandbox, Assistant.from_settings(get_settings()) as opened:
        assistant = sandbox.assistant(opened.retriever, opened.answerer, get_settings())
        home, ok = sandbox.respond(assistant, "home")
        assert ok and home.tool_calls[0].output_size == (128, 96)
        assert Path(home.tool_calls[0].output_path).parent == sandbox.root / "home" / "Desktop"
        rel, ok = sandbox.respond(assistant, "rel")
        assert ok and rel.tool_calls[0].output_size == (96, 72)
        unasked, ok = sandbox.respond(assistant, "unasked")
        assert not ok and unasked.tool_calls == []
        wrong = home.model_copy(
            update={"tool_calls": [home.tool_calls[0].model_copy(update={"output_size": (40, 30)})]}
        )
        assert not sandbox.correct(questions[0], wrong)
        refused = home.model_copy(update={"tool_calls": [ToolCall.failed({"path": "logo.png"}, "no")]})
        assert not sandbox.correct(questions[0], refused)

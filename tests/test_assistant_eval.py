"""Tool accuracy: stand-in pictures for the question set's tool requests, scored on what the real tool wrote."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from zoomqa.agent.evaluation.tools import STAND_IN_SIZE, ToolQuestion, ToolSandbox, read_tool_questions
from zoomqa.agent.turn.assistant import Assistant, ToolCall
from zoomqa.config import get_settings

QUESTION_SET = Path(__file__).parent / "questions.jsonl"


def test_every_tool_question_gets_a_stand_in_inside_the_sandbox() -> None:
    questions = read_tool_questions(QUESTION_SET)
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
        (ToolQuestion(id="a", question="", path="a.png", scale=2.5), (160, 120)),
        (ToolQuestion(id="b", question="", path="b.png", width=128), (128, 96)),
        (ToolQuestion(id="c", question="", path="c.png", height=96), (128, 96)),
        (ToolQuestion(id="d", question="", path="d.png", width=100, height=50), (100, 50)),
    ],
)
def test_the_expected_size_is_what_the_upscaler_makes_of_the_request(
    question: ToolQuestion, size: tuple
) -> None:
    with ToolSandbox([question]) as sandbox:
        assert sandbox.expected_size(question) == size


def test_a_request_is_correct_only_when_the_tool_wrote_the_asked_size(indexed_home: Path) -> None:
    questions = [
        ToolQuestion(
            id="home", question="pls make ~/Desktop/logo.png twice as big", path="~/Desktop/logo.png", scale=2
        ),
        ToolQuestion(
            id="rel",
            question="upscale ./old/wedding.jpg to 96 pixels wide",
            path="./old/wedding.jpg",
            width=96,
        ),
        ToolQuestion(id="unasked", question="how does upscaling 3x work?", path="scan.png", scale=3),
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

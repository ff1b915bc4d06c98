"""The assistant with the offline writer: real index, real embedder, real upscaler on tiny pictures."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from zoomqa.agent.doors.render import render_markdown, timing_line
from zoomqa.agent.turn.assistant import Assistant, Reply, ToolCall, Turn
from zoomqa.config import get_settings

TEN_X = "I blew up an old photo 10x and it stayed crisp - how?"


@pytest.fixture()
def pictures(tmp_path: Path) -> Path:
    folder = tmp_path / "pictures"
    folder.mkdir()
    pixels = np.random.default_rng(0).integers(0, 256, (12, 16, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(folder / "cat.png")
    return folder


@pytest.fixture()
def assistant(indexed_home: Path, pictures: Path) -> Iterator[Assistant]:
    with Assistant.from_settings(get_settings(), allowed_dirs=[pictures]) as opened:
        yield opened


def statements(reply: Reply) -> list[str]:
    return [s.text for s in reply.answer.statements]


def test_a_question_is_answered_without_the_tool(assistant: Assistant) -> None:
    reply = assistant.respond(TEN_X)
    assert reply.tool_calls == [] and reply.condensed_question == TEN_X
    assert reply.answer.relevant and reply.answer.question == TEN_X
    assert {"input", "model", "output"} <= {step.stage for step in reply.answer.steps}
    assert "SISR-Any-LIIF-EDSR" in [s.id for s in reply.answer.sources]


def test_an_upscale_request_runs_the_tool_and_reports_it_beside_how_liif_did_it(
    assistant: Assistant, pictures: Path
) -> None:
    before = (pictures / "cat.png").read_bytes()
    reply = assistant.respond("please upscale cat.png 3x")
    (call,) = reply.tool_calls
    assert call.ok and call.error is None and call.arguments == {"path": "cat.png", "scale": 3.0}
    assert call.input_size == (16, 12) and call.output_size == (48, 36) and call.model == "liif-edsr"
    assert call.output_path == str(pictures / "cat_x3.png") and call.comparison_path == str(
        pictures / "cat_x3_compare.png"
    )
    with Image.open(call.output_path) as out:
        assert out.size == (48, 36)
    assert Path(call.comparison_path).is_file() and call.seconds > 0
    assert (pictures / "cat.png").read_bytes() == before
    assert "LIIF" in reply.condensed_question and "3x" in reply.condensed_question
    output = next(step for step in reply.answer.steps if step.stage == "output")
    report = output.statements[-1].text
    assert (
        "cat.png went from 16x12 to 48x36" in report
        and call.output_path in report
        and call.comparison_path in report
    )
    assert any(s.id == "SISR-Any-LIIF-EDSR" for s in reply.answer.sources)
    timings = reply.answer.timings  # the footer's time is the whole turn's, the enlargement included
    assert timings.tool_s == call.seconds
    assert timings.total_s >= timings.tool_s + timings.retrieval_s + timings.writing_s
    assert f"enlarging {call.seconds:.2f} s" in timing_line(reply.answer)
    markdown = render_markdown(reply.answer)
    assert markdown.index("How it works") < markdown.index("cat_x3.png") < markdown.index("Papers and tools")

    again = assistant.respond("upscale cat.png 3x").tool_calls[0]
    assert again.ok and again.output_path == str(pictures / "cat_x3-2.png")  # never overwrites


def test_a_picture_said_to_be_jpeg_damaged_is_enlarged_with_the_real_world_model(
    assistant: Assistant,
) -> None:
    (call,) = assistant.respond(
        "upscale cat.png 2x, it came out of whatsapp all blocky from compression"
    ).tool_calls
    assert call.ok and call.arguments == {"path": "cat.png", "scale": 2.0, "damaged": True}
    assert call.model == "liif-edsr-real"


def test_the_json_of_a_reply_keeps_the_answer_keys_and_adds_tool_calls(assistant: Assistant) -> None:
    data = assistant.respond("enlarge cat.png to 40 pixels wide").as_json()
    assert {"question", "relevant", "task", "steps", "sources", "writer", "timings"} <= set(data)
    (call,) = data["tool_calls"]
    assert set(call) >= {
        "name",
        "arguments",
        "ok",
        "output_path",
        "comparison_path",
        "input_size",
        "output_size",
        "seconds",
        "error",
    }
    assert call["name"] == "upscale_image" and call["output_size"] == [40, 30]


def test_a_follow_up_reuses_the_conversation(assistant: Assistant, pictures: Path) -> None:
    history = [Turn(role="user", text="upscale cat.png 2x"), Turn(role="assistant", text="Done.")]
    reply = assistant.respond("and at 2.5x?", history=history)
    (call,) = reply.tool_calls
    assert call.ok and call.output_size == (40, 30) and call.output_path == str(pictures / "cat_x2.5.png")
    (call,) = assistant.respond("and 48 on the long edge?", history=history).tool_calls
    assert call.ok and call.output_size == (48, 36)  # cat.png is 16x12
    assert assistant.respond("which model is faster at 4x?", history=history).tool_calls == []
    question = assistant.respond("and at 8x?", history=[Turn(role="user", text=TEN_X)])
    assert question.tool_calls == [] and question.condensed_question == TEN_X.replace("10x", "8x")


def test_refused_calls_become_one_sentence_and_touch_nothing(
    assistant: Assistant, pictures: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "secret.png"
    Image.new("RGB", (8, 8)).save(outside)
    before = sorted(p.name for p in tmp_path.rglob("*"))
    cases = {
        f"upscale {outside} 2x": "outside the folders the upscaler may use",
        "upscale dog.png 2x": "no image named dog.png",
        "upscale cat.png 500x": "less than or equal to 64",
        "upscale cat.png to 30000x20000": "above the output limit",
    }
    for message, reason in cases.items():
        reply = assistant.respond(message)
        (call,) = reply.tool_calls
        assert not call.ok and reason in call.error, (message, call.error)
        first = reply.answer.task[0].text
        assert first.startswith("I could not enlarge") and reason in first and first.count(". ") == 0
        assert "Traceback" not in render_markdown(reply.answer)
    assert sorted(p.name for p in tmp_path.rglob("*")) == before


def test_attachments_and_a_separate_output_folder(indexed_home: Path, tmp_path: Path, pictures: Path) -> None:
    results = tmp_path / "results"
    results.mkdir()
    with Assistant.from_settings(get_settings(), allowed_dirs=[pictures], output_dir=results) as assistant:
        reply = assistant.respond("make this 2x bigger", attachments=[pictures / "cat.png"])
    (call,) = reply.tool_calls
    assert (
        call.ok and Path(call.output_path).parent == results and Path(call.comparison_path).parent == results
    )
    assert sorted(p.name for p in pictures.iterdir()) == ["cat.png"]


def test_a_failing_upscaler_is_reported_not_raised(assistant: Assistant, pictures: Path) -> None:
    assistant.upscale = assistant.upscale.model_copy(update={"model": str(pictures / "missing.safetensors")})
    call = assistant.respond("upscale cat.png 2x").tool_calls[0]
    assert isinstance(call, ToolCall) and not call.ok and "missing.safetensors" in call.error


@pytest.mark.parametrize(
    ("writer", "reason", "expected"),
    [
        ("openai", None, "written by openai"),
        (
            "openai",
            "the model server timed out; the answer could not be translated and is in English.",
            "written by openai (the model server timed out; the answer could not be translated and is in English.)",
        ),
        (
            "extractive",
            "The model server failed (HTTP 500: boom) after 3 tries; this is the offline answer.",
            "written by extractive (the openai writer failed: The model server failed (HTTP 500: boom)",
        ),
        (
            "extractive",
            "no supported sentence",
            "written by extractive (the openai writer's answer was rejected: no",
        ),
    ],
)
def test_the_writer_line_says_why_the_answer_is_not_the_models_own(
    writer: str, reason: str | None, expected: str
) -> None:
    from zoomqa.agent.compose.answer import Answer
    from zoomqa.agent.doors.render import writer_line

    answer = Answer(
        question="q", relevant=True, task=(), writer=writer, requested_writer="openai", fallback_reason=reason
    )
    assert writer_line(answer).startswith(expected)

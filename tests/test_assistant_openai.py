"""The openai path: the model plans the turn with a real tool call, over HTTP to a scripted server on 127.0.0.1."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from test_writer_openai import REPLY, Reply, ScriptedServer, error_body

from zoomqa.agent.turn.assistant import Assistant, Turn
from zoomqa.config import get_settings
from zoomqa.prompts import load_prompt

KEY = "sk-assistant-test-5555"


def event(delta: dict, finish: str | None = None) -> str:
    chunk = {
        "id": "c1",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": "scripted",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return f"data: {json.dumps(chunk)}\n\n"


def tool_call_reply(arguments: dict) -> Reply:
    """A streamed assistant message that calls upscale_image, as OpenAI sends it (arguments in pieces)."""
    text = json.dumps(arguments)
    head = {
        "index": 0,
        "id": "call_abc",
        "type": "function",
        "function": {"name": "upscale_image", "arguments": ""},
    }
    body = event({"role": "assistant", "content": None, "tool_calls": [head]})
    for piece in (text[: len(text) // 2], text[len(text) // 2 :]):
        body += event({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]})
    body += event({}, "tool_calls") + "data: [DONE]\n\n"
    return Reply(body=body, content_type="text/event-stream")


@pytest.fixture()
def pictures(tmp_path: Path) -> Path:
    folder = tmp_path / "pictures"
    folder.mkdir()
    Image.fromarray(np.random.default_rng(2).integers(0, 256, (12, 16, 3), dtype=np.uint8)).save(
        folder / "cat.png"
    )
    return folder


@pytest.fixture()
def server(indexed_home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ScriptedServer]:
    scripted = ScriptedServer()
    monkeypatch.setenv("OPENAI_BASE_URL", scripted.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.setenv("ZOOMQA_ANSWER__MAX_RETRIES", "0")
    get_settings.cache_clear()
    yield scripted
    scripted.close()


@pytest.fixture()
def assistant(server: ScriptedServer, pictures: Path) -> Iterator[Assistant]:
    with Assistant.from_settings(get_settings(), writer="openai", allowed_dirs=[pictures]) as opened:
        yield opened


def test_the_model_calls_the_tool_and_the_answer_reports_it(
    assistant: Assistant, server: ScriptedServer, pictures: Path
) -> None:
    server.replies = [tool_call_reply({"path": "cat.png", "scale": 2.5}), Reply(chunks=REPLY)]
    reply = assistant.respond("could you make my cat.png 2.5 times bigger")
    (call,) = reply.tool_calls
    assert call.ok and call.arguments == {"path": "cat.png", "scale": 2.5} and call.output_size == (40, 30)
    with Image.open(pictures / "cat_x2.5.png") as out:
        assert out.size == (40, 30)
    assert (pictures / "cat_x2.5_compare.png").is_file()
    assert "2.5x" in reply.condensed_question
    assert any("cat.png went from 16x12 to 40x30" in s.text for s in reply.answer.statements)

    # one planning call, then the writer: the model is not asked again after the tool ran
    (plan_headers, plan), (_, write) = server.requests
    assert plan_headers["authorization"] == f"Bearer {KEY}"
    (tool,) = plan["tools"]
    assert tool["function"]["name"] == "upscale_image"
    assert set(tool["function"]["parameters"]["properties"]) == {
        "path",
        "scale",
        "width",
        "height",
        "long_side",
        "output_name",
        "damaged",
    }
    assert plan["messages"][0]["role"] == "system" and "upscale_image" in plan["messages"][0]["content"]
    assert plan["messages"][-1] == {"role": "user", "content": "could you make my cat.png 2.5 times bigger"}
    assert "tools" not in write and reply.condensed_question in write["messages"][-1]["content"]


def test_without_a_tool_call_the_model_condenses_the_follow_up(
    assistant: Assistant, server: ScriptedServer
) -> None:
    standalone = "Does LIIF also stay crisp when a photo is enlarged 8x?"
    server.replies = [Reply(chunks=[standalone]), Reply(chunks=REPLY)]
    history = [
        Turn(role="user", text="I blew up an old photo 10x and it stayed crisp - how?"),
        Turn(role="assistant", text="LIIF reads features at any coordinate."),
    ]
    reply = assistant.respond("and at 8x?", history=history)
    assert reply.tool_calls == [] and reply.condensed_question == standalone
    plan = server.requests[0][1]
    assert [m["role"] for m in plan["messages"]] == ["system", "user", "assistant", "user"]
    assert plan["messages"][1]["content"] == history[0].text
    assert standalone in server.requests[1][1]["messages"][-1]["content"]


def test_a_tool_call_outside_the_allowed_folders_is_one_sentence(
    assistant: Assistant, server: ScriptedServer, tmp_path: Path
) -> None:
    server.replies = [tool_call_reply({"path": "/etc/passwd.png", "scale": 2}), Reply(chunks=REPLY)]
    reply = assistant.respond("upscale /etc/passwd.png 2x")
    (call,) = reply.tool_calls
    assert not call.ok and "outside the folders" in call.error
    assert reply.answer.task[0].text.startswith("I could not enlarge passwd.png: ")


def test_a_server_that_is_down_plans_and_answers_offline(
    indexed_home: Path, pictures: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("OPENAI_BASE_URL", f"http://127.0.0.1:{port}/v1")
    monkeypatch.setenv("ZOOMQA_ANSWER__MAX_RETRIES", "0")
    get_settings.cache_clear()
    with Assistant.from_settings(get_settings(), writer="openai", allowed_dirs=[pictures]) as assistant:
        reply = assistant.respond("upscale cat.png 2x")
    (call,) = reply.tool_calls  # the deterministic parser read the request
    assert call.ok and call.output_size == (32, 24)
    answer = reply.answer
    assert answer.writer == "extractive" and answer.requested_writer == "openai"
    assert answer.fallback_reason == (
        f"Cannot reach the model server at http://127.0.0.1:{port}/v1 (is it running, and is "
        "OPENAI_BASE_URL right?); this is the offline answer."
    )
    assert any("cat.png went from 16x12 to 32x24" in s.text for s in answer.statements)


def test_a_scale_written_as_text_is_coerced_by_the_tools_schema(
    assistant: Assistant, server: ScriptedServer, pictures: Path
) -> None:
    server.replies = [tool_call_reply({"path": "cat.png", "scale": "3"}), Reply(chunks=REPLY)]
    reply = assistant.respond("make cat.png three times bigger")
    (call,) = reply.tool_calls
    assert call.ok and call.arguments == {"path": "cat.png", "scale": 3.0} and call.output_size == (48, 36)
    with Image.open(pictures / "cat_x3.png") as out:
        assert out.size == (48, 36)
    assert "3x" in reply.condensed_question
    # the writer is told what the upscaler did, and the answer reports it
    told = server.requests[1][1]["messages"][-1]["content"]
    assert "What the upscaler just did for this person" in told and "cat.png went from 16x12 to 48x36" in told
    assert str(pictures / "cat_x3.png") in told
    assert any("cat.png went from 16x12 to 48x36" in s.text for s in reply.answer.statements)


def test_invalid_tool_arguments_fall_back_to_the_request_parser(
    assistant: Assistant, server: ScriptedServer, pictures: Path
) -> None:
    server.replies = [tool_call_reply({"path": "cat.png", "scale": "three"}), Reply(chunks=REPLY)]
    reply = assistant.respond("upscale cat.png 3x please")
    (call,) = reply.tool_calls
    assert call.ok and call.arguments == {"path": "cat.png", "scale": 3.0} and call.output_size == (48, 36)
    assert len(server.requests) == 2


def test_invalid_tool_arguments_the_parser_cannot_replace_are_one_sentence(
    assistant: Assistant, server: ScriptedServer, pictures: Path
) -> None:
    server.replies = [tool_call_reply({"path": "cat.png", "scale": "huge"}), Reply(chunks=REPLY)]
    reply = assistant.respond("cat.png, but huge")
    (call,) = reply.tool_calls
    assert not call.ok and call.error.startswith("the model gave invalid arguments (scale: Input should be")
    assert reply.answer.task[0].text.startswith("I could not enlarge cat.png: the model gave invalid")
    assert not list(pictures.glob("cat_*"))


def test_a_text_reply_to_an_upscale_request_falls_back_to_the_request_parser(
    assistant: Assistant, server: ScriptedServer, pictures: Path
) -> None:
    server.replies = [Reply(chunks=["How does LIIF enlarge cat.png 3x?"]), Reply(chunks=REPLY)]
    reply = assistant.respond("please upscale cat.png 3x")
    (call,) = reply.tool_calls
    assert call.ok and call.output_size == (48, 36)
    assert (pictures / "cat_x3.png").is_file()


def test_a_failing_planner_leaves_the_turn_to_the_offline_path(
    assistant: Assistant, server: ScriptedServer, pictures: Path
) -> None:
    server.replies = [Reply(502, body="Bad Gateway", content_type="text/plain")]
    reply = assistant.respond("please upscale cat.png 2.5x")
    (call,) = reply.tool_calls
    assert call.ok and call.output_size == (40, 30)
    assert reply.answer.writer == "extractive"
    assert (
        reply.answer.fallback_reason
        == "The model server failed (HTTP 502: Bad Gateway); this is the offline answer."
    )
    assert len(server.requests) == 1  # the writer does not ask a server that just failed


def test_a_failing_writer_after_the_tool_ran_keeps_the_tools_report(
    assistant: Assistant, server: ScriptedServer, pictures: Path
) -> None:
    server.replies = [
        tool_call_reply({"path": "cat.png", "scale": 2}),
        Reply(500, body=error_body("oom", "x")),
    ]
    reply = assistant.respond("upscale cat.png 2x")
    assert reply.tool_calls[0].ok
    assert (
        reply.answer.fallback_reason == "The model server failed (HTTP 500: oom); this is the offline answer."
    )
    assert any("cat.png went from 16x12 to 32x24" in s.text for s in reply.answer.statements)
    assert {"input", "model", "output"} <= {step.stage for step in reply.answer.steps}


def test_a_trickling_writer_is_cut_at_the_deadline(
    server: ScriptedServer, pictures: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ZOOMQA_ANSWER__DEADLINE_S", "1.5")
    get_settings.cache_clear()
    server.replies = [Reply(chunks=["Task: ", "more "], trickle_s=0.4)]
    with Assistant.from_settings(get_settings(), writer="openai", allowed_dirs=[pictures]) as assistant:
        started = time.monotonic()
        reply = assistant.respond("Why does LIIF stay crisp at 10x?")
        took = time.monotonic() - started
    assert took < 10
    assert reply.answer.writer == "extractive" and reply.answer.relevant
    assert reply.answer.fallback_reason == (
        "The model had not finished after 1.5 s, the deadline (answer.deadline_s, "
        "ZOOMQA_ANSWER__DEADLINE_S); this is the offline answer."
    )
    assert reply.answer.timings.total_s >= 1.5


def test_planning_and_writing_share_one_deadline(
    server: ScriptedServer, pictures: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ZOOMQA_ANSWER__DEADLINE_S", "3")
    get_settings.cache_clear()
    standalone = "Does LIIF also stay crisp when a photo is enlarged 8x?"
    server.replies = [Reply(chunks=[standalone], delay_s=2.0), Reply(chunks=["Task: "], trickle_s=0.3)]
    history = [Turn(role="user", text="I blew up an old photo 10x and it stayed crisp - how?")]
    with Assistant.from_settings(get_settings(), writer="openai", allowed_dirs=[pictures]) as assistant:
        started = time.monotonic()
        reply = assistant.respond("and at 8x?", history=history)
        took = time.monotonic() - started
    assert reply.condensed_question == standalone and len(server.requests) == 2
    assert reply.answer.fallback_reason.startswith("The model had not finished after 3 s, the deadline")
    assert 3 <= took < 4.5  # the writer had the 1 s planning left, not 3 s of its own


def test_a_lone_question_without_a_picture_needs_no_planning_call(
    assistant: Assistant, server: ScriptedServer
) -> None:
    server.replies = [Reply(chunks=REPLY)]
    reply = assistant.respond("Why does LIIF stay crisp at 10x?")
    assert reply.condensed_question == "Why does LIIF stay crisp at 10x?" and reply.tool_calls == []
    ((_, body),) = server.requests
    assert "tools" not in body


GERMAN = "Warum bleibt ein altes Foto bei einer 10-fachen Vergrößerung mit LIIF scharf?"
ENGLISH = "Why does an old photo stay sharp when LIIF enlarges it 10x?"
ENGLISH_ANSWER = (
    "Task: Enlarging a photo to any size, including extreme zooms like 10x, with one model [1].\n"
    "Input: A low-resolution RGB photo plus the wanted output size [1].\n"
    "Model: An EDSR-baseline encoder turns the photo into a grid of feature vectors, one per input pixel [1].\n"
    "Output: An RGB image of exactly the requested width and height [1].\n"
    "Why: LIIF-EDSR keeps edges clean at a 10x enlargement because each output pixel is decoded from "
    "learned features at its exact position [1].\n"
)
GERMAN_ANSWER = [
    "Ein Foto auf jede Größe vergrößern, auch extreme Zooms wie 10x, mit einem Modell.",
    "Ein RGB-Foto mit niedriger Auflösung und die gewünschte Ausgabegröße.",
    "Ein EDSR-Baseline-Encoder macht aus dem Foto ein Raster von Merkmalsvektoren, einen pro Eingabepixel.",
    "Ein RGB-Bild mit genau der gewünschten Breite und Höhe.",
    "LIIF-EDSR hält Kanten bei 10-facher Vergrößerung sauber, weil jedes Ausgabepixel an seiner genauen "
    "Position aus gelernten Merkmalen dekodiert wird.",
]


def test_a_german_question_is_searched_in_english_and_answered_in_german(
    assistant: Assistant, server: ScriptedServer
) -> None:
    numbered = "".join(f"{i}. {line}\n" for i, line in enumerate(GERMAN_ANSWER, 1))
    server.replies = [Reply(chunks=[ENGLISH]), Reply(chunks=[ENGLISH_ANSWER]), Reply(chunks=[numbered])]
    reply = assistant.respond(GERMAN)
    # planning: the model puts the lone German question into English, which is what is searched
    plan, write, translate = (body for _, body in server.requests)
    assert plan["messages"][-1] == {"role": "user", "content": GERMAN}
    assert "standalone question in English" in plan["messages"][0]["content"]
    assert reply.condensed_question == ENGLISH and reply.tool_calls == []
    prompt = write["messages"][-1]["content"]
    assert f"Question: {ENGLISH}" in prompt and GERMAN not in prompt
    assert "[1] traits:" in prompt  # the writer read the English cards
    # the guard checked the English draft; the person reads it in German, each sentence with its sources
    answer = reply.answer
    assert answer.writer == "openai" and answer.fallback_reason is None, answer.guard_notes
    assert [s.text for s in answer.statements] == GERMAN_ANSWER
    assert all(s.sources for s in answer.statements)
    assert {step.stage for step in answer.steps} == {"input", "model", "output", "why"}
    told = translate["messages"][-1]["content"]
    assert '"de"' in told and GERMAN in told and "1. Enlarging a photo to any size" in told
    assert "tools" not in write and "tools" not in translate


def test_a_translation_cut_at_the_deadline_leaves_the_answer_in_english_with_a_note(
    server: ScriptedServer, pictures: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ZOOMQA_ANSWER__DEADLINE_S", "3")
    get_settings.cache_clear()
    server.replies = [
        Reply(chunks=[ENGLISH], delay_s=1.0),
        Reply(chunks=[ENGLISH_ANSWER]),
        Reply(chunks=["1. Ein Foto "], trickle_s=0.3),
    ]
    with Assistant.from_settings(get_settings(), writer="openai", allowed_dirs=[pictures]) as assistant:
        started = time.monotonic()
        reply = assistant.respond(GERMAN)
        took = time.monotonic() - started
    assert 3 <= took < 4.5  # planning, writing and translating share the turn's deadline
    answer = reply.answer
    assert answer.writer == "openai" and answer.statements[0].text.startswith("Enlarging a photo")
    assert answer.fallback_reason == (
        "The model had not finished after 3 s, the deadline (answer.deadline_s, ZOOMQA_ANSWER__DEADLINE_S); "
        "the answer could not be translated and is in English."
    )


def test_a_german_question_without_a_model_gets_the_offline_please_ask_in_english(
    indexed_home: Path, pictures: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("OPENAI_BASE_URL", f"http://127.0.0.1:{port}/v1")
    monkeypatch.setenv("ZOOMQA_ANSWER__MAX_RETRIES", "0")
    get_settings.cache_clear()
    with Assistant.from_settings(get_settings(), writer="openai", allowed_dirs=[pictures]) as assistant:
        reply = assistant.respond(GERMAN)
    answer = reply.answer
    assert not answer.relevant and answer.writer == "none"
    assert [s.text for s in answer.task] == [load_prompt("english_only", question=GERMAN)]
    assert answer.fallback_reason is not None and answer.fallback_reason.startswith(
        "Cannot reach the model server"
    )

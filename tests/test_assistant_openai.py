"""The openai path: the model plans the turn with a real tool call, over HTTP to a scripted server on 127.0.0.1."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from test_writer_openai import REPLY, Reply, ScriptedServer

from zoomqa.agent.turn.assistant import Assistant, Turn
from zoomqa.config import get_settings
from zoomqa.errors import ZoomqaError

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

    (plan_headers, plan), (_, write) = (
        server.requests
    )  # no second planning call after the tool: return_direct
    assert plan_headers["authorization"] == f"Bearer {KEY}"
    (tool,) = plan["tools"]
    assert tool["function"]["name"] == "upscale_image"
    assert set(tool["function"]["parameters"]["properties"]) == {
        "path",
        "scale",
        "width",
        "height",
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


def test_a_server_that_is_down_is_one_clear_error(
    indexed_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("OPENAI_BASE_URL", f"http://127.0.0.1:{port}/v1")
    monkeypatch.setenv("ZOOMQA_ANSWER__MAX_RETRIES", "0")
    get_settings.cache_clear()
    with (
        Assistant.from_settings(get_settings(), writer="openai") as assistant,
        pytest.raises(ZoomqaError, match="cannot reach"),
    ):
        assistant.respond("upscale cat.png 2x")


def test_a_lone_question_without_a_picture_needs_no_planning_call(
    assistant: Assistant, server: ScriptedServer
) -> None:
    server.replies = [Reply(chunks=REPLY)]
    reply = assistant.respond("Why does LIIF stay crisp at 10x?")
    assert reply.condensed_question == "Why does LIIF stay crisp at 10x?" and reply.tool_calls == []
    ((_, body),) = server.requests
    assert "tools" not in body

"""A failing model is not a failure for the user: `zoomqa ask` against a scripted server on 127.0.0.1.

Each test runs the installed command in a subprocess, pointed at the stand-in the way the
README says (``OPENAI_BASE_URL``), and scripts what the server does: fail with 500, refuse
with 400, trickle tokens forever, stop at max_tokens mid-sentence, call the tool with a scale
written as text, reply in words to a request to enlarge.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from test_assistant_openai import tool_call_reply
from test_writer_openai import Reply, ScriptedServer, error_body
from typer.testing import CliRunner

from zoomqa.agent.doors.faq.entries import QuestionGroup
from zoomqa.agent.doors.faq.generator import AnswerCache, collect
from zoomqa.agent.llm.failures import OFFLINE
from zoomqa.cli import app

TEN_X = "I blew up an old photo 10x and it stayed crisp - how?"
DEADLINE_S = 3.0


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    scripted = ScriptedServer()
    yield scripted
    scripted.close()


@pytest.fixture
def pictures(tmp_path: Path) -> Path:
    folder = tmp_path / "pictures"
    folder.mkdir()
    pixels = np.random.default_rng(3).integers(0, 256, (12, 16, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(folder / "cat.png")
    return folder


def zoomqa(
    server: ScriptedServer, *args: str, cwd: Path | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    """`zoomqa ARGS` as a person runs it, with OPENAI_BASE_URL pointing at the stand-in (no key: a local server)."""
    variables = os.environ | {"OPENAI_BASE_URL": server.base_url} | env
    return subprocess.run(
        [sys.executable, "-m", "zoomqa.cli", *args],
        capture_output=True,
        text=True,
        timeout=180,
        env=variables,
        cwd=cwd,
    )


def server_error(message: str = "boom") -> Reply:
    return Reply(500, body=error_body(message, "server_error"))


def test_a_server_error_ends_in_the_offline_answer_with_a_one_line_note(
    indexed_home: Path, server: ScriptedServer
) -> None:
    server.replies = [server_error()] * 5
    done = zoomqa(server, "ask", "--writer", "openai", TEN_X)
    assert done.returncode == 0, done.stderr
    assert (
        "### Task" in done.stdout
        and "### How it works" in done.stdout
        and "written by extractive" in done.stdout
    )
    notes = [line for line in done.stderr.splitlines() if line.startswith("note:")]
    assert notes == [
        "note: The model server failed (HTTP 500: boom) after 3 tries; this is the offline answer."
    ]
    assert "Traceback" not in done.stderr
    assert len(server.requests) == 3  # two retries at most, whatever max_retries says (default 3)


def test_ask_json_keeps_its_fields_and_says_why_it_fell_back(
    indexed_home: Path, server: ScriptedServer
) -> None:
    server.replies = [server_error("model crashed")] * 3
    done = zoomqa(server, "ask", "--json", "--writer", "openai", TEN_X, ZOOMQA_ANSWER__MAX_RETRIES="0")
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["writer"] == "extractive" and answer["requested_writer"] == "openai"
    assert (
        answer["fallback_reason"]
        == "The model server failed (HTTP 500: model crashed); this is the offline answer."
    )
    assert answer["relevant"] and answer["tool_calls"] == [] and answer["sources"]
    assert {"question", "task", "steps", "guard_notes", "timings"} <= set(answer)
    assert len(server.requests) == 1


def test_a_bad_request_shows_the_servers_own_message_in_one_line(
    indexed_home: Path, server: ScriptedServer
) -> None:
    server.replies = [
        Reply(400, body=error_body("temperature must be at most 1 for [/INST] models", "invalid"))
    ]
    done = zoomqa(server, "ask", "--writer", "openai", TEN_X)
    assert done.returncode == 2
    assert done.stderr.strip() == (
        f"error: {server.base_url} refused the request for model 'gpt-4o-mini' (HTTP 400): "
        "temperature must be at most 1 for (/INST) models"
    )
    assert done.stdout == ""


def test_a_trickling_server_is_cut_at_the_deadline(indexed_home: Path, server: ScriptedServer) -> None:
    server.replies = [Reply(chunks=["Task: ", "more "], trickle_s=0.5)]
    started = time.monotonic()
    done = zoomqa(
        server, "ask", "--json", "--writer", "openai", TEN_X, ZOOMQA_ANSWER__DEADLINE_S=str(DEADLINE_S)
    )
    took = time.monotonic() - started
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["fallback_reason"] == (
        f"The model had not finished after {DEADLINE_S:g} s, the deadline (answer.deadline_s, "
        "ZOOMQA_ANSWER__DEADLINE_S); this is the offline answer."
    )
    assert DEADLINE_S <= answer["timings"]["total_s"] < DEADLINE_S + 3
    assert took < 60  # the whole command, start-up included


def _labelled(answer: dict[str, Any]) -> list[str]:
    """The extractive answer as the five labelled lines a model writes."""

    def line(statements: list[dict[str, Any]]) -> str:
        return " ".join(s["text"] + "".join(f" [{n}]" for n in s["sources"][:1]) for s in statements)

    lines = [f"Task: {line(answer['task'])}"]
    lines += [f"{step['stage'].title()}: {line(step['statements'])}" for step in answer["steps"]]
    return lines


def test_a_reply_cut_at_max_tokens_never_shows_half_a_sentence(
    indexed_home: Path, server: ScriptedServer
) -> None:
    extractive = CliRunner().invoke(app, ["ask", "--json", TEN_X])
    assert extractive.exit_code == 0, extractive.output
    lines = _labelled(json.loads(extractive.stdout))
    cut = "\n".join(lines) + " The decoder then blends the four nearest lat"
    server.replies = [Reply(chunks=[cut[:40], cut[40:]], finish="length")]
    done = zoomqa(server, "ask", "--json", "--writer", "openai", TEN_X)
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["writer"] == "openai", answer["fallback_reason"]  # the model's draft, not the fallback
    texts = [s["text"] for s in answer["task"]] + [
        s["text"] for st in answer["steps"] for s in st["statements"]
    ]
    assert texts and not any("blends" in text or text.endswith("lat") for text in texts)
    assert server.requests[0][1]["max_tokens"] == 800


def test_a_scale_written_as_text_enlarges_three_times(
    indexed_home: Path, server: ScriptedServer, pictures: Path
) -> None:
    server.replies = [tool_call_reply({"path": "cat.png", "scale": "3"}), Reply(chunks=["Task: x"])]
    done = zoomqa(server, "ask", "--writer", "openai", "make cat.png three times bigger", cwd=pictures)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    with Image.open(pictures / "cat_x3.png") as enlarged:
        assert enlarged.size == (48, 36)
    assert "cat.png went from 16x12 to 48x36" in " ".join(done.stdout.split())
    told = server.requests[1][1]["messages"][-1]["content"]
    assert "cat.png went from 16x12 to 48x36" in told and "cat_x3.png" in told


def test_a_text_reply_to_an_upscale_request_still_enlarges(
    indexed_home: Path, server: ScriptedServer, pictures: Path
) -> None:
    server.replies = [Reply(chunks=["How does LIIF enlarge cat.png 3x?"]), Reply(chunks=["Task: x"])]
    done = zoomqa(server, "ask", "--json", "--writer", "openai", "please upscale cat.png 3x", cwd=pictures)
    assert done.returncode == 0, done.stderr
    (call,) = json.loads(done.stdout)["tool_calls"]
    assert (
        call["ok"]
        and call["arguments"] == {"path": "cat.png", "scale": 3.0}
        and call["output_size"] == [48, 36]
    )
    assert (pictures / "cat_x3.png").is_file()


def test_the_faq_never_caches_the_offline_answer_as_the_models(tmp_path: Path) -> None:
    cache = AnswerCache(tmp_path / "faq-cache", index="i", writer="openai:m@u", prompts="p")
    groups = [QuestionGroup("what is LIIF?", ())]
    failed = {"writer": "extractive", "fallback_reason": "The model server failed (HTTP 500); " + OFFLINE}
    written = {"writer": "openai", "fallback_reason": None}
    asked: list[str] = []

    def ask(answer: dict[str, Any]) -> Any:
        return lambda question: asked.append(question) or answer

    items, hits = collect(groups, ask(failed), cache, on_progress=lambda items: None)
    assert items[0].answer == failed and hits == 0
    assert not list((tmp_path / "faq-cache").glob("*.json"))
    items, hits = collect(groups, ask(written), cache, on_progress=lambda items: None)  # asked again
    assert asked == ["what is LIIF?"] * 2 and hits == 0 and items[0].answer == written
    items, hits = collect(groups, ask(failed), cache, on_progress=lambda items: None)
    assert hits == 1 and items[0].answer == written and len(asked) == 2
    # the offline answer cached by an earlier version is answered again, not reused
    cache.path("what is LIIF?").write_text(json.dumps({"question": "what is LIIF?", "answer": failed}))
    assert cache.get("what is LIIF?") is None
    # a draft the guard rejected was the model's answer: kept, with its reason
    rejected = {"writer": "extractive", "fallback_reason": "off-format: no 'Input:' line"}
    assert cache.put("what is LIIF?", rejected) and cache.get("what is LIIF?") == rejected

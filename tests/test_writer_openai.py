"""The openai writer over real HTTP against a scripted OpenAI-compatible server on 127.0.0.1.

Each test scripts the server's replies (streamed chunks, 429, 500, a stall, a trickle, a
broken body, 400, 401, 404, a reply cut at max_tokens) and drives the real writer:
langchain-openai, the openai client, our retries, deadline and error messages.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from zoomqa.agent.compose.evidence import Evidence
from zoomqa.agent.compose.writers import build_writer, without_cut_sentence
from zoomqa.agent.llm.failures import ModelUnavailable
from zoomqa.config import AnswerSettings
from zoomqa.errors import ZoomqaError
from zoomqa.index.embedding import load_embedder
from zoomqa.index.records import read_bundled_corpus
from zoomqa.index.results import Hit, SearchResult

KEY = "sk-test-0123456789-secret"
REPLY = [
    "Task: Enlarging",
    " a photo 10x [1].\nInput: A low-resolution photo.\n",
    "Model: An MLP",
    " [1].\nOutput: A big photo.",
]


@dataclass
class Reply:
    status: int = 200
    chunks: list[str] = field(default_factory=list)  # streamed as server-sent events
    body: str = ""  # sent as is when there are no chunks
    delay_s: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json"
    finish: str | None = None  # the finish_reason of a last, empty chunk ("length": cut at max_tokens)
    trickle_s: float = 0.0  # > 0: send one chunk every trickle_s seconds, the last one forever


def sse(text: str, finish: str | None = None) -> str:
    delta = {"role": "assistant", "content": text} if text else {}
    chunk = {
        "id": "c1",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": "scripted",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return f"data: {json.dumps(chunk)}\n\n"


TRICKLE_LIMIT_S = 120.0  # a trickling reply stops by itself after this, should nobody hang up


def error_body(message: str, kind: str) -> str:
    return json.dumps({"error": {"message": message, "type": kind, "code": None}})


class ScriptedServer:
    """Answers each POST with the next scripted reply and records what it was sent."""

    def __init__(self) -> None:
        self.replies: list[Reply] = []
        self.requests: list[tuple[dict[str, str], dict]] = []
        self.hung_up: list[float] = []  # seconds into a trickle when the client closed the connection
        self.short_by = 0  # > 0: Content-Length promises this many bytes more than are sent
        script = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                script.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
                reply = (
                    script.replies.pop(0) if script.replies else Reply(500, body=error_body("no script", "x"))
                )
                time.sleep(reply.delay_s)
                if reply.trickle_s > 0:
                    self.trickle(reply)
                    return
                self.send_response(reply.status)
                self.send_header("Content-Type", "text/event-stream" if reply.chunks else reply.content_type)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                finish = sse("", reply.finish) if reply.finish else ""
                payload = (
                    ("".join(sse(c) for c in reply.chunks) + finish + "data: [DONE]\n\n")
                    if reply.chunks
                    else reply.body
                )
                data = payload.encode()
                self.send_header("Content-Length", str(len(data) + script.short_by))
                self.end_headers()
                self.wfile.write(data)

            def trickle(self, reply: Reply) -> None:
                """A server that never finishes: a chunk every trickle_s seconds until the client hangs up."""
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                started = time.monotonic()
                sent = 0
                try:
                    while time.monotonic() - started < TRICKLE_LIMIT_S:
                        text = reply.chunks[min(sent, len(reply.chunks) - 1)] if reply.chunks else "more "
                        self.wfile.write(sse(text).encode())
                        self.wfile.flush()
                        sent += 1
                        time.sleep(reply.trickle_s)
                except OSError:  # the client hung up
                    script.hung_up.append(time.monotonic() - started)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    scripted = ScriptedServer()
    yield scripted
    scripted.close()


@pytest.fixture(scope="module")
def evidence() -> Evidence:
    records = {r.id: r for r in read_bundled_corpus()}
    result = SearchResult(
        question="I blew up an old photo 10x and it stayed crisp - how?",
        models=(Hit(records["SISR-Any-LIIF-EDSR"], 1.0, 0.6),),
        papers=(Hit(records["paper:liif"], 0.9, 0.6),),
    )
    return Evidence.gather(result, load_embedder())


def writer_for(
    base_url: str | None,
    *,
    key: str | None = KEY,
    retries: int = 0,
    timeout_s: float = 10.0,
    deadline_s: float = 30.0,
    max_tokens: int | None = 64,
):
    settings = AnswerSettings(
        openai_base_url=base_url,
        openai_api_key=key,
        openai_model="scripted-model",
        max_retries=retries,
        timeout_s=timeout_s,
        deadline_s=deadline_s,
        **({} if max_tokens is None else {"max_tokens": max_tokens}),
    )
    return build_writer("openai", settings)


def test_streams_the_reply_and_sends_the_sources(server: ScriptedServer, evidence: Evidence) -> None:
    server.replies = [Reply(chunks=REPLY)]
    tokens: list[str] = []
    draft = writer_for(server.base_url).write(evidence, tokens.append)
    assert tokens == REPLY
    assert [s.text for s in draft.task] == ["Enlarging a photo 10x."]
    assert draft.missing_parts() == []
    ((headers, body),) = server.requests
    assert headers["authorization"] == f"Bearer {KEY}"
    assert body["stream"] is True and body["model"] == "scripted-model" and body["max_tokens"] == 64
    prompt = body["messages"][-1]["content"]
    assert evidence.question in prompt
    assert "[1] LIIF with EDSR-baseline encoder" in prompt and "[2] Learning Continuous Image" in prompt


def test_a_served_model_may_write_800_tokens_unless_max_tokens_is_set(
    server: ScriptedServer, evidence: Evidence
) -> None:
    server.replies = [Reply(chunks=REPLY)]
    writer_for(server.base_url, max_tokens=None).write(evidence)
    ((_, body),) = server.requests
    assert body["max_tokens"] == 800


def test_a_reply_cut_at_max_tokens_loses_its_unfinished_sentence(
    server: ScriptedServer, evidence: Evidence
) -> None:
    cut = [*REPLY, "\nWhy: It reads features at any coordinate [1]. Then it blends the fo"]
    server.replies = [Reply(chunks=cut, finish="length")]
    draft = writer_for(server.base_url).write(evidence)
    (why,) = [step for step in draft.steps if step.stage == "why"]
    assert [s.text for s in why.statements] == ["It reads features at any coordinate."]
    assert "blends" not in " ".join(s.text for s in draft.statements)


def test_a_reply_that_ended_by_itself_keeps_its_last_sentence(
    server: ScriptedServer, evidence: Evidence
) -> None:
    server.replies = [Reply(chunks=[*REPLY, "\nWhy: It reads features at any coordinate"], finish="stop")]
    draft = writer_for(server.base_url).write(evidence)
    assert "It reads features at any coordinate" in [s.text for s in draft.statements]


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("Task: A [1].\nInput: B. C is cu", "Task: A [1].\nInput: B."),
        ("Task: A [1]\nInput: B and", "Task: A [1]\n"),
        ("Output: 3.5x bigger. It was", "Output: 3.5x bigger."),
        ('Why: "Quoted." [2] The next', 'Why: "Quoted." [2]'),
        ("Task: cut in the first line", ""),
    ],
)
def test_without_cut_sentence(text: str, kept: str) -> None:
    assert without_cut_sentence(text) == kept


def test_rate_limit_is_retried_with_backoff(server: ScriptedServer, evidence: Evidence) -> None:
    limited = Reply(429, body=error_body("slow down", "rate_limit"), headers={"retry-after-ms": "10"})
    server.replies = [limited, Reply(chunks=REPLY)]
    draft = writer_for(server.base_url, retries=2).write(evidence)
    assert draft.missing_parts() == []
    assert len(server.requests) == 2


def test_server_error_after_the_retries_is_one_line_for_the_offline_answer(
    server: ScriptedServer, evidence: Evidence
) -> None:
    broken = Reply(500, body=error_body("boom", "server_error"), headers={"retry-after-ms": "10"})
    server.replies = [broken, broken]
    with pytest.raises(ModelUnavailable, match=r"^The model server failed \(HTTP 500: boom\) after 2 tries$"):
        writer_for(server.base_url, retries=1).write(evidence)
    assert len(server.requests) == 2


def test_retries_are_at_most_two(server: ScriptedServer, evidence: Evidence) -> None:
    broken = Reply(
        503,
        body="<html><body><h1>503 Service Unavailable</h1></body></html>",
        headers={"retry-after-ms": "10"},
    )
    server.replies = [broken] * 5
    with pytest.raises(ModelUnavailable, match=r"HTTP 503: 503 Service Unavailable\) after 3 tries"):
        writer_for(server.base_url, retries=10).write(evidence)
    assert len(server.requests) == 3


def test_a_long_retry_after_is_not_waited_for_nor_past_the_deadline(
    server: ScriptedServer, evidence: Evidence
) -> None:
    # asked to wait 30 s, the writer waits 2 s, tries again, and stops: a second wait would pass the deadline
    broken = Reply(500, body=error_body("boom", "server_error"), headers={"retry-after": "30"})
    server.replies = [broken] * 3
    started = time.monotonic()
    with pytest.raises(ModelUnavailable, match=r"HTTP 500: boom\) after 2 tries"):
        writer_for(server.base_url, retries=2, deadline_s=3.0).write(evidence)
    assert len(server.requests) == 2 and 2.0 <= time.monotonic() - started < 3.0


def test_a_bad_request_shows_the_servers_own_message(server: ScriptedServer, evidence: Evidence) -> None:
    message = "This model's maximum context length is 2048 tokens.\nPlease shorten the [/INST] messages."
    server.replies = [Reply(400, body=error_body(message, "invalid_request_error"))]
    with pytest.raises(ZoomqaError) as caught:
        writer_for(server.base_url, retries=2).write(evidence)
    assert not isinstance(caught.value, ModelUnavailable)  # the person must fix it: no offline answer
    assert str(caught.value) == (
        f"{server.base_url} refused the request for model 'scripted-model' (HTTP 400): "
        "This model's maximum context length is 2048 tokens. Please shorten the (/INST) messages."
    )
    assert len(server.requests) == 1  # a refused request is not retried


def test_timeout(server: ScriptedServer, evidence: Evidence) -> None:
    server.replies = [Reply(chunks=REPLY, delay_s=2.0)]
    with pytest.raises(ModelUnavailable, match="did not answer within 0.3 s"):
        writer_for(server.base_url, timeout_s=0.3).write(evidence)


def test_a_trickling_server_is_cut_at_the_deadline(server: ScriptedServer, evidence: Evidence) -> None:
    server.replies = [Reply(chunks=["Task: Enlarging ", "a photo "], trickle_s=0.3)]
    tokens: list[str] = []
    started = time.monotonic()
    with pytest.raises(ModelUnavailable, match="had not finished after 1.5 s, the deadline"):
        writer_for(server.base_url, timeout_s=10, deadline_s=1.5).write(evidence, tokens.append)
    assert 1.5 <= time.monotonic() - started < 2.5
    assert tokens[:2] == ["Task: Enlarging ", "a photo "]  # what came before the deadline was streamed
    for _ in range(20):  # the connection is closed too, at the next chunk
        if server.hung_up:
            break
        time.sleep(0.1)
    assert server.hung_up and server.hung_up[0] < 3.0


@pytest.mark.parametrize(
    "stream",
    [
        "data: {this is not json\n\ndata: [DONE]\n\n",
        'data: {"id": "c1", "choices": [{"index": 0}]}\n\ndata: [DONE]\n\n',  # a chunk without its delta
    ],
)
def test_malformed_stream(server: ScriptedServer, evidence: Evidence, stream: str) -> None:
    server.replies = [Reply(body=stream, content_type="text/event-stream")]
    with pytest.raises(ModelUnavailable, match="cannot read"):
        writer_for(server.base_url).write(evidence)


def test_a_reply_broken_off_midway(server: ScriptedServer, evidence: Evidence) -> None:
    # the server promises more bytes than it sends, then closes the connection
    server.replies = [Reply(body=sse("Task: Enlarging"), content_type="text/event-stream")]
    server.short_by = 100
    tokens: list[str] = []
    with pytest.raises(ModelUnavailable, match="broke off its reply"):
        writer_for(server.base_url, retries=2).write(evidence, tokens.append)
    assert tokens == ["Task: Enlarging"] and len(server.requests) == 1  # begun: never retried


def test_rejected_key_is_named_but_never_shown(server: ScriptedServer, evidence: Evidence) -> None:
    server.replies = [
        Reply(401, body=error_body(f"Incorrect API key provided: {KEY}", "invalid_request_error"))
    ]
    with pytest.raises(ZoomqaError) as caught:
        writer_for(server.base_url).write(evidence)
    assert "rejected the API key (HTTP 401)" in str(caught.value)
    assert "the server said: Incorrect API key provided: ***" in str(caught.value)
    assert KEY not in str(caught.value) and KEY[:12] not in str(caught.value)


def test_unknown_model(server: ScriptedServer, evidence: Evidence) -> None:
    server.replies = [Reply(404, body=error_body("model not found", "invalid_request_error"))]
    with pytest.raises(ZoomqaError, match="has no model 'scripted-model'.*the server said: model not found"):
        writer_for(server.base_url).write(evidence)


def test_unreachable_server(evidence: Evidence) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(
        ModelUnavailable, match=f"Cannot reach the model server at http://127.0.0.1:{port}/v1"
    ):
        writer_for(f"http://127.0.0.1:{port}/v1").write(evidence)


def test_openai_proper_needs_a_key() -> None:
    with pytest.raises(ZoomqaError, match="OPENAI_API_KEY"):
        writer_for(None, key=None)

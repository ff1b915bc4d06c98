"""The openai writer over real HTTP against a scripted OpenAI-compatible server on 127.0.0.1.

Each test scripts the server's replies (streamed chunks, 429, 500, a stall, a broken body, 401,
404) and drives the real writer: langchain-openai, the openai client with its retries, our
error messages.
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
from zoomqa.agent.compose.writers import build_writer
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


def sse(text: str) -> str:
    chunk = {
        "id": "c1",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": "scripted",
        "choices": [{"index": 0, "delta": {"role": "assistant", "content": text}, "finish_reason": None}],
    }
    return f"data: {json.dumps(chunk)}\n\n"


def error_body(message: str, kind: str) -> str:
    return json.dumps({"error": {"message": message, "type": kind, "code": None}})


class ScriptedServer:
    """Answers each POST with the next scripted reply and records what it was sent."""

    def __init__(self) -> None:
        self.replies: list[Reply] = []
        self.requests: list[tuple[dict[str, str], dict]] = []
        script = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                script.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
                reply = (
                    script.replies.pop(0) if script.replies else Reply(500, body=error_body("no script", "x"))
                )
                time.sleep(reply.delay_s)
                self.send_response(reply.status)
                self.send_header("Content-Type", "text/event-stream" if reply.chunks else reply.content_type)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                payload = (
                    ("".join(sse(c) for c in reply.chunks) + "data: [DONE]\n\n")
                    if reply.chunks
                    else reply.body
                )
                data = payload.encode()
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

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


def writer_for(base_url: str | None, *, key: str | None = KEY, retries: int = 0, timeout_s: float = 10.0):
    settings = AnswerSettings(
        openai_base_url=base_url,
        openai_api_key=key,
        openai_model="scripted-model",
        max_retries=retries,
        timeout_s=timeout_s,
        max_tokens=64,
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


def test_rate_limit_is_retried_with_backoff(server: ScriptedServer, evidence: Evidence) -> None:
    limited = Reply(429, body=error_body("slow down", "rate_limit"), headers={"retry-after-ms": "10"})
    server.replies = [limited, Reply(chunks=REPLY)]
    draft = writer_for(server.base_url, retries=2).write(evidence)
    assert draft.missing_parts() == []
    assert len(server.requests) == 2


def test_server_error_after_the_retries_is_one_clear_error(
    server: ScriptedServer, evidence: Evidence
) -> None:
    broken = Reply(500, body=error_body("boom", "server_error"), headers={"retry-after-ms": "10"})
    server.replies = [broken, broken]
    with pytest.raises(ZoomqaError, match=r"HTTP 500.*try again later"):
        writer_for(server.base_url, retries=1).write(evidence)
    assert len(server.requests) == 2


def test_timeout(server: ScriptedServer, evidence: Evidence) -> None:
    server.replies = [Reply(chunks=REPLY, delay_s=2.0)]
    with pytest.raises(ZoomqaError, match="did not answer in time.*ZOOMQA_ANSWER__TIMEOUT_S"):
        writer_for(server.base_url, timeout_s=0.3).write(evidence)


def test_malformed_stream(server: ScriptedServer, evidence: Evidence) -> None:
    server.replies = [
        Reply(body="data: {this is not json\n\ndata: [DONE]\n\n", content_type="text/event-stream")
    ]
    with pytest.raises(ZoomqaError, match="cannot read"):
        writer_for(server.base_url).write(evidence)


def test_rejected_key_is_named_but_never_shown(server: ScriptedServer, evidence: Evidence) -> None:
    server.replies = [
        Reply(401, body=error_body(f"Incorrect API key provided: {KEY}", "invalid_request_error"))
    ]
    with pytest.raises(ZoomqaError) as caught:
        writer_for(server.base_url).write(evidence)
    assert "rejected the API key (HTTP 401)" in str(caught.value)
    assert KEY not in str(caught.value) and KEY[:12] not in str(caught.value)


def test_unknown_model(server: ScriptedServer, evidence: Evidence) -> None:
    server.replies = [Reply(404, body=error_body("model not found", "invalid_request_error"))]
    with pytest.raises(ZoomqaError, match="has no model 'scripted-model'"):
        writer_for(server.base_url).write(evidence)


def test_unreachable_server(evidence: Evidence) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(ZoomqaError, match=f"cannot reach http://127.0.0.1:{port}/v1"):
        writer_for(f"http://127.0.0.1:{port}/v1").write(evidence)


def test_openai_proper_needs_a_key() -> None:
    with pytest.raises(ZoomqaError, match="OPENAI_API_KEY"):
        writer_for(None, key=None)

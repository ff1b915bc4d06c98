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
from zoomqa.agent.compose.extractive import ExtractiveWriter
from zoomqa.agent.compose.pipeline import Answerer
from zoomqa.agent.compose.writers import build_writer, source_passages, without_cut_sentence
from zoomqa.agent.llm.failures import ModelUnavailable
from zoomqa.config import AnswerSettings
from zoomqa.errors import ZoomqaError
from zoomqa.index.embedding import load_embedder
from zoomqa.index.records import Record, read_bundled_corpus
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
def records() -> dict[str, Record]:
    return {r.id: r for r in read_bundled_corpus()}


@pytest.fixture(scope="module")
def liif_result(records: dict[str, Record]) -> SearchResult:
    return SearchResult(
        question="I blew up an old photo 10x and it stayed crisp - how?",
        models=(Hit(records["SISR-Any-LIIF-EDSR"], 1.0, 0.6),),
        papers=(Hit(records["paper:liif"], 0.9, 0.6),),
    )


@pytest.fixture(scope="module")
def evidence(liif_result: SearchResult) -> Evidence:
    return Evidence.gather(liif_result, load_embedder())


def writer_for(
    base_url: str | None,
    *,
    key: str | None = KEY,
    retries: int = 0,
    timeout_s: float = 10.0,
    deadline_s: float = 30.0,
    max_tokens: int | None = 64,
    source_chars: int = 12_000,
):
    settings = AnswerSettings(
        openai_base_url=base_url,
        openai_api_key=key,
        openai_model="scripted-model",
        max_retries=retries,
        timeout_s=timeout_s,
        deadline_s=deadline_s,
        source_chars=source_chars,
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


def passages_block(prompt: str) -> str:
    """The sources' passages as the answer prompt holds them."""
    return prompt.split("or the sentences of its abstract:\n", 1)[1].split("\n\nThe offline composer", 1)[0]


def test_the_model_reads_the_sources_card_fields_beyond_the_offline_answer(
    server: ScriptedServer, evidence: Evidence
) -> None:
    server.replies = [Reply(chunks=REPLY)]
    writer_for(server.base_url).write(evidence)
    prompt = server.requests[0][1]["messages"][-1]["content"]
    quoted = {s.text for s in ExtractiveWriter().write(evidence).statements}
    unquoted = "LIIF-EDSR has about 1.6 million parameters, most of them in the EDSR-baseline encoder."
    assert unquoted not in quoted
    assert f"[1] facts: {unquoted}" in prompt
    # the paper's own card, and the traits, are read too
    paper_fact = next(t for f, t in evidence.records[1].card_fields() if f == "facts" and t not in quoted)
    assert f"[2] facts: {paper_fact}" in prompt
    assert "[1] traits: role method; handles photos; scale any; output faithful; hardware cpu" in prompt
    # the composer's choice comes as a suggestion, with the format the parser reads
    assert "The offline composer would explain [1] with these points. It is only a suggestion" in prompt
    assert "[1] workflow.input: A low-resolution RGB photo" in prompt
    assert "\nInput: what goes into the model" in prompt and "like [2]" in prompt
    block = passages_block(prompt)
    assert block.startswith("[1] traits:") and len(block) <= 12_000


def test_the_sources_passages_keep_to_the_budget_closest_first(
    server: ScriptedServer, evidence: Evidence
) -> None:
    server.replies = [Reply(chunks=REPLY)]
    writer_for(server.base_url, source_chars=1_500).write(evidence)
    block = passages_block(server.requests[0][1]["messages"][-1]["content"])
    assert 1_000 < len(block) <= 1_500
    assert block == source_passages(evidence, 1_500)
    everything = source_passages(evidence, 1_000_000)
    assert len(everything) > 8_000  # both cards in full
    for budget in (0, 300, 1_500, 4_000, 8_000):
        kept = source_passages(evidence, budget)
        if budget == 0:
            assert kept == "(none)"
            continue
        assert len(kept) <= budget and set(kept.splitlines()) <= set(everything.splitlines())
    # each source keeps the passages closest to the question: none dropped is closer than one kept
    lines = set(block.splitlines())
    for number in (1, 2):
        scored = [
            (float(evidence.closeness[i]), f"[{p.source}] {p.field}: {p.text}" in lines)
            for i, p in enumerate(evidence.passages)
            if p.source == number and p.field not in ("label", "summary")
        ]
        assert min(c for c, kept in scored if kept) >= max(c for c, kept in scored if not kept)


def test_a_record_without_card_fields_is_read_from_its_abstract(records: dict[str, Record]) -> None:
    added = Record(
        id="2301.00001",
        kind="paper",
        title="Fast Attention Upscaling for Phones",
        authors=["Ada Author"],
        year=2023,
        arxiv_id="2301.00001",
        summary=(
            "We propose a network that enlarges pictures on phones in real time. It attends to edges "
            "across the whole picture; it keeps thin lines straight at four times the size. "
            "Experiments show it is fast."
        ),
    )
    result = SearchResult(
        question="Can a phone enlarge a picture 4x in real time?",
        models=(Hit(records["SISR-Any-LIIF-EDSR"], 1.0, 0.6),),
        papers=(Hit(added, 0.9, 0.6),),
    )
    block = source_passages(Evidence.gather(result, load_embedder()), 100_000)
    abstract = [line for line in block.splitlines() if line.startswith("[2]")]
    assert "[2] summary: We propose a network that enlarges pictures on phones in real time." in abstract
    # a sentence cut into clauses is read once, whole
    assert sum("thin lines straight" in line for line in abstract) == 1
    assert not any("traits" in line or "facts" in line for line in abstract)


MARKDOWN_ANSWER = (
    "### Task\n"
    "Enlarging a photo to any size, including extreme zooms like 10x, with one model [1].\n\n"
    "### How it works\n"
    "1. **Input**: A low-resolution RGB photo plus the wanted output size [1].\n"
    "2. **Model**: An EDSR-baseline encoder turns the photo into a grid of feature vectors, one per "
    "input pixel [1]. For every output pixel, an MLP reads a nearby feature vector, the pixel's "
    "coordinate and the cell size [1].\n"
    "3. **Output**: An RGB image of exactly the requested width and height [1].\n\n"
    "**Why it stayed crisp**\n"
    "- LIIF-EDSR keeps edges clean at a 10x enlargement because each output pixel is decoded from "
    "learned features at its exact position [1].\n\n"
    "### Papers and tools\n"
    "1. LIIF with EDSR-baseline encoder\n"
)


def test_a_markdown_answer_is_parsed_and_shown_as_written(
    server: ScriptedServer, liif_result: SearchResult
) -> None:
    server.replies = [Reply(chunks=[MARKDOWN_ANSWER[:200], MARKDOWN_ANSWER[200:]])]
    answer = Answerer(writer_for(server.base_url, max_tokens=None), load_embedder()).answer(liif_result)
    assert answer.writer == "openai" and answer.fallback_reason is None, answer.guard_notes
    assert [s.text for s in answer.task] == [
        "Enlarging a photo to any size, including extreme zooms like 10x, with one model."
    ]
    steps = {step.stage: [s.text for s in step.statements] for step in answer.steps}
    assert steps == {
        "input": ["A low-resolution RGB photo plus the wanted output size."],
        "model": [
            "An EDSR-baseline encoder turns the photo into a grid of feature vectors, one per input pixel.",
            "For every output pixel, an MLP reads a nearby feature vector, the pixel's coordinate and the "
            "cell size.",
        ],
        "output": ["An RGB image of exactly the requested width and height."],
        "why": [
            "LIIF-EDSR keeps edges clean at a 10x enlargement because each output pixel is decoded from "
            "learned features at its exact position."
        ],
    }
    assert all(s.sources for s in answer.statements)


WHICH_TOOL = "Which tool should I use to clean up a meme that was re-shared and saved as JPEG many times?"


def test_an_answer_without_the_workflow_is_accepted_for_a_which_tool_question(
    server: ScriptedServer, records: dict[str, Record]
) -> None:
    result = SearchResult(
        question=WHICH_TOOL,
        models=(Hit(records["JPEG-FBCNN"], 1.0, 0.6),),
        papers=(Hit(records["paper:fbcnn"], 0.9, 0.6), Hit(records["paper:arcnn"], 0.8, 0.5)),
    )
    reply = (
        "**Task**: Removing JPEG compression artefacts from pictures of any quality level with one "
        "network [1].\n"
        "**Why**: FBCNN handles memes and re-shared photos that other blind methods fail on because it "
        "is trained with double JPEG compression whose 8x8 blocks are shifted [1]. Earlier methods such "
        "as AR-CNN trained one model per JPEG quality factor, while FBCNN uses one blind model for all "
        "of them [2].\n"
    )
    server.replies = [Reply(chunks=[reply])]
    answer = Answerer(writer_for(server.base_url, max_tokens=None), load_embedder()).answer(result)
    assert answer.writer == "openai" and answer.fallback_reason is None, answer.guard_notes
    assert [step.stage for step in answer.steps] == ["why"] and len(answer.steps[0].statements) == 2
    assert answer.task[0].text.startswith("Removing JPEG compression artefacts")
    prompt = server.requests[0][1]["messages"][-1]["content"]
    assert "Input:, Model:, Output: only if they help answer this question" in prompt


def test_a_how_question_still_needs_the_workflow(server: ScriptedServer, liif_result: SearchResult) -> None:
    reply = (
        "Task: Enlarging a photo to any size, including extreme zooms like 10x, with one model [1].\n"
        "Why: LIIF-EDSR keeps edges clean at a 10x enlargement because each output pixel is decoded "
        "from learned features at its exact position [1].\n"
    )
    server.replies = [Reply(chunks=[reply])]
    answer = Answerer(writer_for(server.base_url, max_tokens=None), load_embedder()).answer(liif_result)
    assert answer.writer == "extractive"
    assert answer.fallback_reason == "off-format output: no input, model, output part"


def test_translate_keeps_each_line_in_its_place(server: ScriptedServer) -> None:
    server.replies = [Reply(chunks=["1. Eins ist klar.\n", "3) **Drei** auch.\n"])]
    done = writer_for(server.base_url).translate(
        ["One is clear.", "Two.", "Three too."], "de", "Wie geht das?"
    )
    assert done == ["Eins ist klar.", "Two.", "**Drei** auch."]  # a line left out stays as it was
    prompt = server.requests[0][1]["messages"][-1]["content"]
    assert (
        '"de"' in prompt
        and "Wie geht das?" in prompt
        and prompt.endswith("1. One is clear.\n2. Two.\n3. Three too.")
    )

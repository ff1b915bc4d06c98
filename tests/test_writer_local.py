"""The bundled GGUF model: in-process (local writer) and behind llama.cpp's OpenAI-compatible
server (openai writer over real HTTP). Whatever the 135M model writes, the answer a user gets
must be well formed and grounded: the guard keeps or replaces it, and says which."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from zoomqa.agent.compose.answer import REQUIRED_STAGES, Answer
from zoomqa.agent.compose.pipeline import Answerer
from zoomqa.agent.compose.writers import LOCAL_SOURCE_CHARS, build_writer
from zoomqa.agent.llm.llama_cpp_chat import DEFAULT_GGUF_NAME, default_gguf_path, load_gguf
from zoomqa.config import AnswerSettings
from zoomqa.errors import ZoomqaError
from zoomqa.index.embedding import Embedder
from zoomqa.index.records import read_bundled_corpus
from zoomqa.index.results import Hit, SearchResult

pytest.importorskip("llama_cpp", reason="the local writer needs the 'local' extra (llama-cpp-python)")

SERVER_START_S = 120
MAX_TOKENS = 48  # enough to show the format; keeps each completion to seconds on two cores


@pytest.fixture(scope="module")
def result() -> SearchResult:
    records = {r.id: r for r in read_bundled_corpus()}
    return SearchResult(
        question="I blew up an old photo 10x and it stayed crisp - how?",
        models=(Hit(records["SISR-Any-LIIF-EDSR"], 1.0, 0.6),),
        papers=(Hit(records["paper:liif"], 0.9, 0.6),),
    )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """llama-cpp-python's OpenAI-compatible server with the bundled GGUF, once per module."""
    port = _free_port()
    log = tmp_path_factory.mktemp("llama-server") / "server.log"
    command = [sys.executable, "-m", "zoomqa.agent.llm.llama_server", "--model", str(default_gguf_path())]
    command += ["--model_alias", "smollm2", "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "2048"]
    with open(log, "wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=os.environ.copy())
    base_url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + SERVER_START_S
        while True:
            if process.poll() is not None:
                pytest.fail(f"llama.cpp server exited with {process.returncode}:\n{log.read_text()[-2000:]}")
            try:
                urllib.request.urlopen(f"{base_url}/models", timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(
                        f"llama.cpp server did not start in {SERVER_START_S} s:\n{log.read_text()[-2000:]}"
                    )
                time.sleep(0.3)
        yield base_url
    finally:
        process.terminate()
        process.wait(timeout=30)


def check_user_facing(answer: Answer, tokens: list[str]) -> None:
    assert tokens, "the model's text was streamed"
    assert answer.timings.first_token_s is not None
    assert answer.requested_writer in ("local", "openai")
    if answer.writer == "extractive":
        assert answer.fallback_reason  # a rejected draft says why
    else:
        assert answer.fallback_reason is None
    assert answer.task and {s.stage for s in answer.steps} >= set(REQUIRED_STAGES)
    # the paper and its model card are one entry (compose/sources.py)
    assert [s.id for s in answer.sources] == ["SISR-Any-LIIF-EDSR"]
    assert all(n == 1 for s in answer.statements for n in s.sources)


def test_openai_writer_against_the_llama_cpp_server(
    llama_server: str, result: SearchResult, embedder: Embedder
) -> None:
    # the server's 2,048-token context holds what the local writer reads (README: --n_ctx for more)
    settings = AnswerSettings(
        openai_base_url=llama_server,
        openai_model="smollm2",
        max_tokens=MAX_TOKENS,
        source_chars=LOCAL_SOURCE_CHARS,
    )
    tokens: list[str] = []
    answer = Answerer(build_writer("openai", settings), embedder).answer(result, on_token=tokens.append)
    check_user_facing(answer, tokens)


def test_a_wrong_endpoint_on_the_llama_cpp_server_is_named(
    llama_server: str, result: SearchResult, embedder: Embedder
) -> None:
    # llama.cpp answers to any model name; a base URL without /v1 is the mistake it does catch.
    settings = AnswerSettings(openai_base_url=llama_server.removesuffix("/v1"), max_tokens=MAX_TOKENS)
    with pytest.raises(ZoomqaError, match=r"no such endpoint \(HTTP 404\).*ends in /v1"):
        Answerer(build_writer("openai", settings), embedder).answer(result)


def test_local_writer_in_process(result: SearchResult, embedder: Embedder) -> None:
    tokens: list[str] = []
    writer = build_writer("local", AnswerSettings(max_tokens=MAX_TOKENS), threads=1)
    answer = Answerer(writer, embedder).answer(result, on_token=tokens.append)
    check_user_facing(answer, tokens)


def test_a_swapped_bundled_model_file_is_refused(tmp_path: Path) -> None:
    fake = tmp_path / DEFAULT_GGUF_NAME
    fake.write_bytes(b"GGUF" + bytes(64))
    with pytest.raises(ZoomqaError, match="sha256"):
        load_gguf(fake, 1)


def test_an_invalid_gguf_file_is_a_clear_error(tmp_path: Path) -> None:
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"not a gguf file at all")
    with pytest.raises(ZoomqaError, match="cannot load GGUF model"):
        load_gguf(broken, 1)
    with pytest.raises(ZoomqaError, match="not found"):
        load_gguf(tmp_path / "missing.gguf", 1)

"""One interface for everything that writes an answer, and the writers built on chat models.

``extractive`` quotes the sources; ``local`` (a GGUF model in-process) and ``openai`` (any
OpenAI-compatible server) are LangChain chat models prompted with the sources and asked for
five labelled lines, which are parsed into the same :class:`Draft`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol, get_args

from zoomqa.agent.compose.answer import STAGES, Draft, Statement, WorkflowStep
from zoomqa.agent.compose.evidence import Evidence
from zoomqa.agent.compose.extractive import ExtractiveWriter
from zoomqa.config import AnswerSettings, WriterName
from zoomqa.errors import ZoomqaError
from zoomqa.index.sentences import citations, split_sentences, strip_citations
from zoomqa.prompts import load_prompt

WRITERS: tuple[WriterName, ...] = get_args(WriterName)
# Chosen by `zoomqa eval answers` (see agent/README.md, "Writers"): on tests/questions.jsonl the
# extractive writer meets every target (structure, citations, links, support 1.00; p50 0.11 s);
# on a 25-question sample every draft of the 135M local model was rejected by the grounding
# guard (off-format or unsupported), in-process and behind llama.cpp's server alike.
DEFAULT_WRITER: WriterName = "extractive"
NO_SOURCES = "(none)"

_LABEL = re.compile(r"^[\s#>*_-]*(task|input|model|output|why)[\s*_]*[:\-–—][\s*_]*(.*)$", re.IGNORECASE)


class AnswerWriter(Protocol):
    """Writes parts 1 and 2 of an answer from the evidence; part 3 is never written by a model."""

    name: str
    generative: bool

    def write(self, evidence: Evidence, on_token: Callable[[str], None] | None = None) -> Draft: ...


def source_lines(evidence: Evidence) -> str:
    """'[n] Title (year)' for every retrieved source, the numbers a draft may cite."""
    lines = [f"[{s.number}] {s.title} ({s.year})" for s in evidence.sources]
    return "\n".join(lines) or NO_SOURCES


def evidence_lines(plan: Draft) -> str:
    """The composer's chosen sentences, each labelled with its source and card field.

    A generative writer sees the same structured evidence the extractive answer is made of
    (task, workflow steps, the points that answer the question), so it rephrases the right
    work's facts instead of choosing among whole summaries.
    """
    lines = []
    for statement in plan.statements:
        label = (statement.field or "").split(":")[-1] or "text"
        marks = "".join(f"[{n}]" for n in statement.sources)
        lines.append(f"{marks or '[question]'} {label}: {statement.text}")
    return "\n".join(lines) or NO_SOURCES


def parse_labelled_answer(text: str) -> Draft:
    """Read 'Task: ...', 'Input: ...' lines (markdown decoration allowed) into a draft.

    Text before the first label, or under no label, is not part of the answer.
    """
    parts: dict[str, list[str]] = {}
    current: str | None = None
    for line in text.splitlines():
        match = _LABEL.match(line)
        if match:
            current = match.group(1).lower()
            parts.setdefault(current, []).append(match.group(2))
        elif current is not None and line.strip():
            parts[current].append(line.strip())

    def statements(label: str) -> tuple[Statement, ...]:
        found = []
        for sentence in split_sentences(" ".join(parts.get(label, []))):
            text = strip_citations(sentence)
            if text:
                found.append(Statement(text=text, sources=citations(sentence)))
        return tuple(found)

    by_stage = {stage: statements(stage) for stage in STAGES}
    steps = tuple(WorkflowStep(stage=stage, statements=found) for stage, found in by_stage.items() if found)
    return Draft(task=statements("task"), steps=steps)


class ChatWriter:
    """Prompts a LangChain chat model with the sources, streams its reply and parses it."""

    generative = True

    def __init__(self, name: str, model: Any, prompts_dir: Path | None = None) -> None:
        self.name = name
        self.model = model
        self.prompts_dir = prompts_dir
        self.composer = ExtractiveWriter(prompts_dir)

    def messages(self, evidence: Evidence) -> list[Any]:
        from langchain_core.messages import HumanMessage, SystemMessage

        prompt = load_prompt(
            "answer",
            self.prompts_dir,
            question=evidence.question,
            sources=source_lines(evidence),
            anchor=str(evidence.anchor),
            evidence=evidence_lines(self.composer.write(evidence)),
        )
        return [SystemMessage(load_prompt("system", self.prompts_dir)), HumanMessage(prompt)]

    def chunks(self, messages: list[Any]) -> Iterator[str]:
        for chunk in self.model.stream(messages):
            if chunk.text:
                yield chunk.text

    def write(self, evidence: Evidence, on_token: Callable[[str], None] | None = None) -> Draft:
        pieces = []
        for text in self.chunks(self.messages(evidence)):
            pieces.append(text)
            if on_token is not None:
                on_token(text)
        return parse_labelled_answer("".join(pieces))


class OpenAIWriter(ChatWriter):
    """A chat writer whose client failures become errors that say what to fix."""

    def __init__(
        self, model: Any, *, model_name: str, base_url: str | None, prompts_dir: Path | None
    ) -> None:
        super().__init__("openai", model, prompts_dir)
        self.model_name = model_name
        self.base_url = base_url

    def chunks(self, messages: list[Any]) -> Iterator[str]:
        from zoomqa.agent.llm.openai_chat import explain_openai_error

        try:
            yield from super().chunks(messages)
        except Exception as exc:
            explained = explain_openai_error(exc, model=self.model_name, base_url=self.base_url)
            if explained is None:
                raise
            raise explained from None


def build_writer(
    name: str | None, answer: AnswerSettings, *, model: str | None = None, threads: int | None = None
) -> AnswerWriter:
    """The writer ``name`` (None: the measured default) configured from the answer settings."""
    name = name or answer.writer or DEFAULT_WRITER
    if name == "extractive":
        return ExtractiveWriter(answer.prompts_dir)
    if name == "local":
        from zoomqa.agent.llm.llama_cpp_chat import LlamaCppChatModel, default_gguf_path

        path = Path(model).expanduser() if model else answer.gguf_path or default_gguf_path()
        chat = LlamaCppChatModel(
            model_path=path, threads=threads, max_tokens=answer.max_tokens, temperature=answer.temperature
        )
        return ChatWriter("local", chat, answer.prompts_dir)
    if name == "openai":
        from zoomqa.agent.llm.openai_chat import make_openai_chat_model

        model_name = model or answer.openai_model
        key = answer.openai_api_key.get_secret_value() if answer.openai_api_key else None
        chat = make_openai_chat_model(
            model=model_name,
            base_url=answer.openai_base_url,
            api_key=key,
            timeout_s=answer.timeout_s,
            max_retries=answer.max_retries,
            max_tokens=answer.max_tokens,
            temperature=answer.temperature,
        )
        return OpenAIWriter(
            chat, model_name=model_name, base_url=answer.openai_base_url, prompts_dir=answer.prompts_dir
        )
    raise ZoomqaError(f"unknown writer {name!r}: use one of {', '.join(WRITERS)}")

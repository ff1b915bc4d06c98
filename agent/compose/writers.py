"""One interface for everything that writes an answer, and the writers built on chat models.

``extractive`` quotes the sources; ``local`` (a GGUF model in-process) and ``openai`` (any
OpenAI-compatible server) are LangChain chat models prompted with the sources and asked for
five labelled lines, which are parsed into the same :class:`Draft`.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, Self, get_args

from zoomqa.agent.compose.answer import STAGES, Draft, Statement, WorkflowStep
from zoomqa.agent.compose.evidence import Evidence
from zoomqa.agent.compose.extractive import ExtractiveWriter
from zoomqa.config import AnswerSettings, WriterName
from zoomqa.errors import ZoomqaError
from zoomqa.index.sentences import citations, split_sentences, strip_citations
from zoomqa.prompts import load_prompt

if TYPE_CHECKING:
    from zoomqa.agent.llm.openai_chat import OpenAIEndpoint

WRITERS: tuple[WriterName, ...] = get_args(WriterName)
# Chosen by `zoomqa eval answers` (see agent/README.md, "Writers"): on tests/questions.jsonl the
# extractive writer meets every target (structure, citations, links, support 1.00; p50 0.11 s);
# on a 25-question sample every draft of the 135M local model was rejected by the grounding
# guard (off-format or unsupported), in-process and behind llama.cpp's server alike.
DEFAULT_WRITER: WriterName = "extractive"
NO_SOURCES = "(none)"
# max_tokens of the openai writer unless answer.max_tokens is set: five full lines fit, so a
# served model is rarely cut mid-answer (the local 135M model keeps answer.max_tokens's default)
OPENAI_MAX_TOKENS = 800
# Above the upscaler's report when the writer is told what it did this turn.
TOOL_RESULTS_HEADING = (
    "What the upscaler just did for this person (the answer reports it; explain how it was made):"
)

# The end of a sentence: its mark, any closing quotes or brackets and citations, then a space.
_SENTENCE_END = re.compile(r"""[.!?]["'”’)]*(?:\s*\[\d+(?:\s*[,–-]\s*\d+)*\])*(?=\s|$)""")
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
        self.told: tuple[str, ...] = ()

    def telling(self, lines: Sequence[str]) -> Self:
        """This writer for one turn in which the upscaler ran: the model is also told what it did
        (sizes, time, file), one line a run. A copy, so turns answered at once do not mix."""
        told = copy.copy(self)
        told.told = tuple(lines)
        return told

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
        if self.told:
            prompt += f"\n\n{TOOL_RESULTS_HEADING}\n" + "\n".join(self.told)
        return [SystemMessage(load_prompt("system", self.prompts_dir)), HumanMessage(prompt)]

    def stream(self, messages: list[Any]) -> Iterator[Any]:
        """The model's reply as message chunks."""
        return iter(self.model.stream(messages))

    def write(self, evidence: Evidence, on_token: Callable[[str], None] | None = None) -> Draft:
        pieces = []
        finish = None
        for chunk in self.stream(self.messages(evidence)):
            finish = chunk.response_metadata.get("finish_reason") or finish
            text = chunk.text
            if text:
                pieces.append(text)
                if on_token is not None:
                    on_token(text)
        text = "".join(pieces)
        if finish == "length":  # cut at max_tokens: the last sentence is unfinished
            text = without_cut_sentence(text)
        return parse_labelled_answer(text)


def without_cut_sentence(text: str) -> str:
    """A reply cut at the token limit, up to its last finished sentence or line."""
    ends = [match.end() for match in _SENTENCE_END.finditer(text)]
    return text[: max([*ends, text.rfind("\n") + 1])]


class OpenAIWriter(ChatWriter):
    """A chat writer on an OpenAI-compatible server: every call bounded by the endpoint's retries
    and deadline, its failures one line (:mod:`zoomqa.agent.llm.openai_chat`)."""

    def __init__(self, model: Any, endpoint: OpenAIEndpoint, *, prompts_dir: Path | None) -> None:
        super().__init__("openai", model, prompts_dir)
        self.endpoint = endpoint

    def stream(self, messages: list[Any]) -> Iterator[Any]:
        return self.endpoint.stream(self.model, messages)

    def after(self, spent_s: float) -> Self:
        """This writer for a turn whose planning call already took ``spent_s`` of the deadline."""
        from dataclasses import replace

        later = copy.copy(self)
        later.endpoint = replace(self.endpoint, spent_s=self.endpoint.spent_s + spent_s)
        return later


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
        from zoomqa.agent.llm.openai_chat import OpenAIEndpoint, make_openai_chat_model

        key = answer.openai_api_key.get_secret_value() if answer.openai_api_key else None
        endpoint = OpenAIEndpoint(
            model=model or answer.openai_model,
            base_url=answer.openai_base_url,
            deadline_s=answer.deadline_s,
            timeout_s=answer.timeout_s,
            retries=answer.max_retries,
            secrets=(key,) if key else (),
        )
        # a served model gets room for a full answer unless max_tokens is set; the bundled 135M
        # model of the local writer keeps the smaller default
        max_tokens = answer.max_tokens if "max_tokens" in answer.model_fields_set else OPENAI_MAX_TOKENS
        chat = make_openai_chat_model(
            model=endpoint.model,
            base_url=endpoint.base_url,
            api_key=key,
            timeout_s=answer.timeout_s,
            max_tokens=max_tokens,
            temperature=answer.temperature,
        )
        return OpenAIWriter(chat, endpoint, prompts_dir=answer.prompts_dir)
    raise ZoomqaError(f"unknown writer {name!r}: use one of {', '.join(WRITERS)}")

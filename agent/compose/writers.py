"""One interface for everything that writes an answer, and the writers built on chat models.

``extractive`` quotes the sources; ``local`` (a GGUF model in-process) and ``openai`` (any
OpenAI-compatible server) are LangChain chat models. They read the sources themselves (each
source's card fields or abstract, numbered, within ``answer.source_chars``), get the offline
composer's choice as a suggestion they may override, and answer in labelled parts, which are
parsed into the same :class:`Draft` (labelled lines, markdown headings and bold labels alike).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, Self, get_args

from zoomqa.agent.compose.answer import STAGES, Draft, Statement, WorkflowStep
from zoomqa.agent.compose.evidence import FIELD_SUMMARY, POINT_FIELDS, WORKFLOW_FIELDS, Evidence
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
# The local writer's model has a 2,048-token context (llama_cpp_chat.CONTEXT_TOKENS): the
# instructions, the composer's suggestion, this much of the sources and a 320-token answer fit
# (on every 6th question of tests/questions.jsonl the longest prompt is 1,449 tokens; with 2,000
# characters it was 1,725, too close).
LOCAL_SOURCE_CHARS = 1_000
SOURCE_CHARS: int = AnswerSettings.model_fields["source_chars"].default
# Questions about how a model works get the Input, Model and Output parts; for the others
# ("which tool?", "what data?", "can it?") they are optional.
WORKFLOW_INTENTS = ("how", "why")
# Above the upscaler's report when the writer is told what it did this turn.
TOOL_RESULTS_HEADING = (
    "What the upscaler just did for this person (the answer reports it; explain how it was made):"
)

# The end of a sentence: its mark, any closing quotes or brackets and citations, then a space.
_SENTENCE_END = re.compile(r"""[.!?]["'”’)]*(?:\s*\[\d+(?:\s*[,–-]\s*\d+)*\])*(?=\s|$)""")

# The parts of an answer as a model names them, in a line ("Task:", "**Model**:", "1. **Input**:"),
# a markdown heading ("### How it works") or a bold line ("**Why**"). Prose under "How it works"
# that no step label claims answers the question: it is read as the "why" part.
_PART_NAMES = {
    "task": "task",
    "input": "input",
    "model": "model",
    "output": "output",
    "why": "why",
    "how it works": "why",
    "what answers your question": "why",
}
_NAME = r"(?:the\s+|your\s+)?(?P<name>task|input|model|output|why|how\s+it\s+works|what\s+answers\s+your\s+question)"
_MARKERS = r"^\s*(?:>\s*)*(?:#{1,6}\s*)?(?:(?:[-*+]|\d+[.)])\s+)?"  # quote, heading, list item
# "Task: ...", "**Task:** ...", "**Task**: ...", "- Input - ...", "### Model — ..."
_LABELLED_LINE = re.compile(
    _MARKERS + r"[*_]*" + _NAME + r"[*_]*\s*(?::|[–—]|-(?=\s))[*_]*\s*(?P<rest>.*)$", re.IGNORECASE
)
# "### Task", "## 2. Model", "### Why it stayed crisp" (the text follows on the next lines)
_HEADING = re.compile(r"^\s*#{1,6}\s*(?:\d+[.)]\s*)?[*_]*" + _NAME + r"\b(?P<rest>.*)$", re.IGNORECASE)
# "**Task**", "1. **Model**", "**Input** a low-resolution photo"
_BOLD_LABEL = re.compile(
    r"^\s*(?:(?:[-*+]|\d+[.)])\s+)?(?:\*\*|__)" + _NAME + r"\s*:?\s*(?:\*\*|__)\s*:?\s*(?P<rest>.*)$",
    re.IGNORECASE,
)
# "**Why it stayed crisp:**" alone on its line: a title, like a heading
_BOLD_TITLE = re.compile(
    r"^\s*(?:(?:[-*+]|\d+[.)])\s+)?(?:\*\*|__)" + _NAME + r"\b[^*_]*(?:\*\*|__)\s*:?\s*$", re.IGNORECASE
)
# Any other heading or bold line ("### Papers and tools", "**Sources**") ends the part above it.
_OTHER_HEADING = re.compile(r"^\s*(?:#{1,6}\s|(?:\*\*|__)[^*_]+(?:\*\*|__)\s*:?\s*$)")
_LIST_ITEM = re.compile(r"^\s*(?:>\s*)*(?:[-*+]|\d+[.)])\s+")
_RULE = re.compile(r"^\s*(?:[-*_]\s*){3,}$")  # a horizontal rule
_NUMBERED_LINE = re.compile(r"^\s*(\d+)[.)]\s+(.*)$")  # "3. ..." in a translation's reply
_ENDS_SENTENCE = re.compile(r"""[.!?:]["'”’)*_]*(?:\s*\[[\d,\s–-]+\])*\s*$""")


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
    """The offline composer's answer, one sentence a line with its source and card field: the
    work it would explain and the points it chose, given to a model as a suggestion."""
    lines = []
    for statement in plan.statements:
        label = (statement.field or "").split(":")[-1] or "text"
        marks = "".join(f"[{n}]" for n in statement.sources)
        lines.append(f"{marks or '[question]'} {label}: {statement.text}")
    return "\n".join(lines) or NO_SOURCES


def _traits_line(evidence: Evidence, number: int) -> str | None:
    traits = evidence.records[number - 1].traits
    if traits is None:
        return None
    handles = ", ".join(traits.handles) or "none"
    factors = f" (x{', x'.join(str(f) for f in traits.factors)})" if traits.factors else ""
    return (
        f"[{number}] traits: role {traits.role}; handles {handles}; scale {traits.scale}{factors}; "
        f"output {traits.output}; hardware {traits.hardware}; speed {traits.speed}"
    )


def _readable(evidence: Evidence, number: int) -> list[int]:
    """The passages of source ``number`` a model reads, in the record's order: its card fields
    (task, workflow, explains, facts), or for a record without them (added from arXiv) the
    quotable sentences of its abstract, each once (not again as clauses)."""
    card = bool(evidence.records[number - 1].card_fields())
    fields = ("task", *WORKFLOW_FIELDS, *POINT_FIELDS) if card else (FIELD_SUMMARY,)
    kept: list[int] = []
    for i, passage in enumerate(evidence.passages):
        if passage.source != number or passage.field not in fields or not passage.quotable:
            continue
        if any(passage.span < evidence.passages[j].span for j in kept):  # a clause of a kept sentence
            continue
        kept.append(i)
    return kept


def source_passages(evidence: Evidence, budget: int) -> str:
    """What the sources say, one numbered passage a line ("[2] explains: ..."), at most
    ``budget`` characters: each source's traits, then its card fields or abstract sentences.

    Sources come in retrieval order with the anchor first, a blank line between them. When
    everything does not fit, the sources take turns, each adding its passage closest to the
    question (``Evidence.closeness``) that still fits, until none does; each source's kept
    passages are then listed in the record's own order.
    """
    order = [evidence.anchor, *(n for n in range(1, len(evidence.records) + 1) if n != evidence.anchor)]
    if not evidence.records:
        return NO_SOURCES

    def line(i: int) -> str:
        passage = evidence.passages[i]
        return f"[{passage.source}] {passage.field}: {passage.text}"

    queues: dict[int, list[str | int]] = {}
    for number in order:
        ranked = sorted(_readable(evidence, number), key=lambda i: -float(evidence.closeness[i]))
        traits = _traits_line(evidence, number)
        queues[number] = ([traits] if traits else []) + list(ranked)
    chosen: dict[int, list[str | int]] = {number: [] for number in order}
    used = 0
    while any(queues.values()):
        for number in order:
            queue = queues[number]
            while queue:
                item = queue.pop(0)
                cost = len(item if isinstance(item, str) else line(item)) + 1  # and its newline
                if used + cost <= budget:
                    chosen[number].append(item)
                    used += cost
                    break
    blocks = []
    for number in order:
        items = chosen[number]
        if not items:
            continue
        traits_first = [i for i in items if isinstance(i, str)]
        passages = sorted(i for i in items if isinstance(i, int))
        blocks.append("\n".join(traits_first + [line(i) for i in passages]))
    return "\n\n".join(blocks) or NO_SOURCES


def asks_how_it_works(evidence: Evidence) -> bool:
    """Whether the question is about how a model works, so the answer must give its workflow."""
    return evidence.analysis.intent in WORKFLOW_INTENTS


def _part(line: str) -> tuple[str, str] | None:
    """(part, the text on the line after its label) when ``line`` opens a part."""
    for pattern in (_LABELLED_LINE, _BOLD_LABEL):
        match = pattern.match(line)
        if match:
            return _PART_NAMES[" ".join(match.group("name").lower().split())], match.group("rest")
    match = _HEADING.match(line) or _BOLD_TITLE.match(line)
    if match:  # a heading's further words are its title, not the answer's text
        return _PART_NAMES[" ".join(match.group("name").lower().split())], ""
    return None


def _tidy(text: str) -> str:
    """A line's text without an emphasis mark left open by a bold label ('**Task: Enlarging**')."""
    text = text.strip()
    for mark in ("**", "__"):
        if text.count(mark) % 2 and text.endswith(mark):
            text = text[: -len(mark)].rstrip()
    return text


def parse_labelled_answer(text: str, *, workflow_required: bool | None = True) -> Draft:
    """Read a model's reply into a draft: parts opened by labelled lines ('Task: ...', '**Input**:
    ...', '1. **Model**: ...'), markdown headings ('### Task', '### How it works') or bold lines
    ('**Why**'), case-insensitive; list items under a part are its sentences.

    Text before the first part, or under another heading ('### Papers and tools'), is not part of
    the answer. ``workflow_required`` goes to the draft (see :meth:`Draft.missing_parts`).
    """
    parts: dict[str, list[str]] = {}
    current: str | None = None
    for line in text.splitlines():
        if not line.strip() or _RULE.match(line):
            continue
        opened = _part(line)
        if opened is not None:
            current, item = opened
            pieces = parts.setdefault(current, [])
            if pieces and not _ENDS_SENTENCE.search(pieces[-1]):
                pieces[-1] += "."  # a part named again ends the sentence before it
        elif _OTHER_HEADING.match(line):
            current = None
            continue
        elif current is None:
            continue
        else:
            pieces = parts[current]
            item = line
            if _LIST_ITEM.match(line):  # a list item is a sentence of its own
                item = _tidy(_LIST_ITEM.sub("", line))
                if item and not _ENDS_SENTENCE.search(item):
                    item += "."
                if pieces and not _ENDS_SENTENCE.search(pieces[-1]):
                    pieces[-1] += "."
        item = _tidy(item)
        if item:
            pieces.append(item)

    def statements(label: str) -> tuple[Statement, ...]:
        found = []
        for sentence in split_sentences(" ".join(parts.get(label, []))):
            sentence_text = strip_citations(sentence)
            if sentence_text:
                found.append(Statement(text=sentence_text, sources=citations(sentence)))
        return tuple(found)

    by_stage = {stage: statements(stage) for stage in STAGES}
    steps = tuple(WorkflowStep(stage=stage, statements=found) for stage, found in by_stage.items() if found)
    return Draft(task=statements("task"), steps=steps, workflow_required=workflow_required)


class ChatWriter:
    """Prompts a LangChain chat model with the sources, streams its reply and parses it."""

    generative = True

    def __init__(
        self, name: str, model: Any, prompts_dir: Path | None = None, *, source_chars: int = SOURCE_CHARS
    ) -> None:
        self.name = name
        self.model = model
        self.prompts_dir = prompts_dir
        self.source_chars = source_chars
        self.composer = ExtractiveWriter(prompts_dir)
        self.told: tuple[str, ...] = ()

    def telling(self, lines: Sequence[str]) -> Self:
        """This writer for one turn in which the upscaler ran: the model is also told what it did
        (sizes, time, file), one line a run. A copy, so turns answered at once do not mix."""
        told = copy.copy(self)
        told.told = tuple(lines)
        return told

    def workflow_required(self, evidence: Evidence) -> bool:
        """Whether the answer must give Input, Model and Output: the question asks how a model
        works, or the upscaler ran this turn (the answer explains how the picture was made)."""
        return asks_how_it_works(evidence) or bool(self.told)

    def messages(self, evidence: Evidence) -> list[Any]:
        from langchain_core.messages import HumanMessage, SystemMessage

        anchor = str(evidence.anchor)
        workflow = "answer_workflow" if self.workflow_required(evidence) else "answer_workflow_optional"
        prompt = load_prompt(
            "answer",
            self.prompts_dir,
            question=evidence.question,
            sources=source_lines(evidence),
            passages=source_passages(evidence, self.source_chars),
            anchor=anchor,
            evidence=evidence_lines(self.composer.write(evidence)),
            workflow=load_prompt(workflow, self.prompts_dir, anchor=anchor),
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
        return parse_labelled_answer(text, workflow_required=self.workflow_required(evidence))

    def translate(self, texts: Sequence[str], language: str, message: str) -> list[str]:
        """``texts`` translated, one for one, into ``language`` (an ISO 639-1 code), the language
        the person wrote ``message`` in; a text the model's reply leaves out stays as it was."""
        from langchain_core.messages import HumanMessage

        if not texts:
            return []
        numbered = "\n".join(f"{i}. {text}" for i, text in enumerate(texts, 1))
        prompt = load_prompt(
            "translate", self.prompts_dir, language=language, message=message, lines=numbered
        )
        reply = "".join(chunk.text for chunk in self.stream([HumanMessage(prompt)]))
        found: dict[int, str] = {}
        for line in reply.splitlines():
            match = _NUMBERED_LINE.match(line)
            if match and match.group(2).strip():
                found.setdefault(int(match.group(1)), _tidy(match.group(2)))
        return [found.get(i) or text for i, text in enumerate(texts, 1)]


def without_cut_sentence(text: str) -> str:
    """A reply cut at the token limit, up to its last finished sentence or line."""
    ends = [match.end() for match in _SENTENCE_END.finditer(text)]
    return text[: max([*ends, text.rfind("\n") + 1])]


class OpenAIWriter(ChatWriter):
    """A chat writer on an OpenAI-compatible server: every call bounded by the endpoint's retries
    and deadline, its failures one line (:mod:`zoomqa.agent.llm.openai_chat`)."""

    def __init__(
        self,
        model: Any,
        endpoint: OpenAIEndpoint,
        *,
        prompts_dir: Path | None,
        source_chars: int = SOURCE_CHARS,
    ) -> None:
        super().__init__("openai", model, prompts_dir, source_chars=source_chars)
        self.endpoint = endpoint

    def stream(self, messages: list[Any]) -> Iterator[Any]:
        return self.endpoint.stream(self.model, messages)

    def after(self, spent_s: float) -> Self:
        """This writer for a turn whose earlier calls (planning, writing) already took ``spent_s``
        of the deadline."""
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
        return ChatWriter(
            "local", chat, answer.prompts_dir, source_chars=min(answer.source_chars, LOCAL_SOURCE_CHARS)
        )
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
        return OpenAIWriter(chat, endpoint, prompts_dir=answer.prompts_dir, source_chars=answer.source_chars)
    raise ZoomqaError(f"unknown writer {name!r}: use one of {', '.join(WRITERS)}")

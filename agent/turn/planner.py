"""The openai writer's model plans the turn with native tool calling.

One model call, bounded like every call of the writer (retries, deadline), sees the bounded
conversation, the latest message and the ``upscale_image`` tool (LangChain's ``bind_tools``),
and either calls the tool or replies with the message rewritten as a standalone question in
English (translated when the person wrote in another language).
The planner does not run the tool: it checks every call's arguments against the tool's own
schema, coercing what the schema allows (``"scale": "3"`` is 3.0), and hands back the checked
arguments; the assistant runs them. A call it cannot use (unknown tool, arguments the schema
rejects, arguments that are not JSON) is reported as a problem, and the assistant lets the
deterministic parser read the message instead. The grounded answer is written afterwards by
the same path as every other writer, so the model never answers from memory.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from zoomqa.agent.turn.history import Turn
from zoomqa.prompts import load_prompt

if TYPE_CHECKING:
    from langchain_core.messages import AIMessageChunk, BaseMessage
    from langchain_core.tools import BaseTool

    from zoomqa.agent.compose.writers import OpenAIWriter


@dataclass(frozen=True)
class Plan:
    """What the model made of the turn."""

    question: str  # the message as a standalone question in English ('' when it called the tool)
    requests: tuple[dict[str, Any], ...] = ()  # the tool's checked arguments, one per call
    problem: str | None = None  # why the model's tool calls cannot be used (then none is run)
    rejected: dict[str, Any] | None = None  # the arguments of the first call that cannot be used


def _messages(message: str, history: Sequence[Turn], attachments: Sequence[Path]) -> list[BaseMessage]:
    from langchain_core.messages import AIMessage, HumanMessage

    turns: list[BaseMessage] = [
        HumanMessage(t.text) if t.role == "user" else AIMessage(t.text) for t in history
    ]
    attached = f"\n\n(Attached files: {', '.join(str(p) for p in attachments)})" if attachments else ""
    return [*turns, HumanMessage(message + attached)]


def checked_arguments(tool: BaseTool, arguments: dict[str, Any]) -> dict[str, Any]:
    """``arguments`` validated and coerced by the tool's schema, keeping only those given;
    raises ``ValidationError`` (or ``ValueError`` for a tool without a schema)."""
    schema = tool.args_schema
    if not (isinstance(schema, type) and issubclass(schema, BaseModel)):
        raise ValueError(f"the tool {tool.name} has no argument schema")
    return schema.model_validate(arguments).model_dump(exclude_unset=True, exclude_none=True)


def problems_of(error: ValidationError) -> str:
    """A validation error in one line: 'scale: Input should be a valid number; ...'."""
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'arguments'}: {e['msg']}" for e in error.errors()
    )


class ToolCallingPlanner:
    """Decides, through the writer's own chat model, whether to upscale and what to search."""

    def __init__(self, writer: OpenAIWriter, prompts_dir: Path | None = None) -> None:
        self.writer = writer
        self.prompts_dir = prompts_dir

    def plan(
        self, message: str, history: Sequence[Turn], attachments: Sequence[Path], tool: BaseTool
    ) -> Plan:
        """The model's plan for this turn; raises ``ModelUnavailable`` when the model cannot
        answer (the assistant then plans without it) and ``ZoomqaError`` when the server refuses."""
        from langchain_core.messages import SystemMessage

        prompt = [
            SystemMessage(load_prompt("agent", self.prompts_dir)),
            *_messages(message, history, attachments),
        ]
        bound = self.writer.model.bind_tools([tool])
        reply: AIMessageChunk | None = None
        for chunk in self.writer.endpoint.stream(bound, prompt):
            reply = chunk if reply is None else reply + chunk
        if reply is None:
            return Plan(question="")
        requests: list[dict[str, Any]] = []
        problems: list[tuple[str, dict[str, Any]]] = []
        for call in reply.tool_calls:
            if call["name"] != tool.name:
                problems.append((f"the model called an unknown tool {call['name']!r}", call["args"]))
                continue
            try:
                requests.append(checked_arguments(tool, call["args"]))
            except ValidationError as exc:
                problems.append((f"the model gave invalid arguments ({problems_of(exc)})", call["args"]))
        for broken in reply.invalid_tool_calls:
            problems.append(
                (f"the model's arguments were not JSON ({broken.get('error') or 'unreadable'})", {})
            )
        if problems:
            return Plan(question="", problem="; ".join(p for p, _ in problems), rejected=problems[0][1])
        return Plan(question="" if requests else reply.text.strip(), requests=tuple(requests))

"""The openai writer's model plans the turn with native tool calling (LangChain ``create_agent``).

One model call reads the bounded conversation and the latest message and either calls
``upscale_image`` (the tool runs, and the agent stops there: ``return_direct``) or replies
with the message rewritten as a standalone question. The grounded answer is written
afterwards by the same path as every other writer, so the model never answers from memory.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zoomqa.agent.turn.history import Turn
from zoomqa.prompts import load_prompt

if TYPE_CHECKING:
    from langchain.agents.middleware import ToolCallRequest
    from langchain_core.language_models import BaseChatModel
    from langchain_core.messages import BaseMessage
    from langchain_core.tools import BaseTool

    from zoomqa.agent.compose.writers import OpenAIWriter
    from zoomqa.agent.turn.reply import ToolCall


def _messages(message: str, history: Sequence[Turn], attachments: Sequence[Path]) -> list[BaseMessage]:
    from langchain_core.messages import AIMessage, HumanMessage

    turns: list[BaseMessage] = [
        HumanMessage(t.text) if t.role == "user" else AIMessage(t.text) for t in history
    ]
    attached = f"\n\n(Attached files: {', '.join(str(p) for p in attachments)})" if attachments else ""
    return [*turns, HumanMessage(message + attached)]


def _tool_failure(exc: Exception, request: ToolCallRequest) -> str | None:
    """The upscaler's own failures go back as a refusal; programming errors propagate."""
    if isinstance(exc, OSError | MemoryError | RuntimeError | ValueError):
        return f"upscale refused: the upscaler failed ({type(exc).__name__}: {exc})"
    return None


class ToolCallingPlanner:
    """Decides, through the writer's own chat model, whether to upscale and what to search."""

    def __init__(self, writer: OpenAIWriter, prompts_dir: Path | None = None) -> None:
        self.writer = writer
        self.prompts_dir = prompts_dir

    @property
    def model(self) -> BaseChatModel:
        return self.writer.model

    def plan(
        self,
        message: str,
        history: Sequence[Turn],
        attachments: Sequence[Path],
        tool: BaseTool,
        max_calls: int,
    ) -> tuple[str, list[ToolCall]]:
        """The standalone question ('' when the model only called the tool) and the tool runs."""
        from langchain.agents import create_agent
        from langchain.agents.middleware import ToolCallLimitMiddleware, ToolErrorMiddleware
        from langchain_core.messages import AIMessage, ToolMessage

        from zoomqa.agent.llm.openai_chat import explain_openai_error
        from zoomqa.agent.turn.reply import ToolCall

        tool.return_direct = True
        agent = create_agent(
            self.model,
            tools=[tool],
            system_prompt=load_prompt("agent", self.prompts_dir),
            # langchain's stubs type the built-in middleware's state more narrowly than create_agent's
            middleware=[
                ToolErrorMiddleware(on_error=_tool_failure),
                ToolCallLimitMiddleware(run_limit=max_calls),  # type: ignore[list-item]
            ],
        )
        try:
            state = agent.invoke({"messages": _messages(message, history, attachments)})  # type: ignore[call-overload]
        except Exception as exc:
            explained = explain_openai_error(exc, model=self.writer.model_name, base_url=self.writer.base_url)
            if explained is None:
                raise
            raise explained from None
        arguments: dict[str, dict[str, Any]] = {}
        calls: list[ToolCall] = []
        question = ""
        for item in state["messages"]:
            if isinstance(item, AIMessage):
                arguments |= {c["id"]: c["args"] for c in item.tool_calls if c["id"]}
                if not item.tool_calls and item.text.strip():
                    question = item.text.strip()
            elif isinstance(item, ToolMessage):
                calls.append(ToolCall.from_message(arguments.get(item.tool_call_id, {}), item))
        return question, calls

"""What one turn produces: the answer, the upscaler runs it reports, and the question searched."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from zoomqa.agent.compose.answer import Answer

if TYPE_CHECKING:
    from langchain_core.messages import ToolMessage

TOOL_NAME = "upscale_image"
# Statement.field of the sentences that report a tool run (no source backs them; evaluation skips them).
TOOL_FIELD = f"tool:{TOOL_NAME}"
REFUSED_PREFIX = "upscale refused: "


class ToolCall(BaseModel):
    """One run (or refusal) of the upscaler, as the front doors show it and ``--json`` prints it."""

    model_config = ConfigDict(frozen=True)

    name: str = TOOL_NAME
    arguments: dict[str, Any]
    ok: bool
    output_path: str | None = None
    comparison_path: str | None = None
    input_size: tuple[int, int] | None = None
    output_size: tuple[int, int] | None = None
    seconds: float | None = None
    model: str | None = None
    error: str | None = None

    @classmethod
    def from_message(cls, arguments: dict[str, Any], message: ToolMessage) -> ToolCall:
        """The outcome of a tool run from its message: the artifact on success, the text otherwise."""
        result = message.artifact
        if message.status == "error" or result is None:
            return cls.failed(arguments, str(message.content))
        return cls(
            arguments=arguments,
            ok=True,
            output_path=str(result.output_path),
            comparison_path=str(result.compare_path) if result.compare_path else None,
            input_size=result.input_size,
            output_size=result.output_size,
            seconds=round(result.seconds, 3),
            model=result.model,
        )

    @classmethod
    def failed(cls, arguments: dict[str, Any], reason: str) -> ToolCall:
        reason = reason.removeprefix(REFUSED_PREFIX).strip().rstrip(".")
        return cls(arguments=arguments, ok=False, error=reason)


class Reply(BaseModel):
    """What one turn produced: the answer (with any tool report inside), the tool runs, and
    the standalone question that was searched."""

    model_config = ConfigDict(frozen=True)

    answer: Answer
    tool_calls: list[ToolCall] = []
    condensed_question: str
    scores: dict[str, float] = Field({}, description="Fused retrieval score of each cited record, by id.")

    def as_json(self) -> dict[str, Any]:
        """The answer's JSON object with ``tool_calls`` added (``zoomqa ask --json``)."""
        calls = [call.model_dump(mode="json") for call in self.tool_calls]
        return {**self.answer.model_dump(mode="json"), "tool_calls": calls}

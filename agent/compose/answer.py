"""The answer as data: what every writer produces and every front door renders.

An answer has three parts: the task the person is performing, how the recommended model
works (input -> model -> output, and why that explains what they saw), and the sources with
their links. Sources and links are copied from index metadata, never from generated text.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from zoomqa.index.records import Record

Stage = Literal["input", "model", "output", "why"]
STAGES: tuple[Stage, ...] = ("input", "model", "output", "why")
REQUIRED_STAGES: tuple[Stage, ...] = ("input", "model", "output")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Source(_Frozen):
    """One retrieved record as the answer cites it: ``[number]`` in the text refers to it."""

    number: int = Field(ge=1)
    id: str
    kind: Literal["model", "paper"]
    title: str
    year: int
    links: dict[str, str]
    why: str = Field(description="One line, taken from the record, on why it matters here.")
    tool: str | None = Field(None, description="Local tool that runs this model, if any.")

    @classmethod
    def from_record(cls, number: int, record: Record, why: str) -> Source:
        return cls(
            number=number,
            id=record.id,
            kind=record.kind,
            title=record.title,
            year=record.year,
            links=record.links,
            why=why,
            tool=record.tool,
        )


class Statement(_Frozen):
    """A sentence of the answer and the sources it rests on."""

    text: str
    sources: tuple[int, ...] = ()
    field: str | None = Field(
        None, description="Where the sentence came from: 'record-id:field' of a card, or 'question'."
    )


class WorkflowStep(_Frozen):
    stage: Stage
    statements: tuple[Statement, ...]


def _in_order(task: tuple[Statement, ...], steps: tuple[WorkflowStep, ...]) -> tuple[Statement, ...]:
    """Every sentence of parts 1 and 2, in reading order."""
    return task + tuple(s for step in steps for s in step.statements)


class Draft(_Frozen):
    """What a writer returns before the answer is assembled: parts 1 and 2."""

    task: tuple[Statement, ...]
    steps: tuple[WorkflowStep, ...]
    workflow_required: bool | None = Field(
        None,
        description="Whether part 2 must give input, model and output: True for a question about how a "
        "model works, False when any part 2 will do; None: a draft that gives one of the three gives all.",
    )

    @property
    def statements(self) -> tuple[Statement, ...]:
        return _in_order(self.task, self.steps)

    def missing_parts(self) -> list[str]:
        """Names of the required parts that have no sentence (empty when the draft is complete).

        Part 1 is always required, and part 2 too: the three workflow steps where they are required
        (see ``workflow_required``), else at least one step ('why' is named when there is none).
        """
        present = {step.stage for step in self.steps if step.statements}
        missing = [] if self.task else ["task"]
        required = self.workflow_required
        if required is None:
            required = bool(present & set(REQUIRED_STAGES))
        if required:
            return missing + [stage for stage in REQUIRED_STAGES if stage not in present]
        return missing + ([] if present else ["why"])


class Timings(_Frozen):
    retrieval_s: float = 0.0
    first_token_s: float | None = None
    writing_s: float = 0.0
    guard_s: float = 0.0
    tool_s: float = 0.0  # enlarging the person's picture, when the turn did
    total_s: float = 0.0  # the whole turn: planning, tool, retrieval and writing


class Answer(_Frozen):
    """A grounded answer, or an explicit "nothing relevant" (``relevant=False``, no sources)."""

    question: str
    relevant: bool
    task: tuple[Statement, ...]
    steps: tuple[WorkflowStep, ...] = ()
    sources: tuple[Source, ...] = ()
    nearest_topics: tuple[str, ...] = ()
    writer: str = Field(description="The writer whose text is shown ('none' for a refusal).")
    requested_writer: str
    fallback_reason: str | None = Field(
        None, description="Why the requested writer's text was replaced by the extractive one."
    )
    guard_notes: tuple[str, ...] = Field((), description="What the grounding guard removed, and why.")
    timings: Timings = Field(default_factory=Timings)

    @property
    def statements(self) -> tuple[Statement, ...]:
        return _in_order(self.task, self.steps)

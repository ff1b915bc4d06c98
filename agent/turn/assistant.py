"""The agent every front door talks to: one turn in, a grounded answer (and any upscale) out.

Per turn it (1) condenses a follow-up with the conversation into a standalone question,
(2) decides whether the person asked to enlarge a picture and, if so, runs the
``upscale_image`` tool, (3) retrieves and answers with the grounded three-part answer, and
(4) reports what the tool did inside that answer, beside the explanation of how LIIF did it.

Steps 1 and 2 are made by the openai writer's model through native tool calling
(:mod:`.planner`), and deterministically (:mod:`.history`, :mod:`.enlarge_requests`) for the
offline writers; both call the same tool with arguments checked by the same schema. The
deterministic parser also decides when the model's tool call cannot be used, or when the model
replied in words to a message that asks for an enlargement.

A message in another language than English is planned by the model too, which writes the
question to search in English (the cards are English); the grounded answer, checked in English,
is then translated into the person's language by the same model within the turn's deadline.
Without a model such a message gets the offline "please ask in English" reply.

A failing model is not a failure for the person: when its server fails, cannot be reached or
outlives ``answer.deadline_s`` (:class:`~zoomqa.agent.llm.failures.ModelUnavailable`), the
turn is planned and answered offline, and the answer's ``fallback_reason`` says why.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from zoomqa.agent.compose.answer import Answer, Statement, WorkflowStep
from zoomqa.agent.llm.failures import ModelUnavailable, is_offline_note
from zoomqa.agent.turn.enlarge_requests import find_image_paths, parse_request
from zoomqa.agent.turn.history import Turn, bounded, condense, only_an_amount, resolve_references
from zoomqa.agent.turn.reply import TOOL_FIELD, TOOL_NAME, Reply, ToolCall
from zoomqa.agent.understand.language import language_of
from zoomqa.config import Settings, UpscaleSettings
from zoomqa.prompts import load_prompt

if TYPE_CHECKING:
    from langchain_core.tools import BaseTool

    from zoomqa.agent.compose.pipeline import Answerer
    from zoomqa.index.embedding import Embedder
    from zoomqa.index.results import SearchResult
    from zoomqa.index.retrieval import HybridRetriever

__all__ = ["Assistant", "Reply", "ToolCall", "Turn"]

# A message may name several pictures; more than this in one turn is refused rather than run.
MAX_TOOL_CALLS = 4

Progress = Callable[[int, int], None]


def _number(value: object) -> float | None:
    """A number the tool's arguments hold, also when a model wrote it as text ("3")."""
    try:
        number = float(value) if isinstance(value, int | float | str) else None
    except ValueError:
        return None
    return number if number is not None and math.isfinite(number) else None


def _amount(arguments: dict[str, Any]) -> str:
    scale = _number(arguments.get("scale"))
    if scale:
        return f"{scale:g}x"
    width, height = _number(arguments.get("width")), _number(arguments.get("height"))
    if width and height:
        return f"to {width:g}x{height:g} pixels"
    if width or height:
        return f"to {width:g} pixels wide" if width else f"to {height:g} pixels tall"
    return "to a larger size"


def _report(call: ToolCall, prompts_dir: Path | None) -> Statement:
    name = Path(str(call.arguments.get("path", "the picture"))).name
    if not call.ok:
        text = load_prompt("tool_failed", prompts_dir, image=name, reason=call.error or "unknown")
        return Statement(text=text, field=TOOL_FIELD)
    (w, h), (ow, oh) = call.input_size or (0, 0), call.output_size or (0, 0)
    return Statement(
        text=load_prompt(
            "tool_result",
            prompts_dir,
            image=name,
            input_size=f"{w}x{h}",
            output_size=f"{ow}x{oh}",
            scale=f"{ow / w:.3g}x" if w else "?",
            model=call.model or "LIIF",
            seconds=f"{call.seconds or 0:.1f}",
            output_path=call.output_path or "",
            comparison_path=call.comparison_path or "",
        ),
        field=TOOL_FIELD,
    )


def with_tool_report(answer: Answer, calls: Sequence[ToolCall], prompts_dir: Path | None = None) -> Answer:
    """The answer with one sentence per tool run: results close the Output step (beside how
    LIIF made them), refusals open the Task part so they are read first."""
    if not calls:
        return answer
    done = tuple(_report(c, prompts_dir) for c in calls if c.ok)
    failed = tuple(_report(c, prompts_dir) for c in calls if not c.ok)
    steps = list(answer.steps)
    outputs = [i for i, step in enumerate(steps) if step.stage == "output"]
    if done and outputs:
        step = steps[outputs[0]]
        steps[outputs[0]] = WorkflowStep(stage=step.stage, statements=step.statements + done)
        done = ()
    return answer.model_copy(update={"task": failed + answer.task + done, "steps": tuple(steps)})


def _whole_turn(reply: Reply, started: float) -> Reply:
    """``reply`` with the answer's timings covering the whole turn, the enlargement included."""
    timings = reply.answer.timings.model_copy(
        update={
            "tool_s": sum(call.seconds or 0.0 for call in reply.tool_calls),
            "total_s": time.perf_counter() - started,
        }
    )
    return reply.model_copy(update={"answer": reply.answer.model_copy(update={"timings": timings})})


def build_answerer(settings: Settings, writer: str | None, model: str | None, embedder: Embedder) -> Answerer:
    """The configured writer behind the grounding guard (``writer``/``model`` override the settings)."""
    from zoomqa.agent.compose.grounding import SUPPORT_THRESHOLD, GroundingGuard
    from zoomqa.agent.compose.pipeline import Answerer
    from zoomqa.agent.compose.writers import build_writer

    threshold = settings.answer.support_threshold
    return Answerer(
        build_writer(writer, settings.answer, model=model, threads=settings.threads),
        embedder,
        guard=GroundingGuard(SUPPORT_THRESHOLD if threshold is None else threshold),
        prompts_dir=settings.answer.prompts_dir,
        max_sources=settings.answer.max_sources,
    )


class Assistant:
    """Answers one turn of a conversation; owns the open index until :meth:`close`."""

    def __init__(
        self,
        retriever: HybridRetriever,
        answerer: Answerer,
        upscale: UpscaleSettings,
        *,
        model_dirs: tuple[Path, ...] = (),
        output_dir: Path | None = None,
        k: int | None = None,
    ) -> None:
        self.retriever = retriever
        self.upscale = upscale
        self.model_dirs = model_dirs
        self.output_dir = output_dir
        self.k = k
        self.use_answerer(answerer)

    def use_answerer(self, answerer: Answerer) -> None:
        """Write with ``answerer`` from now on (the chat's ``/writer``); an openai writer's model
        also plans the turns with native tool calling."""
        from zoomqa.agent.compose.writers import OpenAIWriter
        from zoomqa.agent.turn.planner import ToolCallingPlanner

        self.answerer = answerer
        writer = answerer.writer
        self.planner = (
            ToolCallingPlanner(writer, answerer.prompts_dir) if isinstance(writer, OpenAIWriter) else None
        )

    def within(self, folder: Path) -> Assistant:
        """This agent (the same index and writer) with an upscaler that may use only ``folder``
        and writes its results to ``folder/enlarged``: one per Slack message."""
        results = folder / "enlarged"
        results.mkdir(exist_ok=True)
        return Assistant(
            self.retriever,
            self.answerer,
            self.upscale.model_copy(update={"allowed_dirs": [folder]}),
            model_dirs=self.model_dirs,
            output_dir=results,
            k=self.k,
        )

    @property
    def writer_name(self) -> str:
        return self.answerer.writer.name

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        writer: str | None = None,
        allowed_dirs: list[Path] | None = None,
        output_dir: Path | None = None,
        model: str | None = None,
        k: int | None = None,
        index_dir: Path | None = None,
    ) -> Assistant:
        """An assistant over the configured index, writer and upscaler.

        ``allowed_dirs`` replaces the configured folders the tool may read (the chat passes the
        current directory, Slack its download folder); ``output_dir`` keeps results apart
        from the inputs.
        """
        from zoomqa.index.retrieval import HybridRetriever

        retriever = HybridRetriever.from_settings(index_dir or settings.index_dir, settings, k)
        try:
            answerer = build_answerer(settings, writer, model, retriever.embedder)
        except BaseException:
            retriever.close()
            raise
        dirs = settings.upscale.allowed_dirs if allowed_dirs is None else allowed_dirs
        return cls(
            retriever,
            answerer,
            settings.upscale.model_copy(update={"allowed_dirs": list(dirs)}),
            model_dirs=(settings.home / "models",),
            output_dir=output_dir,
            k=k,
        )

    def notices(self) -> list[str]:
        """What the person should know about the index before reading answers (stale cards)."""
        note = self.retriever.outdated_note()
        return [note] if note else []

    def close(self) -> None:
        self.retriever.close()

    def __enter__(self) -> Assistant:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def prompts_dir(self) -> Path | None:
        return self.answerer.prompts_dir

    def tool(self, progress: Progress | None = None) -> BaseTool:
        """The ``upscale_image`` tool bound to this assistant's folders and limits."""
        from zoomqa.tools.langchain_tool import make_upscale_tool

        return make_upscale_tool(
            self.upscale, model_dirs=self.model_dirs, output_dir=self.output_dir, progress=progress
        )

    def run_tool(self, arguments: dict[str, Any], progress: Progress | None = None) -> ToolCall:
        """Run the upscaler once; a refusal or a failure comes back as a ToolCall with ``error``.

        The arguments are checked and coerced by the tool's schema first (``"3"`` is 3.0), and
        the call records them so.
        """
        from pydantic import ValidationError

        from zoomqa.agent.turn.planner import checked_arguments, problems_of

        tool = self.tool(progress)
        try:
            arguments = checked_arguments(tool, arguments)
        except ValidationError as exc:
            return ToolCall.failed(arguments, problems_of(exc))
        try:
            message = tool.invoke(
                {"type": "tool_call", "name": TOOL_NAME, "args": arguments, "id": "call_local"}
            )
        except (OSError, MemoryError, RuntimeError, ValueError) as exc:  # the upscaler broke, not the request
            return ToolCall.failed(arguments, f"the upscaler failed ({type(exc).__name__}: {exc})")
        return ToolCall.from_message(arguments, message)

    def respond(
        self,
        message: str,
        *,
        history: Sequence[Turn] = (),
        attachments: Sequence[Path] = (),
        on_token: Callable[[str], None] | None = None,
        on_progress: Progress | None = None,
    ) -> Reply:
        """Answer ``message``; ``on_token`` streams a generative writer's text, ``on_progress``
        receives (done, total) while a picture is being enlarged."""
        started = time.perf_counter()
        plan = self._plan(message, bounded(history), attachments, on_progress)
        reply = self._answer(
            plan.question, plan.calls, on_token, plan.failure, plan.model_s, plan.language, message
        )
        return _whole_turn(reply, started)

    def run_request(
        self,
        arguments: dict[str, Any],
        *,
        on_token: Callable[[str], None] | None = None,
        on_progress: Progress | None = None,
    ) -> Reply:
        """Enlarge as ``arguments`` (the tool's schema) say and explain it, with no planning
        (the chat's ``/upscale PATH SCALE``)."""
        started = time.perf_counter()
        call = self.run_tool(arguments, on_progress)
        reply = self._answer(tool_question(call.arguments, self.prompts_dir), [call], on_token)
        return _whole_turn(reply, started)

    def _answer(
        self,
        question: str,
        calls: list[ToolCall],
        on_token: Callable[[str], None] | None,
        failure: ModelUnavailable | None = None,
        model_s: float = 0.0,
        language: str | None = None,
        message: str = "",
    ) -> Reply:
        """Search and answer; the writer is told what the tool did. After a model failure (in
        planning or writing) the answer is the offline one, and says why. With ``language`` (the
        person wrote ``message`` in it) the answer is translated before the tool's report is
        added, so file names and sizes stay as they are."""
        started = time.perf_counter()
        result = self.retriever.search(question, k=self.k)
        retrieval_s = time.perf_counter() - started
        if failure is None:  # a model that fails while writing is answered offline by the answerer
            answerer = self._answerer_for_turn(calls, model_s)
            answer = answerer.answer(result, on_token=on_token, retrieval_s=retrieval_s)
        else:
            answer = self._offline(result, retrieval_s, failure, started)
        if language is not None and not is_offline_note(answer.fallback_reason):
            answer = self._translated(answer, language, message, model_s + answer.timings.writing_s)
        return Reply(
            answer=with_tool_report(answer, calls, self.prompts_dir),
            tool_calls=calls,
            condensed_question=question,
            scores={hit.record.id: round(hit.score, 4) for hit in result.hits},
        )

    def _translated(self, answer: Answer, language: str, message: str, spent_s: float) -> Answer:
        """``answer`` in the person's ``language``, translated by the openai writer's model with
        what is left of the deadline after ``spent_s``. The grounding guard checked the English
        text (its sentence embedder reads English only); the translation keeps each sentence's
        sources. When the model fails now, the answer stays in English and its note says why."""
        from zoomqa.agent.compose.writers import OpenAIWriter

        writer = self.answerer.writer
        if not isinstance(writer, OpenAIWriter):
            return answer
        started = time.perf_counter()
        try:
            texts = iter(
                writer.after(spent_s).translate([s.text for s in answer.statements], language, message)
            )
        except ModelUnavailable as exc:
            note = f"{exc}; the answer could not be translated and is in English."
            reason = f"{answer.fallback_reason}; {note}" if answer.fallback_reason else note
            return answer.model_copy(update={"fallback_reason": reason})

        def translated(statements: tuple[Statement, ...]) -> tuple[Statement, ...]:
            return tuple(s.model_copy(update={"text": next(texts)}) for s in statements)

        spent = time.perf_counter() - started
        timings = answer.timings.model_copy(
            update={"writing_s": answer.timings.writing_s + spent, "total_s": answer.timings.total_s + spent}
        )
        return answer.model_copy(
            update={
                "task": translated(answer.task),
                "steps": tuple(
                    step.model_copy(update={"statements": translated(step.statements)})
                    for step in answer.steps
                ),
                "timings": timings,
            }
        )

    def _answerer_for_turn(self, calls: Sequence[ToolCall], model_s: float) -> Answerer:
        """The answerer for this turn: its chat model is told what the upscaler did, and an
        openai model has what is left of the deadline after planning."""
        from zoomqa.agent.compose.writers import ChatWriter, OpenAIWriter

        writer = self.answerer.writer
        if isinstance(writer, OpenAIWriter) and model_s > 0:
            writer = writer.after(model_s)
        if calls and isinstance(writer, ChatWriter):
            writer = writer.telling([_report(call, self.prompts_dir).text for call in calls])
        if writer is self.answerer.writer:
            return self.answerer
        turn = copy.copy(self.answerer)  # a copy: turns answered at once (Slack) do not mix
        turn.writer = writer
        return turn

    def _offline(
        self, result: SearchResult, retrieval_s: float, failure: ModelUnavailable | None, started: float
    ) -> Answer:
        """The extractive answer in place of a model that failed, with the note on why."""
        from zoomqa.agent.compose.pipeline import Answerer

        offline = Answerer(
            self.answerer.fallback,
            self.answerer.embedder,
            guard=self.answerer.guard,
            prompts_dir=self.prompts_dir,
            max_sources=self.answerer.max_sources,
        )
        answer = offline.answer(result, retrieval_s=retrieval_s)
        total = answer.timings.model_copy(update={"total_s": time.perf_counter() - started})
        note = failure.note if failure is not None else None
        return answer.model_copy(
            update={"requested_writer": self.writer_name, "fallback_reason": note, "timings": total}
        )

    def _plan(
        self, message: str, history: list[Turn], attachments: Sequence[Path], progress: Progress | None
    ) -> TurnPlan:
        """The question to search, the tool runs this turn asks for, and how planning went.

        The model plans only when there is something to plan: a picture to enlarge, a
        conversation to condense or a message to put into English; a lone English question goes
        straight to retrieval, so an off-topic one is refused without any model call. When the
        model fails, or gives nothing the tool can run while the message asks for an
        enlargement, the deterministic parser decides.
        """
        language = language_of(message) if self.planner is not None else None
        if self.planner is None or not (attachments or history or find_image_paths(message) or language):
            return TurnPlan(*self._plan_offline(message, history, attachments, progress))
        started = time.perf_counter()
        try:
            plan = self.planner.plan(message, history, attachments, self.tool(progress))
        except ModelUnavailable as failure:
            return TurnPlan(*self._plan_offline(message, history, attachments, progress), failure=failure)
        model_s = time.perf_counter() - started
        if plan.requests:
            return TurnPlan(
                *self._run_requests(plan.requests, "", progress), model_s=model_s, language=language
            )
        question, calls = self._plan_offline(message, history, attachments, progress)
        if not calls and plan.problem is not None:  # the model meant to enlarge, but no call could run
            arguments = plan.rejected or {}
            question, calls = (
                tool_question(arguments, self.prompts_dir),
                [ToolCall.failed(arguments, plan.problem)],
            )
        elif not calls:
            question = plan.question or question
        return TurnPlan(question, calls, model_s=model_s, language=language)

    def _plan_offline(
        self, message: str, history: list[Turn], attachments: Sequence[Path], progress: Progress | None
    ) -> tuple[str, list[ToolCall]]:
        """The deterministic plan: the condensed question, and the enlargements the message asks for."""
        condensed = condense(message, history)
        requests = parse_request(resolve_references(message, history, bool(attachments)), attachments)
        if not requests and condensed != message and only_an_amount(message):
            requests = parse_request(condensed)  # "and at 8x?" after "upscale cat.png 3x"
        return self._run_requests([r.arguments() for r in requests], condensed, progress)

    def _run_requests(
        self, requests: Sequence[dict[str, Any]], condensed: str, progress: Progress | None
    ) -> tuple[str, list[ToolCall]]:
        if not requests:
            return condensed, []
        if len(requests) > MAX_TOOL_CALLS:
            refusal = f"that is {len(requests)} pictures; I enlarge at most {MAX_TOOL_CALLS} per message"
            question = condensed or tool_question(requests[0], self.prompts_dir)
            return question, [ToolCall.failed(requests[0], refusal)]
        calls = [self.run_tool(arguments, progress) for arguments in requests]
        return tool_question(calls[0].arguments, self.prompts_dir), calls


class TurnPlan(NamedTuple):
    """What a turn will search and which tool runs it made, before the answer is written."""

    question: str
    calls: list[ToolCall]
    failure: ModelUnavailable | None = None  # the model failed while planning: answer offline
    model_s: float = 0.0  # time the model spent planning, taken from the turn's deadline
    language: str | None = None  # the message's language when not English: the answer is translated


def tool_question(arguments: dict[str, Any], prompts_dir: Path | None = None) -> str:
    """What is searched when the person asked for an enlargement: how LIIF does it at that amount."""
    return load_prompt("tool_question", prompts_dir, amount=_amount(arguments))

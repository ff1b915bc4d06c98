"""From a search result to an :class:`Answer`: refuse, write, guard, fall back.

This is the one path every front door (CLI, chat, Slack, FAQ) takes, so the rules hold
everywhere: nothing relevant means a plain refusal and no model call; a generative draft is
checked by the grounding guard and replaced by the extractive answer when it fails.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from zoomqa.agent.compose.answer import Answer, Statement, Timings
from zoomqa.agent.compose.evidence import Evidence
from zoomqa.agent.compose.extractive import ExtractiveWriter
from zoomqa.agent.compose.grounding import GroundingGuard
from zoomqa.agent.compose.sources import MAX_SOURCES, merge_sources
from zoomqa.agent.compose.writers import AnswerWriter
from zoomqa.agent.llm.failures import ModelUnavailable
from zoomqa.agent.understand.language import language_of
from zoomqa.index.embedding import Embedder
from zoomqa.index.results import SearchResult
from zoomqa.prompts import load_prompt

REFUSAL_WRITER = "none"


class Answerer:
    """Turns search results into grounded answers with one configured writer."""

    def __init__(
        self,
        writer: AnswerWriter,
        embedder: Embedder,
        *,
        guard: GroundingGuard | None = None,
        prompts_dir: Path | None = None,
        max_sources: int = MAX_SOURCES,
    ) -> None:
        self.writer = writer
        self.max_sources = max_sources
        self.embedder = embedder
        self.guard = guard or GroundingGuard()
        self.prompts_dir = prompts_dir
        self.fallback = writer if isinstance(writer, ExtractiveWriter) else ExtractiveWriter(prompts_dir)

    def answer(
        self,
        result: SearchResult,
        *,
        on_token: Callable[[str], None] | None = None,
        retrieval_s: float = 0.0,
    ) -> Answer:
        """The answer to ``result.question``; ``on_token`` receives a generative writer's raw text."""
        started = time.perf_counter()
        if not self.writer.generative and language_of(result.question) is not None:
            # the extractive writer quotes English cards: a question in another language is
            # asked again in English rather than refused as "not covered"
            return self._refusal(result, retrieval_s, started, prompt="english_only")
        if not result.relevant or not result.hits:
            return self._refusal(result, retrieval_s, started)
        evidence = Evidence.gather(result, self.embedder)

        first_token: list[float] = []

        def tokens(text: str) -> None:
            if not first_token:
                first_token.append(time.perf_counter() - started)
            if on_token is not None:
                on_token(text)

        writer, fallback_reason = self.writer.name, None
        notes: tuple[str, ...] = ()
        try:
            draft = self.writer.write(evidence, tokens)
        except ModelUnavailable as exc:
            # a model that fails (server error, timeout, deadline) is not a failure for the
            # person: the offline answer, with the one-line note on why
            draft, writer, fallback_reason = self.fallback.write(evidence), self.fallback.name, exc.note
        written = time.perf_counter()
        if self.writer.generative and writer == self.writer.name:
            # a part left without a supported sentence is taken from the extractive answer
            verdict = self.guard.check(draft, evidence, fallback=lambda: self.fallback.write(evidence))
            draft, notes, fallback_reason = verdict.draft, verdict.notes, verdict.rejection
            if fallback_reason is not None:
                draft, writer = self.fallback.write(evidence), self.fallback.name
        draft, sources = merge_sources(
            draft, evidence.sources, evidence.records, self.max_sources, evidence.anchor_scores
        )
        finished = time.perf_counter()
        return Answer(
            question=result.question,
            relevant=True,
            task=draft.task,
            steps=draft.steps,
            sources=sources,
            writer=writer,
            requested_writer=self.writer.name,
            fallback_reason=fallback_reason,
            guard_notes=notes,
            timings=Timings(
                retrieval_s=retrieval_s,
                first_token_s=first_token[0] if first_token else None,
                writing_s=written - started,
                guard_s=finished - written,
                total_s=retrieval_s + finished - started,
            ),
        )

    def _refusal(
        self, result: SearchResult, retrieval_s: float, started: float, *, prompt: str = "refusal"
    ) -> Answer:
        topics = ", ".join(result.nearest_topics) or "none"
        fields = {"question": result.question} | ({"topics": topics} if prompt == "refusal" else {})
        message = load_prompt(prompt, self.prompts_dir, **fields)
        return Answer(
            question=result.question,
            relevant=False,
            task=(Statement(text=message),),
            nearest_topics=result.nearest_topics,
            writer=REFUSAL_WRITER,
            requested_writer=self.writer.name,
            timings=Timings(retrieval_s=retrieval_s, total_s=retrieval_s + time.perf_counter() - started),
        )

"""The writer with no generative model: it quotes the sources' own sentences, each attributed.

Every sentence of its answer is a passage of a retrieved summary (or the person's own
question), so it cannot state anything the sources do not; it is also the fallback whenever
the grounding guard rejects a generative writer's text.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from zoomqa.agent.answer import REQUIRED_STAGES, STAGES, Draft, Stage, Statement, WorkflowStep
from zoomqa.agent.evidence import MODEL_PREFERENCE, Evidence, encode_cached
from zoomqa.errors import ZoomqaError
from zoomqa.prompts import load_prompt

# How much a passage's closeness to the question counts next to its fit to the step.
QUESTION_WEIGHT = 0.5
# The "model" step is the heart of the explanation and may take a second passage.
PASSAGES_PER_STAGE: dict[Stage, int] = {"input": 1, "model": 2, "output": 1, "why": 1}
# Task labels of the top hit named in part 1: the closest to the question and the runner-up,
# which often adds the technical name to the everyday one.
TASK_LABELS = 2


def read_stage_descriptions(prompts_dir: Path | None) -> dict[Stage, str]:
    """The 'stage: description' lines of the workflow_stages template."""
    descriptions: dict[Stage, str] = {}
    for line in load_prompt("workflow_stages", prompts_dir).splitlines():
        name, _, text = line.partition(":")
        name = name.strip()
        if line.lstrip().startswith("#") or not text.strip():
            continue
        if name not in STAGES:
            raise ZoomqaError(f"workflow_stages template: unknown step {name!r}; use {', '.join(STAGES)}")
        descriptions[name] = text.strip()  # type: ignore[index]
    missing = [s for s in STAGES if s not in descriptions]
    if missing:
        raise ZoomqaError(f"workflow_stages template has no line for: {', '.join(missing)}")
    return descriptions


class ExtractiveWriter:
    """Composes the three parts from the retrieved summaries' most relevant sentences."""

    name = "extractive"
    generative = False

    def __init__(self, prompts_dir: Path | None = None) -> None:
        self.prompts_dir = prompts_dir
        self.stage_descriptions = read_stage_descriptions(prompts_dir)

    def write(self, evidence: Evidence, on_token: Callable[[str], None] | None = None) -> Draft:
        """Parts 1 and 2; streaming has nothing to offer here, so ``on_token`` is not called."""
        if not evidence.records:
            return Draft(task=(), steps=())
        anchor = evidence.anchor()
        explained = evidence.same_method(anchor)
        candidates = [i for i, p in enumerate(evidence.passages) if p.quotable and p.source in explained]
        used: set[str] = set()  # clauses already quoted: nothing is said twice
        task = self._task(evidence, anchor, candidates, used)
        return Draft(task=task, steps=self._steps(evidence, candidates, used))

    def _task(
        self, evidence: Evidence, anchor: int, candidates: list[int], used: set[str]
    ) -> tuple[Statement, ...]:
        """The anchor's task labels closest to the question, the question, and the best passage."""
        statements = []
        labels = evidence.records[anchor - 1].tasks
        if labels:
            ranked = np.argsort(-(encode_cached(evidence.embedder, tuple(labels)) @ evidence.question_vector))
            names = " and ".join(labels[i] for i in ranked[:TASK_LABELS])
            framing = load_prompt("task", self.prompts_dir, task=names, question=evidence.question)
            statements.append(Statement(text=framing))  # rests on the question and the labels
        if candidates:
            best = evidence.passages[max(candidates, key=lambda i: evidence.closeness[i])]
            used |= best.span
            statements.append(Statement(text=best.text, sources=(best.source,)))
        return tuple(statements)

    def _steps(self, evidence: Evidence, candidates: list[int], used: set[str]) -> tuple[WorkflowStep, ...]:
        """For each step, the unused passages that fit its description and the question best.

        A required step the anchor's method cannot fill may quote any other source.
        """
        descriptions = encode_cached(evidence.embedder, tuple(self.stage_descriptions[s] for s in STAGES))
        fit = evidence.vectors @ descriptions.T  # passages x stages
        is_model = np.array([evidence.records[p.source - 1].kind == "model" for p in evidence.passages])
        base = QUESTION_WEIGHT * evidence.closeness + MODEL_PREFERENCE * is_model
        everything = [i for i, p in enumerate(evidence.passages) if p.quotable]
        steps = []
        for column, stage in enumerate(STAGES):
            pools = (candidates, everything) if stage in REQUIRED_STAGES else (candidates,)
            for pool in pools:
                chosen = []
                for i in sorted(pool, key=lambda i: -(fit[i, column] + base[i])):
                    passage = evidence.passages[i]
                    if passage.span & used:
                        continue
                    used |= passage.span
                    chosen.append(Statement(text=passage.text, sources=(passage.source,)))
                    if len(chosen) == PASSAGES_PER_STAGE[stage]:
                        break
                if chosen:
                    steps.append(WorkflowStep(stage=stage, statements=tuple(chosen)))
                    break
        return tuple(steps)

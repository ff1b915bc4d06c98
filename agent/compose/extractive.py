"""The writer with no generative model: it composes the answer from the cards' own fields.

Part 1 is the anchor's ``task`` and the person's situation as the question states it; part 2
is the anchor's ``workflow`` (each step filled only from the field of that name) followed by
the ``explains`` and ``facts`` sentences that answer this question, and one contrast from a
second work when the person asks to choose or compare. Every sentence is a card's sentence
(or a restatement of the question), so it cannot state anything the sources do not; this
writer is also the fallback whenever the grounding guard rejects a generative writer's text.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from string import Template

import numpy as np

from zoomqa.agent.compose.answer import Draft, Stage, Statement, WorkflowStep
from zoomqa.agent.compose.evidence import (
    FIELD_QUESTION,
    FIELD_SUMMARY,
    POINT_FIELDS,
    WORKFLOW_FIELDS,
    Evidence,
    encode_cached,
)
from zoomqa.agent.understand.question import Analysis, content_stems, named_in, situation_terms
from zoomqa.agent.understand.vocabulary import vocabulary
from zoomqa.errors import ZoomqaError
from zoomqa.prompts import load_prompt, read_template

# Part 2's closing step: the points that answer this question, chosen among the method's cards.
# Four points within 0.3 of the best, with the headline bonus below, convey more of the answer
# questions' nuggets than three within 0.12. Nugget recall: `zoomqa eval answers -q tests/questions.jsonl`.
MAX_POINTS = 4
POINT_MARGIN = 0.3  # a further point must score within this of the best one
LEXICAL_WEIGHT = 0.25  # share of the question's content words (stems) a sentence repeats
EXPLAINS_BONUS = 0.04  # "why" questions are answered by "why you saw X" sentences first
SITUATION_BONUS = 0.1  # a sentence about the person's kind of picture or damage (anime, faces, JPEG...)
# "What did DA-Fusion improve?", "what is EDSR known for?": the sentences that state a result
# (both patterns: vocabulary.toml).
_ASKS_RESULTS = vocabulary().question_patterns["asks_results"]
_RESULT = vocabulary().card_patterns["reports_result"]
RESULT_BONUS = 0.1  # a result sentence for a question about results
NEAR_DUPLICATE = 0.85  # cosine above which two sentences say the same thing
# A card's first "explains" sentence is its headline reason ("why any scale works"): a
# how/why/what question about the work is answered by it even when another sentence
# shares more words with the question.
HEADLINE_INTENTS = ("how", "why", "what", "can")
HEADLINE_BONUS = 0.1
# For records without a workflow (imported from arXiv), the summary sentence that best fits
# each step's description in the workflow_stages template.
QUESTION_WEIGHT = 0.5
STEP_OF_FIELD: dict[str, Stage] = {
    "workflow.input": "input",
    "workflow.model": "model",
    "workflow.output": "output",
}
ROLE_ORDER = (
    1,
    2,
    0,
)  # columns of STEP_OF_FIELD's steps, in the order an abstract's sentences are given them
CONTRAST_INTENTS = ("compare", "which")
SITUATION_NAMES = (
    "sentence", "scale", "scale_beyond", "size", "any_size", "jpeg", "noise", "blur", "scratches",
    "old_photo", "faces", "illustration", "video", "cpu_only", "fast",
)  # fmt: skip


def read_stage_descriptions(prompts_dir: Path | None) -> dict[Stage, str]:
    """The 'stage: description' lines of the workflow_stages template."""
    descriptions: dict[Stage, str] = {}
    for line in load_prompt("workflow_stages", prompts_dir).splitlines():
        name, _, text = line.partition(":")
        name = name.strip()
        if line.lstrip().startswith("#") or not text.strip():
            continue
        if name not in STEP_OF_FIELD.values():
            raise ZoomqaError(f"workflow_stages template: unknown step {name!r}; use input, model, output")
        descriptions[name] = text.strip()  # type: ignore[index]
    missing = [s for s in STEP_OF_FIELD.values() if s not in descriptions]
    if missing:
        raise ZoomqaError(f"workflow_stages template has no line for: {', '.join(missing)}")
    return descriptions


def read_situation_phrases(prompts_dir: Path | None) -> dict[str, Template]:
    """The 'name: phrase' lines of the situation template (how part 1 restates constraints).

    Read raw: each phrase has its own placeholders, filled in only when it is used.
    """
    path, text = read_template("situation", prompts_dir)
    phrases: dict[str, Template] = {}
    for line in text.splitlines():
        name, _, text = line.partition(":")
        if line.lstrip().startswith("#") or not text.strip():
            continue
        phrases[name.strip()] = Template(text.strip())
    missing = [n for n in SITUATION_NAMES if n not in phrases]
    if missing:
        raise ZoomqaError(f"situation template {path} has no line for: {', '.join(missing)}")
    return phrases


def situation(analysis: Analysis, phrases: dict[str, Template]) -> str | None:
    """The person's situation as their question states it, or None when it states none."""
    c = analysis.constraints
    parts: list[str] = []
    if c.scale is not None and c.scale > 1:  # "0.5x" is no enlargement: the tool says so
        key = "scale_beyond" if c.beyond_fixed else "scale"
        parts.append(phrases[key].safe_substitute(scale=f"{c.scale:g}"))
    if c.size is not None:
        width, height = c.size
        size = (
            f"{width}x{height}" if width and height else f"{width} px wide" if width else f"{height} px tall"
        )
        parts.append(phrases["size"].safe_substitute(size=size))
    elif c.any_size:
        parts.append(phrases["any_size"].template)
    flags = {
        **{name: name in c.damage for name in ("jpeg", "noise", "blur", "scratches", "old_photo")},
        "faces": c.faces,
        "illustration": c.illustration,
        "video": c.video,
        "cpu_only": c.cpu_only,
        "fast": c.fast,
    }
    parts += [phrases[name].template for name, on in flags.items() if on]
    if not parts:
        return None
    return phrases["sentence"].safe_substitute(parts="; ".join(parts))


class ExtractiveWriter:
    """Composes parts 1 and 2 from the anchor's card fields and the points that fit the question."""

    name = "extractive"
    generative = False

    def __init__(self, prompts_dir: Path | None = None) -> None:
        self.prompts_dir = prompts_dir
        self.stage_descriptions = read_stage_descriptions(prompts_dir)
        self.situation_phrases = read_situation_phrases(prompts_dir)

    def write(self, evidence: Evidence, on_token: Callable[[str], None] | None = None) -> Draft:
        """Parts 1 and 2; streaming has nothing to offer here, so ``on_token`` is not called."""
        if not evidence.records:
            return Draft(task=(), steps=())
        explained = sorted(evidence.same_method(evidence.anchor), key=lambda n: n != evidence.anchor)
        used: set[str] = set()  # passages already quoted: nothing is said twice
        task = self._task(evidence, explained, used)
        steps = list(self._workflow(evidence, explained, used))
        points = self._points(evidence, explained, used)
        # The answer opens with the sentence that answers the question best; the task and
        # the person's situation follow it.
        task = tuple(points[:1]) + task
        why = points[1:] + self._contrast(evidence, set(explained), used)
        if why:
            steps.append(WorkflowStep(stage="why", statements=tuple(why)))
        return Draft(task=task, steps=tuple(steps))

    def _quote(self, evidence: Evidence, index: int, used: set[str]) -> Statement:
        passage = evidence.passages[index]
        used |= passage.span
        return Statement(text=passage.text, sources=(passage.source,), field=evidence.field_of(passage))

    def _first(self, evidence: Evidence, numbers: list[int], field: str) -> int | None:
        """Index of the first passage of ``field`` among the sources ``numbers``, in that order."""
        for number in numbers:
            for i, p in enumerate(evidence.passages):
                if p.source == number and p.field == field:
                    return i
        return None

    def _task(self, evidence: Evidence, explained: list[int], used: set[str]) -> tuple[Statement, ...]:
        """What the anchor is used for, then the person's situation as they told it."""
        statements = []
        index = self._first(evidence, explained, "task")
        if index is not None:
            statements.append(self._quote(evidence, index, used))
        else:
            labels = evidence.records[evidence.anchor - 1].tasks or [
                evidence.records[evidence.anchor - 1].title
            ]
            ranked = np.argsort(-(encode_cached(evidence.embedder, tuple(labels)) @ evidence.question_vector))
            text = load_prompt("task", self.prompts_dir, task=" and ".join(labels[i] for i in ranked[:2]))
            statements.append(
                Statement(
                    text=text,
                    sources=(evidence.anchor,),
                    field=f"{evidence.records[evidence.anchor - 1].id}:tasks",
                )
            )
        told = situation(evidence.analysis, self.situation_phrases)
        if told:
            statements.append(Statement(text=told, field=FIELD_QUESTION))
        return tuple(statements)

    def _workflow(self, evidence: Evidence, explained: list[int], used: set[str]) -> list[WorkflowStep]:
        """Input / Model / Output from the method's workflow field, or, for a record without
        one, from the summary sentences that best fit each step's description."""
        with_workflow = [n for n in explained if evidence.records[n - 1].workflow is not None]
        if with_workflow:
            steps = []
            for field, stage in STEP_OF_FIELD.items():
                index = self._first(evidence, with_workflow[:1], field)
                if index is not None:
                    steps.append(WorkflowStep(stage=stage, statements=(self._quote(evidence, index, used),)))
            return steps
        descriptions = encode_cached(
            evidence.embedder, tuple(self.stage_descriptions[s] for s in STEP_OF_FIELD.values())
        )
        fit = evidence.vectors @ descriptions.T + QUESTION_WEIGHT * evidence.closeness[:, None]
        pool = [
            i
            for i, p in enumerate(evidence.passages)
            if p.quotable and p.source in explained and p.field == FIELD_SUMMARY
        ]
        # An abstract's sentences carry the step they fit best (index/abstract_roles.py): each
        # step quotes a sentence of its own role -- for the method, the paper's first claim --
        # and likeness to the step's description and to the question decides among them. A step
        # no sentence fits takes the best remaining one, a sentence about the field before the
        # paper last. The method is chosen first, then what comes out, then what goes in.
        stages = list(STEP_OF_FIELD.values())
        chosen: dict[Stage, int] = {}
        for column in ROLE_ORDER:
            stage = stages[column]

            def rank(
                i: int, column: int = column, stage: str = stage
            ) -> tuple[bool, bool, int, bool, bool, float]:
                passage = evidence.passages[i]
                role_fit = (passage.stage_fit or (0.0, 0.0, 0.0))[column]
                claim = stage == "model" and passage.role == "claim"
                return (
                    passage.stage == stage,
                    claim,
                    -i if claim else 0,  # the first claim first
                    role_fit > 0,
                    passage.role != "background",
                    role_fit + float(fit[i, column]),
                )

            for i in sorted(pool, key=rank, reverse=True):
                if not evidence.passages[i].span & used:
                    used |= evidence.passages[i].span
                    chosen[stage] = i
                    break
        return [
            WorkflowStep(stage=stage, statements=(self._quote(evidence, chosen[stage], used),))
            for stage in stages
            if stage in chosen
        ]

    def _scores(self, evidence: Evidence, indices: list[int]) -> np.ndarray:
        """How well each passage answers the question: meaning, shared words, and intent."""
        asked = content_stems(evidence.question)
        asks_results = bool(_ASKS_RESULTS.search(evidence.question))
        situation = situation_terms(evidence.question)
        scores = []
        for i in indices:
            passage = evidence.passages[i]
            shared = len(asked & content_stems(passage.text)) / len(asked) if asked else 0.0
            bonus = (
                EXPLAINS_BONUS if passage.field == "explains" and evidence.analysis.intent == "why" else 0.0
            )
            if situation & situation_terms(passage.text):
                bonus += SITUATION_BONUS
            if asks_results and _RESULT.search(passage.text):
                bonus += RESULT_BONUS
            scores.append(float(evidence.closeness[i]) + LEXICAL_WEIGHT * shared + bonus)
        return np.array(scores)

    def _points(self, evidence: Evidence, explained: list[int], used: set[str]) -> list[Statement]:
        """The method's explains/facts sentences (summary sentences for records without any)
        that answer this question best, without saying the same thing twice."""

        def has_points(number: int) -> bool:
            record = evidence.records[number - 1]
            return bool(record.explains or record.facts)

        pool = [
            i
            for i, p in enumerate(evidence.passages)
            if p.quotable
            and p.source in explained
            and not p.span & used
            and (p.field in POINT_FIELDS or (p.field == FIELD_SUMMARY and not has_points(p.source)))
            and p.role != "background"  # an abstract's account of the field before it explains other works
        ]
        if not pool:
            return []
        scores = self._scores(evidence, pool)
        if evidence.analysis.intent in HEADLINE_INTENTS:
            headline = self._first(evidence, explained[:1], "explains")
            if headline in pool:
                scores[pool.index(headline)] += HEADLINE_BONUS
        order = np.argsort(-scores)
        chosen: list[int] = []
        for k in order:
            i = pool[k]
            if len(chosen) == MAX_POINTS or scores[k] < scores[order[0]] - POINT_MARGIN:
                break
            if evidence.passages[i].span & used:
                continue
            if any(float(evidence.vectors[i] @ evidence.vectors[j]) > NEAR_DUPLICATE for j in chosen):
                continue
            chosen.append(i)
            used |= evidence.passages[i].span
        return [self._quote(evidence, i, used) for i in chosen]

    def _contrast(self, evidence: Evidence, explained: set[int], used: set[str]) -> list[Statement]:
        """One sentence from a second work when the person asks to compare or choose."""
        named = [n for n in named_in(evidence.analysis, evidence.records) if n not in explained]
        if evidence.analysis.intent not in CONTRAST_INTENTS and not named:
            return []
        others = named or sorted(
            (n for n in range(1, len(evidence.records) + 1) if n not in explained),
            key=lambda n: -evidence.anchor_scores[n - 1],
        )
        if not others:
            return []
        second = others[0]
        pool = [
            i
            for i, p in enumerate(evidence.passages)
            if p.source == second and p.quotable and not p.span & used and p.field not in WORKFLOW_FIELDS
        ]
        if not pool:
            return []
        best = pool[int(np.argmax(self._scores(evidence, pool)))]
        return [self._quote(evidence, best, used)]

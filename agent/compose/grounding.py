"""The grounding guard: what a generative writer says must come from the sources it cites.

Every draft of a generative writer passes through :meth:`GroundingGuard.check`, which

1. rejects repetition loops, and drafts without the labelled parts the question needs;
2. removes links and arXiv ids that no source carries, and drops sentences that name works
   ("Smith et al.", a quoted title) that are not among the sources;
3. checks each sentence against the source it cites (:mod:`claims`): close enough to one of its
   passages, every name, number and domain term of the sentence found in that source, and not
   saying the opposite. A sentence its cited source does not support is dropped with a note,
   unless another retrieved source clearly supports it: then its citation is moved, with a note.
   A sentence without a citation is kept with the source that clearly supports it, if any;
4. fills a required part left without a sentence from the extractive writer's same part, so one
   weak line never costs the whole answer; a draft with no supported sentence at all is rejected.

A rejected draft is replaced by the extractive writer's answer (see ``pipeline.py``).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from zoomqa.agent.compose.answer import STAGES, Draft, Stage, Statement, WorkflowStep
from zoomqa.agent.compose.claims import SUPPORT_THRESHOLD, ClaimCheck, ClaimChecker, Vocabulary
from zoomqa.agent.compose.evidence import Evidence

__all__ = ["SUPPORT_THRESHOLD", "GroundingGuard", "GuardVerdict", "find_repetition"]

REPEATED_NGRAM = 4  # words
MAX_NGRAM_REPEATS = 2
MIN_WORDS = 3  # what is left of a sentence after scrubbing must still say something

_URL = re.compile(
    r"(?:https?://|www\.)[^\s<>\"')\]]+|\b(?:github\.com|arxiv\.org)/[^\s<>\"')\]]*", re.IGNORECASE
)
_ARXIV_ID = re.compile(r"\b(?:arxiv:\s*)?(\d{4}\.\d{4,5})(?:v\d+)?\b", re.IGNORECASE)
_ET_AL = re.compile(r"\b([A-Z][\w'-]+)(?:\s+and\s+[A-Z][\w'-]+)?\s+et\s+al\b")
_QUOTED = re.compile(r"[\"“]([^\"”]{12,})[\"”]")
_REMOVED = "\x00"  # stands where a link or id was cut, until the words around it are tidied
_DANGLING = re.compile(
    r"[,;:]?\s*(?:\b(?:see|at|in|on|from|via|and|or|code at|code|here)\b\s*)?\x00", re.IGNORECASE
)
_LEFTOVER = re.compile(r"\(\s*[,;:]?\s*\)|\s+(?=[.,;:])")


@dataclass(frozen=True)
class GuardVerdict:
    """The cleaned draft and what was removed; ``rejection`` says why the draft is unusable."""

    draft: Draft
    notes: tuple[str, ...]
    rejection: str | None = None


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


def find_repetition(draft: Draft) -> str | None:
    """Why the draft reads as a repetition loop, or None."""
    texts = [" ".join(_words(s.text)) for s in draft.statements]
    repeated = [t for t, n in Counter(texts).items() if n > 1 and t]
    if repeated:
        return f"repetitive output: the sentence {repeated[0][:60]!r} appears more than once"
    words = _words(" ".join(s.text for s in draft.statements))
    grams = Counter(tuple(words[i : i + REPEATED_NGRAM]) for i in range(len(words) - REPEATED_NGRAM + 1))
    if grams:
        gram, count = grams.most_common(1)[0]
        if count > MAX_NGRAM_REPEATS:
            return f"repetitive output: {' '.join(gram)!r} repeats {count} times"
    return None


@dataclass(frozen=True)
class _KnownWorks:
    """The links, arXiv ids, author surnames and titles of the retrieved sources."""

    links: frozenset[str]
    arxiv_ids: frozenset[str]
    surnames: frozenset[str]
    titles: tuple[str, ...]

    @classmethod
    def of(cls, evidence: Evidence) -> _KnownWorks:
        return cls(
            links=frozenset(link.rstrip("/").lower() for s in evidence.sources for link in s.links.values()),
            arxiv_ids=frozenset(r.arxiv_id for r in evidence.records if r.arxiv_id),
            surnames=frozenset(a.split()[-1].lower() for r in evidence.records for a in r.authors),
            titles=tuple(r.title.lower() for r in evidence.records),
        )

    def has_link(self, url: str) -> bool:
        normalised = url.rstrip("/").lower()
        return normalised in self.links or f"https://{normalised}" in self.links


class GroundingGuard:
    """Checks a draft against the evidence it was written from, sentence by sentence."""

    def __init__(self, threshold: float = SUPPORT_THRESHOLD, vocabulary: Vocabulary | None = None) -> None:
        self.threshold = threshold
        self.vocabulary = vocabulary

    def check(
        self, draft: Draft, evidence: Evidence, fallback: Callable[[], Draft] | None = None
    ) -> GuardVerdict:
        """The draft with its unsupported sentences dropped and citations set right; a required
        part left empty is taken from ``fallback()`` (the extractive draft), or, without one,
        the draft is rejected."""
        repetition = find_repetition(draft)  # a loop usually also eats the parts after it
        if repetition:
            return GuardVerdict(draft, (), repetition)
        written = draft.missing_parts()  # parts the model did not write: it did not follow the format
        if written:
            return GuardVerdict(draft, (), f"off-format output: no {', '.join(written)} part")

        notes: list[str] = []
        known = _KnownWorks.of(evidence)
        checker = ClaimChecker(evidence, threshold=self.threshold, vocabulary=self.vocabulary)
        task = self._kept(draft.task, evidence, checker, known, notes, include_question=True)
        staged = [(step.stage, s) for step in draft.steps for s in step.statements]
        kept = self._kept([s for _, s in staged], evidence, checker, known, notes, include_question=False)
        by_stage: dict[Stage, list[Statement]] = {}
        for (stage, _), statement in zip(staged, kept, strict=True):
            if statement is not None:
                by_stage.setdefault(stage, []).append(statement)
        cleaned = _draft(tuple(s for s in task if s), by_stage, draft.workflow_required)
        if not cleaned.statements:
            reason = f"no supported sentence left for: {', '.join(cleaned.missing_parts())}"
            return GuardVerdict(cleaned, tuple(notes), reason)
        missing = cleaned.missing_parts()
        if missing and fallback is None:
            return GuardVerdict(
                cleaned, tuple(notes), f"no supported sentence left for: {', '.join(missing)}"
            )
        if missing and fallback is not None:
            cleaned = _filled(cleaned, fallback(), missing, notes)
        return GuardVerdict(cleaned, tuple(notes))

    def _kept(
        self,
        statements: Sequence[Statement],
        evidence: Evidence,
        checker: ClaimChecker,
        known: _KnownWorks,
        notes: list[str],
        *,
        include_question: bool,
    ) -> list[Statement | None]:
        """Each statement as it is kept (cited to the sources that support it), or None."""
        texts = [_scrub(s.text, evidence.question, known, notes) for s in statements]
        claims = [(t, s.sources) for s, t in zip(statements, texts, strict=True) if t]
        verdicts = iter(checker.check(claims, include_question=include_question))
        return [
            _as_statement(next(verdicts), s, self.threshold, notes) if t else None
            for s, t in zip(statements, texts, strict=True)
        ]


def _as_statement(
    verdict: ClaimCheck, written: Statement, threshold: float, notes: list[str]
) -> Statement | None:
    """The sentence as kept, with its sources and the field that supports it; or None, noted."""
    invalid = [n for n in written.sources if n not in verdict.cited]
    if invalid:
        marks = "".join(f"[{n}]" for n in invalid)
        notes.append(f"removed a citation of no retrieved source {marks}: {verdict.text[:80]!r}")
    kept = verdict.kept
    if kept is None:
        reason = verdict.judged.why_not(threshold)
        cited = "".join(f"[{n}]" for n in verdict.cited) or "no source"
        notes.append(f"dropped unsupported sentence ({cited}: {reason}): {verdict.text[:80]!r}")
        return None
    if verdict.repointed:
        before = "".join(f"[{n}]" for n in verdict.cited)
        after = "".join(f"[{n}]" for n in kept.sources)
        notes.append(
            f"moved citation {before} to {after}, the source that supports it: {verdict.text[:80]!r}"
        )
    return Statement(text=verdict.text, sources=kept.sources, field=kept.field)


def _draft(
    task: tuple[Statement, ...], by_stage: dict[Stage, list[Statement]], required: bool | None
) -> Draft:
    steps = tuple(WorkflowStep(stage=stage, statements=tuple(found)) for stage, found in by_stage.items())
    return Draft(task=task, steps=steps, workflow_required=required)


def _filled(draft: Draft, fallback: Draft, missing: list[str], notes: list[str]) -> Draft:
    """``draft`` with each part in ``missing`` taken from the extractive ``fallback`` draft ('why'
    missing means no part 2 is left: the fallback's 'why', or else its whole part 2)."""
    task = fallback.task if "task" in missing else draft.task
    parts = {step.stage: step.statements for step in draft.steps}
    theirs = {step.stage: step.statements for step in fallback.steps}
    for stage, found in theirs.items():
        if stage in missing:
            parts[stage] = found
    if "why" in missing and "why" not in theirs:
        parts.update(theirs)
    notes.extend(
        f"the {part} part had no supported sentence: it is taken from the extractive answer"
        for part in missing
    )
    steps = tuple(WorkflowStep(stage=stage, statements=parts[stage]) for stage in STAGES if parts.get(stage))
    return Draft(task=task, steps=steps, workflow_required=draft.workflow_required)


def _scrub(text: str, question: str, known: _KnownWorks, notes: list[str]) -> str | None:
    """``text`` without foreign links and ids, or None when it cites a work we do not have."""
    for match in _ET_AL.finditer(text):
        if match.group(1).lower() not in known.surnames:
            notes.append(f"dropped sentence citing a work not among the sources: {match.group(0)!r}")
            return None
    for match in _QUOTED.finditer(text):
        quoted = match.group(1).lower()
        if quoted not in question.lower() and not any(quoted in t or t in quoted for t in known.titles):
            notes.append(f"dropped sentence naming a title not among the sources: {match.group(1)[:60]!r}")
            return None

    def drop_url(match: re.Match[str]) -> str:
        url = match.group(0).rstrip(".,;:")
        if known.has_link(url):
            return match.group(0)
        notes.append(f"removed a link no source carries: {url}")
        return _REMOVED

    def drop_id(match: re.Match[str]) -> str:
        if match.group(1) in known.arxiv_ids:
            return match.group(0)
        notes.append(f"removed an arXiv id no source carries: {match.group(1)}")
        return _REMOVED

    text = _ARXIV_ID.sub(drop_id, _URL.sub(drop_url, text))
    text = " ".join(_LEFTOVER.sub("", _DANGLING.sub("", text)).split())
    return text if len(_words(text)) >= MIN_WORDS else None

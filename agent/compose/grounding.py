"""The grounding guard: what a generative writer says must come from the retrieved sources.

Every draft of a generative writer passes through :meth:`GroundingGuard.check`, which

1. rejects repetition loops, then drafts without the required labelled parts;
2. removes links and arXiv ids that no source carries, and drops sentences that name works
   ("Smith et al.", a quoted title) that are not among the sources;
3. drops each sentence whose closest source passage is less similar than the support
   threshold, and attributes every kept sentence to the source that supports it;
4. rejects the draft when that leaves a required part empty or removes most of it.

A rejected draft is replaced by the extractive writer's answer (see ``pipeline.py``).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from zoomqa.agent.compose.answer import Draft, Stage, Statement, WorkflowStep
from zoomqa.agent.compose.evidence import Evidence, Support

# Cosine similarity (all-MiniLM-L6-v2) a sentence needs to its closest source passage.
# Chosen by the sweep of `python bench/bench_answers.py` (measured on 73 questions of
# tests/questions.jsonl: 55 paraphrased-supported and 343 unsupported sentences): 0.575 has the
# best balanced accuracy, 0.75 (keeps 75% of supported sentences, 24% of unsupported ones).
# Sentence cosine cannot tell apart two true-sounding statements about super-resolution, so
# the guard leans on its other checks too, and a draft that loses most of its sentences is
# rejected outright.
SUPPORT_THRESHOLD = 0.575
MAX_UNSUPPORTED_SHARE = 0.5
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
    """Checks a draft against the evidence it was written from."""

    def __init__(
        self, threshold: float = SUPPORT_THRESHOLD, max_unsupported_share: float = MAX_UNSUPPORTED_SHARE
    ) -> None:
        self.threshold = threshold
        self.max_unsupported_share = max_unsupported_share

    def check(self, draft: Draft, evidence: Evidence) -> GuardVerdict:
        repetition = find_repetition(draft)  # a loop usually also eats the parts after it
        if repetition:
            return GuardVerdict(draft, (), repetition)
        missing = draft.missing_parts()
        if missing:
            return GuardVerdict(draft, (), f"off-format output: no {', '.join(missing)} part")

        notes: list[str] = []
        known = _KnownWorks.of(evidence)
        task = self._supported(
            [t for s in draft.task if (t := _scrub(s.text, evidence.question, known, notes))],
            evidence,
            notes,
            include_question=True,  # part 1 may restate the person's own situation
        )
        staged = [
            (step.stage, t)
            for step in draft.steps
            for s in step.statements
            if (t := _scrub(s.text, evidence.question, known, notes))
        ]
        kept = self._supported([t for _, t in staged], evidence, notes, include_question=False)
        by_stage: dict[Stage, list[Statement]] = {}
        for (stage, _), statement in zip(staged, kept, strict=True):
            if statement is not None:
                by_stage.setdefault(stage, []).append(statement)
        steps = tuple(WorkflowStep(stage=stage, statements=tuple(found)) for stage, found in by_stage.items())
        cleaned = Draft(task=tuple(s for s in task if s), steps=steps)
        dropped = len(draft.statements) - len(cleaned.statements)
        if cleaned.missing_parts():
            reason = f"no supported sentence left for: {', '.join(cleaned.missing_parts())}"
            return GuardVerdict(cleaned, tuple(notes), reason)
        if dropped > self.max_unsupported_share * len(draft.statements):
            reason = f"{dropped} of {len(draft.statements)} sentences were not supported by the sources"
            return GuardVerdict(cleaned, tuple(notes), reason)
        return GuardVerdict(cleaned, tuple(notes))

    def _supported(
        self, texts: list[str], evidence: Evidence, notes: list[str], *, include_question: bool
    ) -> list[Statement | None]:
        """Each text as a statement attributed to its supporting source, or None if unsupported."""
        result: list[Statement | None] = []
        for text, support in zip(
            texts, evidence.support(texts, include_question=include_question), strict=True
        ):
            if support.similarity < self.threshold:
                notes.append(f"dropped unsupported sentence ({support.similarity:.2f}): {text[:80]!r}")
                result.append(None)
            else:
                result.append(_attributed(text, support, evidence))
        return result


def _attributed(text: str, support: Support, evidence: Evidence) -> Statement:
    """A kept sentence, cited to the source that supports it and naming that passage's field."""
    if not support.source:
        return Statement(text=text, field=support.field)
    record = evidence.records[support.source - 1]
    return Statement(text=text, sources=(support.source,), field=f"{record.id}:{support.field}")


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

"""``zoomqa eval guard``: how well the claim check tells supported sentences from invented ones.

The labelled set (``tests/fixtures/guard_claims.jsonl``) holds sentences written from the bundled
cards, each citing one card among the sources in play: *supported* paraphrases of what the card
says, *fabrications* (plausible facts the card never states) and *contradictions* (another loss,
dataset, scale, number or a negation of what it states). Each sentence is judged as the grounding
guard judges a draft's sentence, against evidence built from its ``retrieved`` records (no index
needed); it counts as flagged when the guard would drop it. Ids ending in an odd number are the
dev half, on which the thresholds are chosen; the even ones are only reported.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from zoomqa.agent.compose.claims import (
    CONTRADICTION_THRESHOLD,
    DOMAIN_TERM_MAX_SHARE,
    MIN_BURST,
    SUPPORT_THRESHOLD,
    ClaimChecker,
    Vocabulary,
    bundled_vocabulary,
)
from zoomqa.agent.compose.evidence import Evidence
from zoomqa.errors import ZoomqaError
from zoomqa.index.embedding import Embedder
from zoomqa.index.records import Record
from zoomqa.index.results import Hit, SearchResult

Kind = Literal["supported", "fabrication", "contradiction"]
KINDS: tuple[Kind, ...] = ("supported", "fabrication", "contradiction")
HALVES = ("dev", "report")
TARGET = 0.9  # the precision and recall of "unsupported" asked of the report half (issue 24)
# A guard that drops more than 1 in 20 faithful sentences turns a chat model's answer into the
# extractive one part by part: the thresholds are chosen among the settings that keep this many.
MIN_SUPPORTED_KEPT = 0.95
SWEEP_THRESHOLDS = tuple(round(float(t), 3) for t in np.arange(0.50, 0.851, 0.025))
SWEEP_SHARES = (0.1, 0.2, 0.3, 0.4)
SWEEP_BURSTS = (1.5, 2.0, 2.5)
# P(contradicted) at which the entailment model drops a sentence; above 1 it never does
SWEEP_CONTRADICTIONS = (0.9, 0.95, 0.98, 0.99, 0.995, 1.01)
_ID_NUMBER = re.compile(r"(\d+)$")


@dataclass(frozen=True)
class LabelledClaim:
    id: str
    kind: Kind
    sentence: str
    cites: tuple[str, ...]
    retrieved: tuple[str, ...]

    @property
    def half(self) -> str:
        """'dev' for ids ending in an odd number, else 'report'."""
        match = _ID_NUMBER.search(self.id)
        return "dev" if match and int(match.group(1)) % 2 else "report"

    @property
    def unsupported(self) -> bool:
        return self.kind != "supported"


def read_claims(path: Path, records: dict[str, Record]) -> list[LabelledClaim]:
    """The labelled sentences of ``path``; every problem is reported as ``file:line: what``."""
    claims: list[LabelledClaim] = []
    problems: list[str] = []
    seen: set[str] = set()
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            claim = LabelledClaim(
                id=str(row["id"]),
                kind=row["kind"],
                sentence=str(row["sentence"]),
                cites=tuple(row["cites"]),
                retrieved=tuple(row["retrieved"]),
            )
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            problems.append(f"{path}:{number}: not a labelled claim ({exc})")
            continue
        unknown = [i for i in (*claim.cites, *claim.retrieved) if i not in records]
        if claim.kind not in KINDS:
            problems.append(f"{path}:{number}: kind must be one of {', '.join(KINDS)}")
        elif unknown:
            problems.append(f"{path}:{number}: no bundled record {unknown[0]!r}")
        elif not claim.cites or not set(claim.cites) <= set(claim.retrieved):
            problems.append(f"{path}:{number}: 'cites' must name some of the 'retrieved' records")
        elif claim.id in seen:
            problems.append(f"{path}:{number}: id {claim.id!r} appears twice")
        else:
            seen.add(claim.id)
            claims.append(claim)
    if problems:
        raise ZoomqaError("bad labelled claims:\n" + "\n".join(problems[:10]))
    return claims


@dataclass(frozen=True)
class ClaimOutcome:
    claim: LabelledClaim
    flagged: bool  # the guard would drop the sentence
    repointed_to: str | None  # the record the guard would cite instead, if it moved the citation
    similarity: float  # to the cited source's closest passage
    missing: tuple[str, ...]  # key terms the cited source never mentions
    polarity_differs: bool
    contradicted: float  # the entailment model's P(contradicted) (0 when it was not asked)


def _search_result(records: dict[str, Record], ids: Sequence[str]) -> SearchResult:
    """The records in play as a retriever would return them (fused scores a little apart)."""
    hits = [Hit(records[i], score=0.6 - n * 0.02, similarity=0.6) for n, i in enumerate(ids)]
    return SearchResult(
        question="",
        models=tuple(h for h in hits if h.record.kind == "model"),
        papers=tuple(h for h in hits if h.record.kind == "paper"),
    )


@dataclass(frozen=True)
class _Prepared:
    """One labelled sentence with its evidence and embedding, judged again for each setting."""

    claim: LabelledClaim
    evidence: Evidence
    cites: tuple[int, ...]
    vector: np.ndarray


def prepare(
    claims: Sequence[LabelledClaim], records: dict[str, Record], embedder: Embedder
) -> list[_Prepared]:
    """Evidence for each sentence (shared between sentences with the same sources) and its vector."""
    evidence: dict[tuple[str, ...], Evidence] = {}
    vectors = embedder.encode([c.sentence for c in claims]) if claims else np.zeros((0, embedder.dim))
    prepared = []
    for claim, vector in zip(claims, vectors, strict=True):
        if claim.retrieved not in evidence:
            evidence[claim.retrieved] = Evidence.gather(_search_result(records, claim.retrieved), embedder)
        found = evidence[claim.retrieved]
        numbers = {r.id: n for n, r in enumerate(found.records, start=1)}
        prepared.append(_Prepared(claim, found, tuple(numbers[i] for i in claim.cites), vector))
    return prepared


def judge(
    prepared: Iterable[_Prepared],
    threshold: float,
    vocabulary: Vocabulary,
    contradiction: float = CONTRADICTION_THRESHOLD,
) -> list[ClaimOutcome]:
    """What the guard does with each sentence at these settings."""
    outcomes = []
    for item in prepared:
        checker = ClaimChecker(
            item.evidence, threshold=threshold, vocabulary=vocabulary, contradiction_threshold=contradiction
        )
        (verdict,) = checker.check([(item.claim.sentence, item.cites)], vectors=item.vector[None, :])
        kept = verdict.kept
        moved = kept is not None and verdict.repointed and kept.sources
        outcomes.append(
            ClaimOutcome(
                claim=item.claim,
                flagged=not verdict.supported,
                repointed_to=item.evidence.records[kept.sources[0] - 1].id if moved and kept else None,
                similarity=verdict.judged.similarity,
                missing=verdict.judged.missing,
                polarity_differs=verdict.judged.polarity_differs,
                contradicted=verdict.judged.contradicted,
            )
        )
    return outcomes


@dataclass(frozen=True)
class GuardScores:
    """Detection of unsupported sentences (fabrications and contradictions) on some outcomes."""

    n: int
    precision: float | None  # of the flagged sentences, the share that are unsupported
    recall: float | None  # of the unsupported sentences, the share flagged
    supported_kept: float | None  # of the supported sentences, the share kept
    flagged_by_kind: dict[str, float | None]
    repointed: int

    @classmethod
    def of(cls, outcomes: Sequence[ClaimOutcome]) -> GuardScores:
        flagged = [o for o in outcomes if o.flagged]
        positives = [o for o in outcomes if o.claim.unsupported]
        supported = [o for o in outcomes if not o.claim.unsupported]
        hits = sum(o.claim.unsupported for o in flagged)
        return cls(
            n=len(outcomes),
            precision=hits / len(flagged) if flagged else None,
            recall=hits / len(positives) if positives else None,
            supported_kept=sum(not o.flagged for o in supported) / len(supported) if supported else None,
            flagged_by_kind={kind: _share(outcomes, kind) for kind in KINDS},
            repointed=sum(o.repointed_to is not None for o in outcomes),
        )

    @property
    def f1(self) -> float:
        if not self.precision or not self.recall:
            return 0.0
        return 2 * self.precision * self.recall / (self.precision + self.recall)


def _share(outcomes: Sequence[ClaimOutcome], kind: str) -> float | None:
    of_kind = [o for o in outcomes if o.claim.kind == kind]
    return sum(o.flagged for o in of_kind) / len(of_kind) if of_kind else None


def by_half(outcomes: Sequence[ClaimOutcome]) -> dict[str, GuardScores]:
    """Scores on the dev half, the report half and all sentences."""
    halves = {half: GuardScores.of([o for o in outcomes if o.claim.half == half]) for half in HALVES}
    return halves | {"all": GuardScores.of(outcomes)}


@dataclass(frozen=True)
class SweepRow:
    threshold: float
    max_share: float
    burst: float
    contradiction: float
    dev: GuardScores

    @property
    def setting(self) -> tuple[float, float, float, float]:
        return self.threshold, self.max_share, self.burst, self.contradiction


IN_USE = (SUPPORT_THRESHOLD, DOMAIN_TERM_MAX_SHARE, MIN_BURST, CONTRADICTION_THRESHOLD)


def sweep(
    prepared: Sequence[_Prepared],
    thresholds: Sequence[float] = SWEEP_THRESHOLDS,
    shares: Sequence[float] = SWEEP_SHARES,
    bursts: Sequence[float] = SWEEP_BURSTS,
    contradictions: Sequence[float] = SWEEP_CONTRADICTIONS,
) -> list[SweepRow]:
    """Dev-half scores for every threshold, domain-term share, burst and contradiction
    probability: where the constants were chosen."""
    dev = [p for p in prepared if p.claim.half == "dev"]
    rows = []
    for share in shares:
        for burst in bursts:
            vocabulary = bundled_vocabulary(share, burst)
            for threshold in thresholds:
                for contradiction in contradictions:
                    scores = GuardScores.of(judge(dev, threshold, vocabulary, contradiction))
                    rows.append(SweepRow(threshold, share, burst, contradiction, scores))
    return rows


def best(rows: Sequence[SweepRow]) -> SweepRow:
    """The setting with the best F1 of unsupported detection on the dev half among those that
    keep at least MIN_SUPPORTED_KEPT of the supported sentences (ties: more kept, then the
    setting in use); when none keeps that many, the best F1."""
    keeping = [r for r in rows if (r.dev.supported_kept or 0.0) >= MIN_SUPPORTED_KEPT] or list(rows)
    return max(keeping, key=lambda r: (round(r.dev.f1, 3), r.dev.supported_kept or 0.0, r.setting == IN_USE))


def misjudged(outcomes: Sequence[ClaimOutcome]) -> list[dict[str, Any]]:
    """Every sentence the guard got wrong, with what it saw, as JSON-ready data."""
    return [
        {
            "id": o.claim.id,
            "kind": o.claim.kind,
            "flagged": o.flagged,
            "similarity": round(o.similarity, 3),
            "missing": list(o.missing),
            "opposite": o.polarity_differs,
            "contradicted": round(o.contradicted, 3),
            "repointed_to": o.repointed_to,
            "sentence": o.claim.sentence,
        }
        for o in outcomes
        if o.flagged != o.claim.unsupported
    ]

"""``zoomqa eval train-works``: the map of question vectors towards the works that answer them
(:mod:`zoomqa.agent.compose.work_matching`).

Every bundled record is a work vector, the mean of its passages' vectors as the answer pipeline
computes them. Each written question -- from ``index/data/works/`` (a person's situation,
written for a work) and ``index/data/matching/`` (written for one card sentence) -- should lie,
once mapped, closer to the records of its work than to any other record: a softmax over all
records at a fixed temperature, with the map's squared size penalised. The penalty is chosen on
a fifth of the questions held out (the strongest within one standard error of the best). The
report also states how the map does on works held out whole, the case of a paper added from
arXiv, for which the anchor does not use it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from zoomqa.agent.compose.evidence import passages_of
from zoomqa.agent.compose.work_matching import work_vector
from zoomqa.errors import ZoomqaError
from zoomqa.index.embedding import Embedder
from zoomqa.index.matching import QueryAdapter, WorkQuestion, read_matching_questions, read_work_questions
from zoomqa.index.records import Record, read_bundled_corpus


@dataclass(frozen=True)
class WorkSettings:
    """How the map is fitted; part of the digest its weights carry."""

    temperature: float = 0.05
    penalties: tuple[float, ...] = (1e-4, 1e-3, 1e-2)
    steps: int = 300
    learning_rate: float = 1e-3
    held_out_share: float = 0.2
    seed: int = 0


SETTINGS = WorkSettings()


def all_questions() -> list[WorkQuestion]:
    """The situation questions, then the matching questions (each for its card's record)."""
    return read_work_questions() + [WorkQuestion(q.card, q.question) for q in read_matching_questions()]


def _passage_texts(record: Record) -> list[str]:
    return [p.text for p in passages_of(record, 1)]


def training_digest(embedder: str, questions: Sequence[WorkQuestion], records: Sequence[Record]) -> str:
    """What trained weights depend on: the questions, the records' passages, the embedder and the settings."""
    payload = json.dumps(
        [
            embedder,
            asdict(SETTINGS),
            [[q.record, q.question] for q in questions],
            [[r.id, r.work, _passage_texts(r)] for r in records],
        ],
        ensure_ascii=False,
        sort_keys=True,
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _fit(questions: Any, works: Any, right: Any, penalty: float) -> Any:
    """W minimising the softmax loss of the right records over all records, plus ``penalty``·|W|²."""
    import torch

    torch.manual_seed(SETTINGS.seed)
    weight = torch.zeros((questions.shape[1],) * 2, requires_grad=True)
    optimiser = torch.optim.Adam([weight], lr=SETTINGS.learning_rate)
    for _ in range(SETTINGS.steps):
        mapped = questions + questions @ weight
        logits = (mapped / mapped.norm(dim=1, keepdim=True)) @ works.T / SETTINGS.temperature
        wanted = torch.logsumexp(logits.masked_fill(~right, -1e9), dim=1)
        loss = (torch.logsumexp(logits, dim=1) - wanted).mean() + penalty * (weight**2).sum()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    return weight.detach()


def _top1(questions: Any, works: Any, right: Any, weight: Any) -> float:
    """Share of questions whose closest record, once mapped, is of their work."""
    import torch

    mapped = questions + questions @ weight
    best = (mapped / mapped.norm(dim=1, keepdim=True) @ works.T).argmax(dim=1)
    return round(float(right[torch.arange(len(best)), best].float().mean()), 4)


@dataclass(frozen=True)
class _Problem:
    """The questions' and records' vectors, and which records are of each question's work."""

    vectors: Any  # (questions, dim) tensor
    works: Any  # (records, dim) tensor: each record's work vector
    right: Any  # (questions, records) bool tensor
    question_work: np.ndarray  # each question's work

    def fit(self, rows: Any, penalty: float) -> Any:
        return _fit(self.vectors[rows], self.works, self.right[rows], penalty)

    def top1(self, rows: Any, weight: Any) -> float:
        return _top1(self.vectors[rows], self.works, self.right[rows], weight)


def _problem(embedder: Embedder, questions: list[WorkQuestion], records: Sequence[Record]) -> _Problem:
    import torch

    index = {r.id: i for i, r in enumerate(records)}
    unknown = sorted({q.record for q in questions if q.record not in index})
    if unknown:
        raise ZoomqaError(f"questions written for records that are not bundled: {', '.join(unknown[:5])}")
    works = torch.tensor(np.stack([work_vector(embedder.encode(_passage_texts(r))) for r in records]))
    vectors = torch.tensor(embedder.encode([q.question for q in questions]), dtype=torch.float32)
    of_work = np.array([r.work for r in records])
    question_work = np.array([records[index[q.record]].work for q in questions])
    right = torch.tensor(question_work[:, None] == of_work[None, :])
    return _Problem(vectors, works, right, question_work)


def train_work_matcher(embedder: Embedder, *, say: Callable[[str], None] = lambda _: None) -> QueryAdapter:
    """Fit the map on the shipped questions and the bundled records; the report holds the held-out scores."""
    import torch

    questions, records = all_questions(), read_bundled_corpus()
    say(f"{len(questions)} questions over {len(records)} records")
    problem = _problem(embedder, questions, records)
    rng = np.random.default_rng(SETTINGS.seed)
    held = torch.tensor(rng.random(len(questions)) < SETTINGS.held_out_share)
    zero = torch.zeros((problem.vectors.shape[1],) * 2)
    trials = {}
    for penalty in SETTINGS.penalties:
        trials[penalty] = problem.top1(held, problem.fit(~held, penalty))
        say(f"penalty {penalty:g}: held-out questions top-1 {trials[penalty]}")
    # The strongest penalty within one standard error of the best held-out top-1: a weaker
    # one must earn its freedom by more than the noise of the held-out questions.
    best = max(trials.values())
    error = float(np.sqrt(best * (1 - best) / max(int(held.sum()), 1)))
    penalty = max(p for p in SETTINGS.penalties if trials[p] >= best - error)
    distinct = sorted(set(problem.question_work))
    unseen = set(
        rng.choice(distinct, size=max(1, round(SETTINGS.held_out_share * len(distinct))), replace=False)
    )
    on_unseen = torch.tensor([w in unseen for w in problem.question_work])
    unseen_weight = problem.fit(~on_unseen, penalty)
    report = {
        "questions": len(questions),
        "records": len(records),
        "penalty": penalty,
        "held_out_questions": {
            "n": int(held.sum()),
            "embedder_top1": problem.top1(held, zero),
            "mapped_top1": {str(p): a for p, a in trials.items()},
        },
        "held_out_works": {
            "works": len(unseen),
            "n": int(on_unseen.sum()),
            "embedder_top1": problem.top1(on_unseen, zero),
            "mapped_top1": problem.top1(on_unseen, unseen_weight),
        },
    }
    weight = problem.fit(torch.ones(len(questions), dtype=torch.bool), penalty)
    return QueryAdapter(
        embedder.identity, training_digest(embedder.identity, questions, records), weight.numpy(), report
    )


def cross_fitted_maps(
    embedder: Embedder, penalty: float, folds: int, *, seed: int = 0
) -> list[tuple[list[WorkQuestion], QueryAdapter]]:
    """The situation questions (``index/data/works/``) in ``folds`` parts, each with a map fitted
    on every other question: a question's mapped vector then comes from a map that never saw it,
    as a person's question does (the anchor's fit learns from these, anchor_fit.py)."""
    questions, records = all_questions(), read_bundled_corpus()
    problem = _problem(embedder, questions, records)
    situations = len(read_work_questions())  # all_questions() lists them first
    fold = np.full(len(questions), -1)
    fold[:situations] = np.random.default_rng(seed).permutation(situations) % folds
    maps = []
    for part in range(folds):
        weight = problem.fit(_rows(fold != part), penalty)
        adapter = QueryAdapter(embedder.identity, f"cross-fitted {part + 1}/{folds}", weight.numpy(), {})
        maps.append(([q for q, f in zip(questions, fold, strict=True) if f == part], adapter))
    return maps


def _rows(values: np.ndarray) -> Any:
    import torch

    return torch.tensor(values, dtype=torch.bool)

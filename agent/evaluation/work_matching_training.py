"""``zoomqa eval train-works``: the map of question vectors towards the works that answer them
(:mod:`zoomqa.agent.compose.work_matching`).

Every bundled record is a work vector, the mean of its passages' vectors as the answer pipeline
computes them. Each written question -- from ``index/data/works/`` (a person's situation,
written for a work) and ``index/data/matching/`` (written for one card sentence) -- should lie,
once mapped, closer to the records of its work than to any other record: a softmax over all
records at a fixed temperature, with the map's squared size penalised. The penalty is chosen on
a fifth of the questions held out. The report also states how the map does on works held out
whole, the case of a paper added from arXiv, for which the anchor does not use it.
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


def train_work_matcher(embedder: Embedder, *, say: Callable[[str], None] = lambda _: None) -> QueryAdapter:
    """Fit the map on the shipped questions and the bundled records; the report holds the held-out scores."""
    import torch

    questions, records = all_questions(), read_bundled_corpus()
    index = {r.id: i for i, r in enumerate(records)}
    unknown = sorted({q.record for q in questions if q.record not in index})
    if unknown:
        raise ZoomqaError(f"questions written for records that are not bundled: {', '.join(unknown[:5])}")
    say(f"{len(questions)} questions over {len(records)} records")
    works = torch.tensor(np.stack([work_vector(embedder.encode(_passage_texts(r))) for r in records]))
    vectors = torch.tensor(embedder.encode([q.question for q in questions]), dtype=torch.float32)
    of_work = np.array([r.work for r in records])
    question_work = np.array([records[index[q.record]].work for q in questions])
    right = torch.tensor(question_work[:, None] == of_work[None, :])

    rng = np.random.default_rng(SETTINGS.seed)
    held = torch.tensor(rng.random(len(questions)) < SETTINGS.held_out_share)
    zero = torch.zeros((vectors.shape[1],) * 2)
    trials = {}
    for penalty in SETTINGS.penalties:
        weight = _fit(vectors[~held], works, right[~held], penalty)
        trials[penalty] = _top1(vectors[held], works, right[held], weight)
        say(f"penalty {penalty:g}: held-out questions top-1 {trials[penalty]}")
    penalty = max(trials, key=lambda p: (trials[p], p))
    distinct = sorted(set(question_work))
    unseen = set(
        rng.choice(distinct, size=max(1, round(SETTINGS.held_out_share * len(distinct))), replace=False)
    )
    on_unseen = torch.tensor([w in unseen for w in question_work])
    unseen_weight = _fit(vectors[~on_unseen], works, right[~on_unseen], penalty)
    report = {
        "questions": len(questions),
        "records": len(records),
        "penalty": penalty,
        "held_out_questions": {
            "n": int(held.sum()),
            "embedder_top1": _top1(vectors[held], works, right[held], zero),
            "mapped_top1": {str(p): a for p, a in trials.items()},
        },
        "held_out_works": {
            "works": len(unseen),
            "n": int(on_unseen.sum()),
            "embedder_top1": _top1(vectors[on_unseen], works, right[on_unseen], zero),
            "mapped_top1": _top1(vectors[on_unseen], works, right[on_unseen], unseen_weight),
        },
    }
    weight = _fit(vectors, works, right, penalty)
    return QueryAdapter(
        embedder.identity, training_digest(embedder.identity, questions, records), weight.numpy(), report
    )

"""``zoomqa eval train-works``: the question encoder tuned towards the works that answer
questions (:mod:`zoomqa.agent.compose.work_matching`).

Every bundled record is a work vector, the mean of its passages' vectors as the answer pipeline
computes them with the plain embedder. Each written question -- from ``index/data/works/`` (a
person's situation, written for a work) and ``index/data/matching/`` (written for one card
sentence) -- read by the packaged MiniLM with its top layers fine-tuned, should lie closer to
the records of its work than to any other record: a softmax over all records at a fixed
temperature. The number of epochs is chosen on a fifth of the questions held out (the best
held-out top-1), which the report states beside the plain embedder's; the shipped layers are
then fitted on every question for that many epochs.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from zoomqa.agent.compose.evidence import passages_of
from zoomqa.agent.compose.work_matching import WORK_IDS, WORK_VECTORS, WorkMatcher, work_vector
from zoomqa.errors import ZoomqaError
from zoomqa.index.embedding import Embedder
from zoomqa.index.matching import WorkQuestion, read_matching_questions, read_work_questions
from zoomqa.index.pair_training import frozen_states, layer_tensors, load_base, save_tuned, top_pooled
from zoomqa.index.records import Record, read_bundled_corpus


@dataclass(frozen=True)
class WorkSettings:
    """How the encoder is tuned; part of the digest its weights carry."""

    top_layers: int = 2  # fine-tuned layers: 3.5 M parameters, 7 MB in fp16
    max_epochs: int = 10  # epochs 1..max are scored on the held-out fifth; the best is refitted
    learning_rate: float = 2e-4
    weight_decay: float = 0.01
    batch: int = 32
    temperature: float = 0.05
    held_out_share: float = 0.2
    max_tokens: int = 128
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


@dataclass
class _Problem:
    """The questions' hidden states below the tuned layers, the records' work vectors and which
    records are of each question's work."""

    bert: Any
    frozen: int  # layers below the tuned ones
    identity: str  # of the base model
    states: list[Any]  # one (tokens, dim) tensor per question
    works: Any  # (records, dim) tensor
    work_ids: tuple[str, ...]  # the records of its rows
    right: Any  # (questions, records) bool tensor

    def fit(
        self,
        rows: np.ndarray,
        epochs: int,
        score: np.ndarray | None = None,
        say: Callable[[str], None] = lambda _: None,
    ) -> tuple[list[Any], list[float]]:
        """Tune copies of the top layers on ``rows`` for ``epochs``; the held-out top-1 of
        ``score`` after each epoch when given."""
        import copy

        import torch

        torch.manual_seed(SETTINGS.seed)
        top = [copy.deepcopy(self.bert.encoder.layer[self.frozen + i]) for i in range(SETTINGS.top_layers)]
        params = [p for layer in top for p in layer.parameters()]
        optimiser = torch.optim.AdamW(params, lr=SETTINGS.learning_rate, weight_decay=SETTINGS.weight_decay)
        order = np.flatnonzero(rows)
        rng = np.random.default_rng(SETTINGS.seed)
        history: list[float] = []
        for epoch in range(1, epochs + 1):
            for layer in top:
                layer.train()
            rng.shuffle(order)
            for start in range(0, len(order), SETTINGS.batch):
                batch = order[start : start + SETTINGS.batch].tolist()
                pooled = top_pooled(top, [self.states[i] for i in batch])
                logits = torch.nn.functional.normalize(pooled, dim=1) @ self.works.T / SETTINGS.temperature
                wanted = torch.logsumexp(logits.masked_fill(~self.right[batch], -1e9), dim=1)
                loss = (torch.logsumexp(logits, dim=1) - wanted).mean()
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
            if score is not None:
                history.append(self.top1(top, score))
                say(f"epoch {epoch}: held-out questions top-1 {history[-1]}")
        return top, history

    def vectors(self, top: Sequence[Any] | None, rows: np.ndarray) -> Any:
        """Unit vectors of the questions in ``rows``, through ``top`` (the plain top layers when None)."""
        import torch

        layers = top if top is not None else self.bert.encoder.layer[self.frozen :]
        for layer in layers:
            layer.eval()
        index = np.flatnonzero(rows)
        with torch.no_grad():
            pooled = [
                top_pooled(layers, [self.states[i] for i in index[s : s + 128]])
                for s in range(0, len(index), 128)
            ]
        return torch.nn.functional.normalize(torch.cat(pooled), dim=1)

    def top1(self, top: Sequence[Any] | None, rows: np.ndarray) -> float:
        """Share of the questions in ``rows`` whose closest record is of their work."""
        import torch

        best = (self.vectors(top, rows) @ self.works.T).argmax(dim=1)
        right = self.right[torch.tensor(np.flatnonzero(rows))]
        return round(float(right[torch.arange(len(best)), best].float().mean()), 4)

    def matcher(
        self, top: Sequence[Any], embedder: Embedder, digest: str, report: dict[str, Any]
    ) -> WorkMatcher:
        """The tuned layers as the numpy encoder the answer pipeline runs."""
        base = embedder.minilm()
        if base is None:
            raise ZoomqaError(f"the work matcher needs the numpy MiniLM encoder, not {embedder.identity}")
        layers = {name: value.float().numpy() for name, value in layer_tensors(top, self.frozen).items()}
        return WorkMatcher(
            base.with_layers(layers), self.identity, digest, report, self.work_ids, self.works.numpy()
        )


def _problem(
    embedder_spec: str, embedder: Embedder, questions: list[WorkQuestion], records: Sequence[Record]
) -> _Problem:
    import torch

    index = {r.id: i for i, r in enumerate(records)}
    unknown = sorted({q.record for q in questions if q.record not in index})
    if unknown:
        raise ZoomqaError(f"questions written for records that are not bundled: {', '.join(unknown[:5])}")
    bert, tokenizer, identity = load_base(embedder_spec, SETTINGS.max_tokens)
    if identity != embedder.identity:
        raise ZoomqaError(f"the embedder {embedder.identity} is not {identity}")
    frozen = len(bert.encoder.layer) - SETTINGS.top_layers
    # fp32 throughout: with questions this short, bf16 autocast ran slower even on AMX.
    states = frozen_states(bert, tokenizer, [q.question for q in questions], frozen)
    works = torch.tensor(np.stack([work_vector(embedder.encode(_passage_texts(r))) for r in records]))
    of_work = np.array([r.work for r in records])
    question_work = np.array([records[index[q.record]].work for q in questions])
    right = torch.tensor(question_work[:, None] == of_work[None, :])
    return _Problem(bert, frozen, identity, states, works, tuple(r.id for r in records), right)


def train_work_matcher(
    embedder_spec: str, embedder: Embedder, destination: Path, *, say: Callable[[str], None] = lambda _: None
) -> dict[str, Any]:
    """Choose the epochs on held-out questions, tune on all, write ``destination``; returns the report."""
    questions, records = all_questions(), read_bundled_corpus()
    say(f"{len(questions)} questions over {len(records)} records")
    started = time.monotonic()
    problem = _problem(embedder_spec, embedder, questions, records)
    held = np.random.default_rng(SETTINGS.seed).random(len(questions)) < SETTINGS.held_out_share
    _, history = problem.fit(~held, SETTINGS.max_epochs, held, say)
    epochs = int(np.argmax(history)) + 1
    say(f"tuning on every question for {epochs} epochs")
    top, _ = problem.fit(np.ones(len(questions), dtype=bool), epochs)
    report = {
        "questions": len(questions),
        "records": len(records),
        "epochs": epochs,
        "held_out_questions": {
            "n": int(held.sum()),
            "embedder_top1": problem.top1(None, held),
            "tuned_top1_by_epoch": history,
        },
        "train_s": round(time.monotonic() - started, 1),
    }
    metadata = {
        "embedder": problem.identity,
        "digest": training_digest(problem.identity, questions, records),
        "report": json.dumps(report),
        WORK_IDS: json.dumps(problem.work_ids),
    }
    tensors = {**layer_tensors(top, problem.frozen), WORK_VECTORS: problem.works.contiguous()}
    save_tuned(destination, tensors, metadata)
    return report


def cross_fitted_matchers(
    embedder_spec: str, embedder: Embedder, epochs: int, folds: int, *, seed: int = 0
) -> list[tuple[list[WorkQuestion], WorkMatcher]]:
    """The situation questions (``index/data/works/``) in ``folds`` parts, each with a matcher
    tuned on every other question: a question's vector then comes from an encoder that never
    saw it, as a person's question does (the anchor's fit learns from these, anchor_fit.py)."""
    questions, records = all_questions(), read_bundled_corpus()
    problem = _problem(embedder_spec, embedder, questions, records)
    situations = len(read_work_questions())  # all_questions() lists them first
    fold = np.full(len(questions), -1)
    fold[:situations] = np.random.default_rng(seed).permutation(situations) % folds
    matchers = []
    for part in range(folds):
        top, _ = problem.fit(fold != part, epochs)
        matcher = problem.matcher(top, embedder, f"cross-fitted {part + 1}/{folds}", {})
        matchers.append(([q for q, f in zip(questions, fold, strict=True) if f == part], matcher))
    return matchers

"""Training the question adapter (:mod:`zoomqa.index.matching`) from the questions kept in the repo.

Each written question's target is its card sentence; every other sentence of every bundled
card is a negative (a full softmax over about a thousand sentences, so the hard negatives, the
same card's other sentences and the neighbouring methods' sentences, are always in it). The
L2 penalty that keeps the map near the identity (so questions about papers no card describes
are matched as the base embedder matches them) is chosen on a validation split of the
questions; a second split that holds out whole cards reports how the adapter does on cards it
never saw. The evaluation question sets (tests/*.jsonl) are never read here.
torch is imported here only: answering questions needs numpy alone.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from zoomqa.errors import ZoomqaError
from zoomqa.index.embedding import Embedder
from zoomqa.index.matching import MatchingQuestion, QueryAdapter, questions_digest, read_matching_questions
from zoomqa.index.records import Record, read_bundled_corpus

TEMPERATURE = 0.05  # softmax temperature over cosines
EPOCHS = 20
BATCH = 128
LEARNING_RATE = 2e-3
PENALTIES = (1e-3, 1e-2, 1e-1)  # L2 on the map, per question; the validation split picks one
VALIDATION_SHARE = 0.15
SEED = 0


def _settings() -> list[object]:
    return [TEMPERATURE, EPOCHS, BATCH, LEARNING_RATE, PENALTIES, VALIDATION_SHARE, SEED]


def card_sentences(records: Sequence[Record]) -> tuple[list[str], list[str]]:
    """Every card sentence of ``records`` once, with the id of the card it belongs to."""
    sentences: dict[str, str] = {}
    for record in records:
        for _, text in record.card_fields():
            sentences.setdefault(text, record.id)
    return list(sentences), list(sentences.values())


def _fit(
    questions: np.ndarray,
    targets: np.ndarray,
    sentences: np.ndarray,
    penalty: float,
    cards: np.ndarray,
    card_targets: np.ndarray,
) -> np.ndarray:
    """The (dim, dim) map minimising softmax cross-entropy of each question's target sentence
    (among all card sentences) and of its card (among all cards' record vectors, what
    retrieval ranks), plus ``penalty`` times the squared Frobenius norm of the map."""
    import torch

    generator = torch.Generator().manual_seed(SEED)
    q = torch.from_numpy(questions)
    s = torch.from_numpy(sentences)
    y = torch.from_numpy(targets)
    c = torch.from_numpy(cards)
    yc = torch.from_numpy(card_targets)
    weight = torch.zeros(q.shape[1], q.shape[1], requires_grad=True)
    optimiser = torch.optim.Adam([weight], lr=LEARNING_RATE)
    for _ in range(EPOCHS):
        order = torch.randperm(len(q), generator=generator)
        for start in range(0, len(q), BATCH):
            rows = order[start : start + BATCH]
            adapted = torch.nn.functional.normalize(q[rows] + q[rows] @ weight, dim=1)
            loss = torch.nn.functional.cross_entropy(adapted @ s.T / TEMPERATURE, y[rows])
            loss = loss + torch.nn.functional.cross_entropy(adapted @ c.T / TEMPERATURE, yc[rows])
            loss = loss + penalty * weight.pow(2).sum()
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    return weight.detach().numpy().astype(np.float32)


def _scores(
    questions: np.ndarray,
    targets: np.ndarray,
    sentences: np.ndarray,
    owners: np.ndarray,
    weight: np.ndarray | None,
) -> dict[str, float]:
    """Top-1 and top-5 sentence accuracy, the mean reciprocal rank of the target sentence, and
    how often the best sentence is of the right card."""
    vectors = questions if weight is None else QueryAdapter("", "", weight, {}).apply(questions)
    similarities = vectors @ sentences.T
    rank = (similarities > similarities[np.arange(len(targets)), targets][:, None]).sum(axis=1) + 1
    order = np.argsort(-similarities, axis=1)[:, :5]
    return {
        "sentence_mrr": round(float((1.0 / rank).mean()), 4),
        "sentence_top1": round(float((order[:, 0] == targets).mean()), 4),
        "sentence_top5": round(float((order == targets[:, None]).any(axis=1).mean()), 4),
        "card_top1": round(float((owners[order[:, 0]] == owners[targets]).mean()), 4),
    }


def _top1(questions: np.ndarray, targets: np.ndarray, cards: np.ndarray, weight: np.ndarray | None) -> float:
    """How often the nearest record vector is the question's own card (what dense retrieval ranks)."""
    vectors = questions if weight is None else QueryAdapter("", "", weight, {}).apply(questions)
    return round(float(((vectors @ cards.T).argmax(axis=1) == targets).mean()), 4)


def _split(groups: Sequence[str], share: float) -> np.ndarray:
    """A boolean mask holding out about ``share`` of the distinct ``groups`` (seeded)."""
    distinct = sorted(set(groups))
    rng = np.random.default_rng(SEED)
    held = set(rng.choice(distinct, size=max(1, round(share * len(distinct))), replace=False).tolist())
    return np.array([g in held for g in groups])


def train_matcher(
    embedder: Embedder,
    questions: Sequence[MatchingQuestion] | None = None,
    records: Sequence[Record] | None = None,
) -> QueryAdapter:
    """Embed questions and card sentences, pick the penalty on a validation split, fit on all."""
    questions = list(read_matching_questions() if questions is None else questions)
    records = list(read_bundled_corpus() if records is None else records)
    texts, owners = card_sentences(records)
    index = {text: i for i, text in enumerate(texts)}
    unknown = [q for q in questions if q.sentence not in index]
    if unknown:
        raise ZoomqaError(
            f"{len(unknown)} matching questions name a sentence no card has, e.g. {unknown[0].sentence[:80]!r}"
        )
    targets = np.array([index[q.sentence] for q in questions], dtype=np.int64)
    sentence_vectors = embedder.encode(texts)
    question_vectors = embedder.encode([q.question for q in questions])
    owner_ids = np.array(owners)
    card_ids = [r.id for r in records]
    card_vectors = embedder.encode([r.embedding_text() for r in records])
    card_targets = np.array([card_ids.index(owners[t]) for t in targets], dtype=np.int64)

    def fit(rows: np.ndarray, penalty: float) -> np.ndarray:
        return _fit(
            question_vectors[rows], targets[rows], sentence_vectors, penalty, card_vectors, card_targets[rows]
        )

    def evaluate(held: np.ndarray, penalty: float) -> dict[str, object]:
        weight = fit(~held, penalty)
        args = (question_vectors[held], targets[held], sentence_vectors, owner_ids)
        cards = (question_vectors[held], card_targets[held], card_vectors)
        return {
            "base": {**_scores(*args, None), "record_top1": _top1(*cards, None)},
            "adapted": {**_scores(*args, weight), "record_top1": _top1(*cards, weight)},
        }

    by_question = _split([str(i) for i in range(len(questions))], VALIDATION_SHARE)
    trials = {penalty: evaluate(by_question, penalty) for penalty in PENALTIES}
    penalty = max(PENALTIES, key=lambda p: trials[p]["adapted"]["sentence_mrr"])  # type: ignore[index]
    by_card = _split([q.card for q in questions], VALIDATION_SHARE)
    report: dict[str, object] = {
        "questions": len(questions),
        "sentences": len(texts),
        "penalty": penalty,
        "held_out_questions": {"n": int(by_question.sum()), **{str(p): trials[p] for p in PENALTIES}},
        "held_out_cards": {"n": int(by_card.sum()), **evaluate(by_card, penalty)},
    }
    weight = fit(np.ones(len(questions), dtype=bool), penalty)
    return QueryAdapter(
        embedder.identity, training_digest(embedder.identity, questions, records), weight, report
    )


def training_digest(
    embedder: str,
    questions: Sequence[MatchingQuestion] | None = None,
    records: Sequence[Record] | None = None,
) -> str:
    """The digest trained weights carry: of the questions, the card sentences, the embedder and
    the fit's settings (the bundled ones by default); shipped weights with another are stale."""
    questions = list(read_matching_questions() if questions is None else questions)
    texts, _ = card_sentences(list(read_bundled_corpus() if records is None else records))
    return questions_digest(questions, embedder, [_settings(), texts])

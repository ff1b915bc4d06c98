"""Fitting the anchor's weights (:mod:`zoomqa.agent.compose.anchor`) on a question set.

For every answerable question with an ``anchor``, the retrieved sources' feature rows are
collected as the answer pipeline computes them; the weights maximise the conditional
likelihood that the sources of the right work score highest (a conditional logit, as in
discrete choice), with an L2 penalty that pulls them towards the hand-set prior (the
penalty's strength is chosen by cross-validation over questions). The report states the
cross-validated anchor accuracy of the prior and of the fit, so a fit that does not
generalise is visible. Fit on the development questions only: a holdout fitted on is no
longer a holdout.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from zoomqa.agent.compose.anchor import FEATURES, PRIOR, AnchorWeights, anchor_features, subject_tier
from zoomqa.agent.compose.evidence import Evidence
from zoomqa.agent.evaluation.answers import Works
from zoomqa.index.retrieval import HybridRetriever
from zoomqa.question_set import Question

PENALTIES = (
    0.001,
    0.01,
    0.03,
    0.1,
    0.3,
    1.0,
    3.0,
)  # L2 strength towards the prior, per question; CV picks one
FOLDS = 5
SEED = 0


@dataclass(frozen=True)
class Choice:
    """One question's sources: their feature rows, fixed offsets (the subject tier) and which are right."""

    question_id: str
    features: np.ndarray  # (sources, len(FEATURES))
    offset: np.ndarray  # (sources,)
    correct: np.ndarray  # (sources,) bool


def collect_choices(questions: Sequence[Question], retriever: HybridRetriever, works: Works) -> list[Choice]:
    """The choices of every answerable question with an anchor whose right work was retrieved."""
    choices = []
    for q in questions:
        if q.expect == "refuse" or not q.anchor:
            continue
        result = retriever.search(q.question)
        if not result.relevant:
            continue
        evidence = Evidence.gather(result, retriever.embedder)
        correct = np.array([works.same(q.anchor, r) for r in evidence.records])
        if not correct.any():
            continue
        features = anchor_features(
            evidence.analysis,
            evidence.records,
            evidence.similarity,
            evidence.retrieval_scores,
            evidence.work_match,
        )
        offset = subject_tier(evidence.analysis, evidence.records)
        choices.append(Choice(q.id, features, offset, correct))
    return choices


def _loss(
    weights: np.ndarray, choices: Sequence[Choice], prior: np.ndarray, penalty: float
) -> tuple[float, np.ndarray]:
    """Negative log-likelihood of the right sources, plus the penalty; and its gradient."""
    total, gradient = 0.0, np.zeros_like(weights)
    for choice in choices:
        scores = choice.features @ weights + choice.offset
        scores -= scores.max()
        p = np.exp(scores)
        p /= p.sum()
        right = p[choice.correct].sum()
        total -= np.log(max(right, 1e-300))
        q = np.where(choice.correct, p, 0.0) / max(right, 1e-300)
        gradient -= choice.features.T @ (q - p)
    difference = weights - prior
    total += penalty * len(choices) * float(difference @ difference)
    gradient += 2 * penalty * len(choices) * difference
    return total / len(choices), gradient / len(choices)


def fit(choices: Sequence[Choice], prior: np.ndarray, penalty: float) -> np.ndarray:
    from scipy.optimize import minimize

    found = minimize(_loss, prior.copy(), args=(choices, prior, penalty), jac=True, method="L-BFGS-B")
    return np.asarray(found.x)


def accuracy(weights: np.ndarray, choices: Sequence[Choice]) -> float:
    """Share of questions whose best-scoring source is of the right work (ties: the earlier source)."""
    hits = [c.correct[int(np.argmax(c.features @ weights + c.offset))] for c in choices]
    return float(np.mean(hits)) if hits else 0.0


def _cross_validated(choices: Sequence[Choice], prior: np.ndarray, penalty: float) -> float:
    folds = np.random.default_rng(SEED).permutation(len(choices)) % FOLDS
    right = 0.0
    for fold in range(FOLDS):
        train = [c for c, f in zip(choices, folds, strict=True) if f != fold]
        test = [c for c, f in zip(choices, folds, strict=True) if f == fold]
        right += accuracy(fit(train, prior, penalty), test) * len(test)
    return right / len(choices)


def questions_digest(path: Path) -> str:
    """sha256 of the question set the weights were fitted on: a changed set makes them stale."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def fit_anchor_weights(choices: Sequence[Choice], digest: str) -> AnchorWeights:
    """The weights fitted on every choice with the strongest pull to the prior whose
    cross-validated accuracy is within one standard error of the best (the one-standard-error
    rule: a weaker pull must earn its freedom by more than the noise of ~150 questions)."""
    start = np.array([PRIOR[name] for name in FEATURES])
    trials = {penalty: _cross_validated(choices, start, penalty) for penalty in PENALTIES}
    best = max(trials.values())
    error = float(np.sqrt(best * (1 - best) / max(len(choices), 1)))
    penalty = max(p for p in PENALTIES if trials[p] >= best - error)
    weights = fit(choices, start, penalty)
    report = {
        "fitted": True,
        "questions_sha256": digest,
        "questions": len(choices),
        "folds": FOLDS,
        "penalty": penalty,
        "standard_error": round(error, 4),
        "prior": PRIOR,
        "accuracy_prior": round(accuracy(start, choices), 4),
        "accuracy_fitted_in_sample": round(accuracy(weights, choices), 4),
        "cross_validated_accuracy": {str(p): round(a, 4) for p, a in trials.items()},
    }
    return AnchorWeights({n: round(float(w), 4) for n, w in zip(FEATURES, weights, strict=True)}, report)

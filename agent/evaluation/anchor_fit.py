"""Fitting the anchor's weights (:mod:`zoomqa.agent.compose.anchor`) on a question set.

For every answerable question with an ``anchor``, the retrieved sources' feature rows are
collected as the answer pipeline computes them; the weights maximise the conditional
likelihood that the sources of the right work score highest (a conditional logit, as in
discrete choice), with an L2 penalty that pulls them towards the hand-set prior (the
penalty's strength is chosen by cross-validation over questions). The report states the
cross-validated anchor accuracy of the prior and of the fit, so a fit that does not
generalise is visible. Fit on the development questions only: a holdout fitted on is no
longer a holdout.

The development questions are few (~280) and were written around the same topics; the
situation questions written for each bundled work (``index/data/works/``, ~2,500, in
people's own words) that name none of their sources are pooled with them, counting together
as much as the development questions. Their work-match signal comes from an encoder tuned
without them (:func:`~zoomqa.agent.evaluation.work_matching_training.cross_fitted_matchers`), or
they would teach the anchor to trust a signal that has memorised them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from zoomqa.agent.compose.anchor import FEATURES, PRIOR, AnchorWeights, anchor_features, subject_tier
from zoomqa.agent.compose.evidence import Evidence
from zoomqa.agent.compose.work_matching import RETRAIN, WorkMatcher, shipped_work_matcher
from zoomqa.agent.evaluation.answers import Works
from zoomqa.agent.evaluation.work_matching_training import cross_fitted_matchers
from zoomqa.errors import ZoomqaError
from zoomqa.index.embedding import Embedder
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
    """One question's sources: their feature rows, fixed offsets (the subject tier) and which
    are right. The constraint tier (anchor.py: tiers) is left out: it filters the learnt
    scores; fitted with it, the weights lean on it and lose the any-scale preference where it
    does not apply (dev anchor 0.885 -> 0.870)."""

    question_id: str
    features: np.ndarray  # (sources, len(FEATURES))
    offset: np.ndarray  # (sources,)
    correct: np.ndarray  # (sources,) bool
    weight: float = 1.0  # how much the question counts in the fit and in accuracies


MatcherFor = Callable[[Embedder], WorkMatcher | None]


_NAMING = [FEATURES.index("named"), FEATURES.index("named_measure")]


def _choice(
    question_id: str,
    text: str,
    anchor: str,
    retriever: HybridRetriever,
    works: Works,
    work_matcher: MatcherFor,
    *,
    naming: bool = True,
) -> Choice | None:
    """The question's sources as the answer pipeline sees them; None when it is refused or its
    right work was not retrieved (no weight can choose it), or, with ``naming`` False, when it
    names one of its sources."""
    result = retriever.search(text)
    if not result.relevant:
        return None
    evidence = Evidence.gather(result, retriever.embedder, work_matcher)
    correct = np.array([works.same(anchor, r) for r in evidence.records])
    if not correct.any():
        return None
    features = anchor_features(
        evidence.analysis,
        evidence.records,
        evidence.similarity,
        evidence.retrieval_scores,
        evidence.work_match,
    )
    if not naming and features[:, _NAMING].any():
        return None
    return Choice(question_id, features, subject_tier(evidence.analysis, evidence.records), correct)


def collect_choices(questions: Sequence[Question], retriever: HybridRetriever, works: Works) -> list[Choice]:
    """The choices of every answerable question with an anchor whose right work was retrieved."""
    choices = (
        _choice(q.id, q.question, q.anchor, retriever, works, shipped_work_matcher)
        for q in questions
        if q.expect != "refuse" and q.anchor
    )
    return [c for c in choices if c is not None]


def _always(matcher: WorkMatcher) -> MatcherFor:
    """The work matcher ``matcher``, whatever the embedder."""
    return lambda _embedder: matcher


def collect_written_choices(
    embedder_spec: str, retriever: HybridRetriever, works: Works, folds: int = FOLDS
) -> list[Choice]:
    """The choices of the situation questions, each with its work-match signal from an encoder
    that never saw it (tuned for as many epochs as the shipped one). A situation question that names a
    retrieved work is left out: it was written for another work (the named one is what the
    person tried, or the contrast), while the development questions hold what a question that
    names works should get (the first named, the newer of two compared)."""
    shipped = shipped_work_matcher(retriever.embedder)
    if shipped is None:
        raise ZoomqaError(f"no work matcher for this embedder; {RETRAIN} first")
    choices = []
    for part, (questions, matcher) in enumerate(
        cross_fitted_matchers(
            embedder_spec, retriever.embedder, int(shipped.report["epochs"]), folds, seed=SEED
        )
    ):
        for i, q in enumerate(questions):
            found = _choice(
                f"written-{part}-{i}",
                q.question,
                q.record,
                retriever,
                works,
                _always(matcher),
                naming=False,
            )
            if found is not None:
                choices.append(found)
    return choices


def pooled(development: Sequence[Choice], written: Sequence[Choice]) -> list[Choice]:
    """Both sets, the written questions weighted to count together as much as the development ones."""
    share = len(development) / max(len(written), 1)
    return [*development, *(replace(c, weight=share) for c in written)]


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
        total -= choice.weight * np.log(max(right, 1e-300))
        q = np.where(choice.correct, p, 0.0) / max(right, 1e-300)
        gradient -= choice.weight * (choice.features.T @ (q - p))
    mass = sum(c.weight for c in choices)
    difference = weights - prior
    total += penalty * mass * float(difference @ difference)
    gradient += 2 * penalty * mass * difference
    return total / mass, gradient / mass


def fit(choices: Sequence[Choice], prior: np.ndarray, penalty: float) -> np.ndarray:
    from scipy.optimize import minimize

    found = minimize(_loss, prior.copy(), args=(choices, prior, penalty), jac=True, method="L-BFGS-B")
    return np.asarray(found.x)


def _hits(weights: np.ndarray, choices: Sequence[Choice]) -> np.ndarray:
    """Whether each question's best-scoring source is of the right work (ties: the earlier source)."""
    return np.array(
        [c.correct[int(np.argmax(c.features @ weights + c.offset))] for c in choices], dtype=float
    )


def _weighted_share(hits: np.ndarray, choices: Sequence[Choice]) -> float:
    weights = np.array([c.weight for c in choices])
    return float(hits @ weights / weights.sum()) if len(choices) else 0.0


def accuracy(weights: np.ndarray, choices: Sequence[Choice]) -> float:
    """Weighted share of questions whose best-scoring source is of the right work."""
    return _weighted_share(_hits(weights, choices), choices)


def _cross_validated_hits(choices: Sequence[Choice], prior: np.ndarray, penalty: float) -> np.ndarray:
    """Each question's hit under weights fitted on the other folds."""
    folds = np.random.default_rng(SEED).permutation(len(choices)) % FOLDS
    hits = np.zeros(len(choices))
    for fold in range(FOLDS):
        train = [c for c, f in zip(choices, folds, strict=True) if f != fold]
        test = folds == fold
        hits[test] = _hits(fit(train, prior, penalty), [c for c, t in zip(choices, test, strict=True) if t])
    return hits


def questions_digest(path: Path) -> str:
    """sha256 of the question set the weights were fitted on: a changed set makes them stale."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def fit_anchor_weights(
    choices: Sequence[Choice], digest: str, written: Sequence[Choice] = (), work_matcher: str | None = None
) -> AnchorWeights:
    """The weights fitted on every choice (the development ones, pooled with the ``written``
    ones) with the strongest pull to the prior whose cross-validated accuracy is within one
    standard error of the best (the one-standard-error rule: a weaker pull must earn its
    freedom by more than the noise of the questions, counted by their effective number).
    The weakest pulls trade the rules the development questions and the unit tests hold
    (a comparison explains the newer work, a test set is no method) for the written
    questions, which rarely ask for them."""
    start = np.array([PRIOR[name] for name in FEATURES])
    every = pooled(choices, written) if written else list(choices)
    cross = {penalty: _cross_validated_hits(every, start, penalty) for penalty in PENALTIES}
    trials = {penalty: _weighted_share(hits, every) for penalty, hits in cross.items()}
    best = max(trials.values())
    mass = np.array([c.weight for c in every])
    effective = mass.sum() ** 2 / max(float(mass @ mass), 1e-12)
    error = float(np.sqrt(best * (1 - best) / max(effective, 1.0)))
    penalty = max(p for p in PENALTIES if trials[p] >= best - error)
    weights = fit(every, start, penalty)
    report = {
        "fitted": True,
        "questions_sha256": digest,
        "questions": len(choices),
        "written_questions": len(written),
        "work_matcher_digest": work_matcher,
        "folds": FOLDS,
        "penalty": penalty,
        "standard_error": round(error, 4),
        "prior": PRIOR,
        "accuracy_prior": round(accuracy(start, choices), 4),
        "accuracy_fitted_in_sample": round(accuracy(weights, choices), 4),
        "cross_validated_accuracy": {str(p): round(a, 4) for p, a in trials.items()},
        "cross_validated_development": {
            str(p): round(float(h[: len(choices)].mean()), 4) for p, h in cross.items()
        },
    }
    if written:
        report["cross_validated_written"] = {
            str(p): round(float(h[len(choices) :].mean()), 4) for p, h in cross.items()
        }
        report["accuracy_prior_written"] = round(accuracy(start, written), 4)
    return AnchorWeights({n: round(float(w), 4) for n, w in zip(FEATURES, weights, strict=True)}, report)

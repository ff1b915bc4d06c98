"""The anchor's weights are data fitted on the development questions: the shipped file is
current, the fit learns from choices, and the cross-validation picks the pull to the prior."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from zoomqa.agent.compose.anchor import FEATURES, PRIOR, WEIGHTS_FILE, load_anchor_weights
from zoomqa.agent.compose.work_matching import SHIPPED_MATCHER, read_work_matcher
from zoomqa.agent.evaluation.anchor_fit import (
    Choice,
    accuracy,
    fit,
    fit_anchor_weights,
    pooled,
    questions_digest,
)
from zoomqa.index.embedding import Embedder

DEV = Path(__file__).parent / "questions.jsonl"


def test_shipped_weights_are_fitted_on_the_current_development_questions(embedder: Embedder) -> None:
    weights = load_anchor_weights(WEIGHTS_FILE)
    assert set(weights.weights) == set(FEATURES)
    report = weights.report
    assert report["fitted"] and report["questions"] >= 100
    assert report["questions_sha256"] == questions_digest(DEV), (
        "tests/questions.jsonl changed: run `zoomqa eval fit-anchor -q tests/questions.jsonl`"
    )
    assert str(report["penalty"]) in report["cross_validated_accuracy"]
    matcher = read_work_matcher(SHIPPED_MATCHER, embedder)
    assert report["work_matcher_digest"] == matcher.digest, (
        "the work matcher changed: run `zoomqa eval fit-anchor -q tests/questions.jsonl`"
    )
    assert report["written_questions"] >= 1000


def _choices(n: int, seed: int) -> list[Choice]:
    """Choices where the right source is the one the question names, whatever its similarity."""
    rng = np.random.default_rng(seed)
    named = FEATURES.index("named")
    choices = []
    for i in range(n):
        features = np.zeros((4, len(FEATURES)))
        features[:, FEATURES.index("similarity")] = rng.uniform(0.2, 0.7, 4)
        right = int(rng.integers(4))
        features[right, named] = 1.0
        choices.append(Choice(str(i), features, np.zeros(4), np.arange(4) == right))
    return choices


def test_the_fit_learns_what_the_choices_reward() -> None:
    train, test = _choices(120, 0), _choices(60, 1)
    prior = np.array([PRIOR[name] for name in FEATURES])
    prior[FEATURES.index("named")] = 0.0  # a prior that ignores the naming
    fitted = fit(train, prior, penalty=0.001)
    assert fitted[FEATURES.index("named")] > 0.5
    assert accuracy(fitted, test) > accuracy(prior, test) + 0.3


def test_the_report_carries_the_cross_validation() -> None:
    weights = fit_anchor_weights(_choices(60, 2), "digest")
    report = weights.report
    assert report["questions"] == 60 and report["questions_sha256"] == "digest"
    assert set(report["cross_validated_accuracy"].values()) == {1.0}
    # every pull ties, so the strongest one (closest to the prior) is chosen
    assert report["penalty"] == max(float(p) for p in report["cross_validated_accuracy"])


def test_written_questions_count_together_as_much_as_the_development_ones() -> None:
    development, written = _choices(30, 3), _choices(120, 4)
    both = pooled(development, written)
    assert sum(c.weight for c in both[30:]) == sum(c.weight for c in both[:30]) == 30


def test_a_weighted_question_counts_by_its_weight() -> None:
    right, wrong = _choices(1, 5)[0], _choices(1, 6)[0]
    prior = np.array([PRIOR[name] for name in FEATURES])
    wrong = Choice("w", wrong.features, wrong.offset, ~wrong.correct, weight=3.0)
    hits = [accuracy(prior, [c]) for c in (right, wrong)]
    assert accuracy(prior, [right, wrong]) == (hits[0] + 3 * hits[1]) / 4


def test_the_report_separates_development_and_written_accuracy() -> None:
    weights = fit_anchor_weights(_choices(40, 7), "digest", _choices(80, 8), "matcher")
    report = weights.report
    assert report["questions"] == 40 and report["written_questions"] == 80
    assert report["work_matcher_digest"] == "matcher"
    assert set(report["cross_validated_written"]) == set(report["cross_validated_development"])

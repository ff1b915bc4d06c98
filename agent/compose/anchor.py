"""Which retrieved work part 2 of an answer explains: the anchor.

Retrieval ranks records by likeness to the whole question. The anchor must also fit what
the question asks: a work the question names, a method that can meet the person's
constraints (any scale, JPEG damage, faces...), something runnable when they ask for a tool.
Each source gets a row of signals (FEATURES): its best passage similarity, its likeness as a
whole work to the question mapped towards the works that answer such questions
(:mod:`zoomqa.agent.compose.work_matching`), its retrieval score, whether the question names it, whether its task labels meet the constraints, and
mismatches (a face restorer for a licence plate, data augmentation for an enlargement...).
What kind of work a card is comes from its typed traits (:mod:`zoomqa.index.traits`: a
dataset or metric, a generative model, one that does not enlarge); a record without traits
(added from arXiv) is read from its title, which names its task (`task_labels`).
The score is their weighted sum; the weights are data (``data/anchor_weights.json``), fitted
as a conditional logit on the development questions by ``zoomqa eval fit-anchor``
(:mod:`zoomqa.agent.evaluation.anchor_fit`), with their cross-validation report.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files
from pathlib import Path
from typing import Any

import numpy as np

from zoomqa.agent.compose.local_method import demonstrable
from zoomqa.agent.understand.question import (
    Analysis,
    Constraints,
    content_words,
    named_in,
    speaks_of_enlarging,
)
from zoomqa.agent.understand.vocabulary import vocabulary
from zoomqa.errors import ZoomqaError
from zoomqa.index.records import Record
from zoomqa.index.traits import IMAGE_ROLES

# The signals of one source, in the order of its feature row and of the weights.
FEATURES = (
    "similarity",  # its best quotable passage's cosine to the (adapted) question
    "work_match",  # the question, mapped towards the works that answer it, against the whole work
    "retrieval",  # its fused retrieval score over the best of this search
    "preferred",  # its task labels meet the constraints (1 for the strongest preferred task)
    "named",  # the question names it (decaying with later-named works)
    "named_measure",  # ... as a metric or dataset in a question about something else: the yardstick
    "off_specialty",  # a specialist for another kind of picture (faces for a plate)
    "off_subject",  # about something else than the enlargement or repair asked for
    "needs_gpu",  # needs a GPU, for a person without one or asking what to use
    "measure_for_method",  # a dataset or metric for a person who wants a picture fixed
    "invents_detail",  # a generative model for a person who needs faithful detail
    "model_to_use",  # a model card when the person asks what to use
    "model_maybe",  # ... when they ask whether something can be done
    "local_cpu",  # the card zoomqa's own upscaler runs, for a person without a GPU
    "local_arbitrary",  # ... when only an arbitrary-scale method meets the request
    "local_enlarging",  # ... when the person wants an enlargement made
)
# The hand-set weights the fit starts from and is pulled towards (anchor_fit.py).
PRIOR = {
    "similarity": 1.0, "work_match": 0.7, "retrieval": 1.0, "preferred": 0.2, "named": 0.5, "named_measure": 0.15,
    "off_specialty": -0.2, "off_subject": -0.2, "needs_gpu": -0.2, "measure_for_method": -0.2,
    "invents_detail": -0.2, "model_to_use": 0.2, "model_maybe": 0.05, "local_cpu": 0.2,
    "local_arbitrary": 0.2, "local_enlarging": 0.05,
}  # fmt: skip
WEIGHTS_FILE = Path(str(files("zoomqa.agent.compose") / "data" / "anchor_weights.json"))


@dataclass(frozen=True)
class AnchorWeights:
    """One weight per feature, and how they were fitted."""

    weights: dict[str, float]
    report: dict[str, Any]

    @property
    def vector(self) -> np.ndarray:
        return np.array([self.weights[name] for name in FEATURES], dtype=np.float64)

    def save(self, path: Path) -> None:
        payload = {"features": list(FEATURES), "weights": self.weights, "report": self.report}
        Path(path).write_text(json.dumps(payload, indent=1) + "\n", encoding="utf-8")


@lru_cache(maxsize=4)
def load_anchor_weights(path: Path = WEIGHTS_FILE) -> AnchorWeights:
    """The weights at ``path``; ZoomqaError when a feature has none."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        weights = {name: float(data["weights"][name]) for name in FEATURES}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ZoomqaError(f"unreadable anchor weights {path} ({exc}); run `zoomqa eval fit-anchor`") from None
    return AnchorWeights(weights, dict(data.get("report") or {}))


PREFERENCE_DECAY = 0.8  # each later preferred task counts this much less than the one before
# Each later-named work counts this much less: the first-named is the subject ("what does RDN
# have to do with LIIF?").
NAMED_DECAY = 0.6
COMPARE_DECAY = 0.3  # in a comparison, each older named work: it is the contrast, the newest is explained
SUBJECT_WORDS = (
    2  # task-label words a question must share to name a record's subject ("training" alone does not)
)
# A record without card fields (a paper added from arXiv) that is the work the question is
# about -- the first it names, the newest in a comparison -- is ranked above every other work:
# a tier, not a weight (scores stay far below it). A card's sentences repeat its name, so its
# similarity already says it is named; an abstract is named by a coined word ("SinSR") the
# embedder cannot read, and its similarity to "what is SinSR?" says nothing.
SUBJECT_TIER = 10.0
# A source that cannot meet a hard constraint of the request sits this far below the rest (see tiers).
CONSTRAINT_TIER = 5.0


def task_labels(record: Record) -> list[str]:
    """What the record is about, lower-cased: its task labels, or for a paper added from arXiv,
    which has none, its title ("... for Faithful and Realistic Arbitrary-Scale Image
    Super-Resolution"), which names its task the same way."""
    return [t.lower() for t in (record.tasks or [record.title])]


def preference(analysis: Analysis, record: Record) -> float:
    """How well the record's task labels meet the constraints: 1 for the strongest preferred
    task, less for later ones, 0 when none applies."""
    labels = task_labels(record)
    for i, fragment in enumerate(analysis.preferred_tasks):
        if any(fragment in label for label in labels):
            return float(PREFERENCE_DECAY**i)
    return 0.0


# Task-label fragments of a card's kind of work (vocabulary.toml [task_labels]): specialties
# and the condition that says a question is about them (a face restorer cannot read a licence
# plate); works that enlarge, or enlarge or repair, pictures; works that generate detail.
_LABELS = vocabulary().task_labels
_SPECIALTIES = vocabulary().specialties


def off_specialty(analysis: Analysis, record: Record) -> bool:
    """The record's main task is a specialty (faces, JPEG, old photos, drawings, video) the question does not touch."""
    main = task_labels(record)[0]
    c = analysis.constraints
    present = {
        "faces": c.faces,
        "jpeg": "jpeg" in c.damage,
        "old_photo": bool({"old_photo", "scratches"} & c.damage),
        "illustration": c.illustration,
        "video": c.video,
    }
    return any(fragment in main and not present[need] for fragment, need in _SPECIALTIES)


def off_subject(analysis: Analysis, record: Record) -> bool:
    """The person wants a picture bigger or repaired and the record is about something else
    (classification, data augmentation...): it cannot be what explains their result. A record
    whose own subject the question names ("upsample ViT features for segmentation") is not."""
    c = analysis.constraints
    wants_picture = c.enlarging or bool(c.damage) or c.fix_requested
    labels = " ".join(task_labels(record))
    if not wants_picture or is_measure(record):  # a metric judges any restoration
        return False
    named_subject = [w for w in content_words(labels) & analysis.words if not speaks_of_enlarging(w)]
    if len(named_subject) >= SUBJECT_WORDS:
        return False
    # Only enlarging, nothing to repair: a denoiser or deblurrer does not enlarge (Restormer
    # for "how do transformers do super resolution?").
    only_enlarging = not (c.damage or c.fix_requested)
    if record.traits is not None:
        if record.traits.role not in IMAGE_ROLES:
            return record.traits.role != "concept"  # the perception-distortion trade-off judges any result
        return only_enlarging and record.traits.scale == "none"
    # A record without traits (added from arXiv) is read from its title. A dataset only
    # counts when it is one for restoration (DIV2K, Set5), not a classification benchmark that
    # talks about zooming (ImageNet-Hard).
    wanted = _LABELS["enlarges"] if only_enlarging else _LABELS["restores"]
    return not any(f in labels for f in wanted)


_NEEDS_GPU = vocabulary().card_patterns["needs_gpu"]


def needs_gpu(record: Record) -> bool:
    """The record says the work needs a GPU: wrong for a person without one, heavy for one
    asking what to use."""
    texts = [record.summary, *record.facts, *record.explains]
    return any(_NEEDS_GPU.search(t) for t in texts)


def gpu_only(record: Record) -> bool:
    """The work needs a GPU in practice (its hardware trait; a record without traits, what it
    says): it cannot be the answer for a person without one."""
    if record.traits is not None and record.traits.hardware != "none":
        return record.traits.hardware == "gpu"
    return needs_gpu(record)


def invents_detail(record: Record) -> bool:
    """The work draws plausible detail rather than the most faithful one: wrong for evidence or
    for a person who asks for the original detail."""
    if record.traits is not None:
        return record.traits.output == "generative"
    labels = " ".join(task_labels(record))
    return any(f in labels for f in _LABELS["generates"])


def is_measure(record: Record) -> bool:
    """A metric or a benchmark dataset: what results are measured with or on."""
    if record.traits is not None:
        return record.traits.role in ("dataset", "metric")
    return any(f in t for t in task_labels(record) for f in _LABELS["measures"])


def _named_in_order(analysis: Analysis, records: Sequence[Record]) -> list[int]:
    """Numbers of the sources the question names (not as a contrast), the subject first: the
    first named, or in a comparison the newest -- a later paper says what it changed, an
    earlier one cannot say how it differs from its successors."""
    named = named_in(analysis, tuple(records), contrasts=False)
    if analysis.intent == "compare":
        named.sort(key=lambda n: records[n - 1].date, reverse=True)
    return named


def _measure_is_subject(analysis: Analysis) -> bool:
    """A metric or dataset can be what the question is about, not only its yardstick."""
    return analysis.intent in ("what", "data", "compare")


def anchor_features(
    analysis: Analysis,
    records: Sequence[Record],
    best_similarity: Sequence[float],
    retrieval_scores: Sequence[float],
    work_match: Sequence[float] | None = None,
) -> np.ndarray:
    """(sources, len(FEATURES)) signals of each source being the work part 2 should explain;
    ``work_match`` is each source's cosine to the mapped question (work_matching.py), 0 without it."""
    top = max(retrieval_scores, default=0.0) or 1.0
    work_match = [0.0] * len(records) if work_match is None else work_match
    named = _named_in_order(analysis, records)
    named_works = list(
        dict.fromkeys(records[n - 1].work for n in named)
    )  # a paper and its model cards: one work
    c = analysis.constraints
    measure_is_subject = _measure_is_subject(analysis)
    # A person who wants their picture enlarged or repaired, or another tool than the one that
    # fell short, needs a method, not a test set or a score.
    wants_method = analysis.intent in ("how", "which", "can") and (
        c.enlarging or c.fix_requested or bool(c.damage) or analysis.asks_alternative
    )
    runnable = analysis.intent in ("which", "can")
    enlarging = demonstrable(analysis, tuple(records))
    decay = COMPARE_DECAY if analysis.intent == "compare" else NAMED_DECAY
    rows = []
    for number, record in enumerate(records, start=1):
        named_weight = decay ** named_works.index(record.work) if number in named else 0.0
        measure = not measure_is_subject and is_measure(record)
        unnamed = number not in named
        # the local upscaler enlarges stills, not a video, and is what a person asking for another tool has
        local = bool(record.tool) and not c.video and not analysis.asks_alternative
        arbitrary = local and not c.cpu_only and c.needs_arbitrary_scale and not c.fast
        features = {
            "similarity": best_similarity[number - 1],
            "work_match": work_match[number - 1],
            "retrieval": retrieval_scores[number - 1] / top,
            "preferred": preference(analysis, record),
            "named": named_weight * (not measure),
            "named_measure": named_weight * measure,
            "off_specialty": unnamed and off_specialty(analysis, record),
            "off_subject": unnamed and off_subject(analysis, record),
            "needs_gpu": unnamed
            and (c.cpu_only or (analysis.intent == "which" and not c.heavy_ok))
            and needs_gpu(record),
            "measure_for_method": unnamed and wants_method and is_measure(record),
            "invents_detail": unnamed and c.faithful and invents_detail(record),
            "model_to_use": analysis.intent == "which" and record.kind == "model",
            "model_maybe": analysis.intent == "can" and record.kind == "model",
            "local_cpu": local and c.cpu_only,
            "local_arbitrary": arbitrary,
            "local_enlarging": local and not c.cpu_only and not arbitrary and (runnable or enlarging),
        }
        rows.append([float(features[name]) for name in FEATURES])
    return np.asarray(rows, dtype=np.float64).reshape(len(records), len(FEATURES))


def makes_any_scale(record: Record) -> bool:
    """The work decodes any scale or size (its traits; a record without them, its task labels)."""
    if record.traits is not None:
        return record.traits.scale == "any"
    labels = " ".join(task_labels(record))
    return any(f in labels for f in _ANY_SCALE_LABELS)


_ANY_SCALE_LABELS = vocabulary().preferred["arbitrary_scale"]


def makes_the_enlargement(record: Record, constraints: Constraints) -> bool:
    """The work makes what is asked: any scale or size, or the asked factor (or the factor from
    the picture's size to the wanted one) is one it was trained for (LapSRN's 8x: a factor
    beyond most fixed models, not beyond every one)."""
    if makes_any_scale(record):
        return True
    c = constraints
    factor = c.size_factor if c.size is not None else c.scale
    fixed = record.traits.factors if record.traits is not None else []
    return not c.any_size and factor is not None and factor in fixed


def _only_any_scale(analysis: Analysis, records: Sequence[Record]) -> bool:
    """A plain enlargement to a size or factor no fixed-scale model makes ("4K from 1080p",
    "3.7x"): nothing to repair, not speed first, no work named, not a question about data or a
    comparison."""
    c = analysis.constraints
    plain = not (c.damage or c.fix_requested or c.faces or c.illustration or c.video or c.fast)
    return (
        c.needs_arbitrary_scale
        and plain
        and analysis.intent not in ("data", "compare")
        and not named_in(analysis, tuple(records), contrasts=False)
    )


def tiers(analysis: Analysis, records: Sequence[Record]) -> np.ndarray:
    """Fixed offsets of each source's score, beside the weighted signals: the subject tier
    (below), and -CONSTRAINT_TIER for a source that cannot meet a hard constraint while another
    can -- a work the person tried and asks for an alternative to, a work that needs a GPU for
    a person without one (unless the question names it), one that cannot make the asked size
    when only an any-scale method can -- a constraint, not a preference."""
    offsets = subject_tier(analysis, records)
    if analysis.asks_alternative:  # the named work fell short: it is the contrast, not the answer
        offsets -= _below([analysis.mention(r) is not None for r in records])
    if analysis.constraints.no_gpu:  # a work that needs a GPU is no answer, unless named
        named = set(_named_in_order(analysis, records))
        offsets -= _below([n not in named and gpu_only(r) for n, r in enumerate(records, start=1)])
    if _only_any_scale(analysis, records):
        offsets -= _below([not makes_the_enlargement(r, analysis.constraints) for r in records])
    return offsets


def _below(unable: Sequence[bool]) -> np.ndarray:
    """CONSTRAINT_TIER for each source that cannot meet a constraint, when some source can;
    else nothing: a constraint no source meets decides nothing."""
    mask = np.asarray(unable, dtype=bool)
    return CONSTRAINT_TIER * mask if not mask.all() else np.zeros(len(mask))


def subject_tier(analysis: Analysis, records: Sequence[Record]) -> np.ndarray:
    """SUBJECT_TIER for each named record of the work the question is about (the first it
    names that is not a yardstick, the newest in a comparison) -- in a comparison any record of
    it, else only one without card fields -- and 0 for the others."""
    named = _named_in_order(analysis, records)
    subject = next(
        (
            records[n - 1].work
            for n in named
            if _measure_is_subject(analysis) or not is_measure(records[n - 1])
        ),
        None,
    )
    # In a comparison the newest named work is the subject whatever else it shares with the
    # question: a later paper says what it changed, an earlier one cannot say how it differs
    # from its successors.
    compare = analysis.intent == "compare"
    return np.array(
        [
            SUBJECT_TIER * (n in named and r.work == subject and (compare or not r.card_fields()))
            for n, r in enumerate(records, start=1)
        ],
        dtype=np.float64,
    )


def anchor_scores(
    analysis: Analysis,
    records: Sequence[Record],
    best_similarity: Sequence[float],
    retrieval_scores: Sequence[float],
    work_match: Sequence[float] | None = None,
    weights: AnchorWeights | None = None,
) -> list[float]:
    """One score per source (same order as ``records``); the highest is the anchor."""
    weights = load_anchor_weights() if weights is None else weights
    features = anchor_features(analysis, records, best_similarity, retrieval_scores, work_match)
    return (features @ weights.vector + tiers(analysis, records)).tolist()


def choose_anchor(scores: Sequence[float]) -> int:
    """The 1-based number of the best-scoring source (the earlier one on a tie)."""
    return max(range(1, len(scores) + 1), key=lambda n: (scores[n - 1], -n)) if scores else 1

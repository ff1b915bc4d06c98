"""Which retrieved work part 2 of an answer explains: the anchor.

Retrieval ranks records by likeness to the whole question. The anchor must also fit what
the question asks: a work the question names, a method that can meet the person's
constraints (any scale, JPEG damage, faces...), something runnable when they ask for a tool.
Each signal is a bonus on the source's best passage similarity, so a strong textual match
still wins when the question carries no signal; a specialist for another kind of picture
(a face restorer for a licence plate) or a work on another subject (data augmentation for
an enlargement) pays a penalty instead.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from zoomqa.agent.compose.local_method import demonstrable
from zoomqa.agent.understand.question import Analysis, content_words, named_in, speaks_of_enlarging
from zoomqa.index.records import Record

NAMED_BONUS = 0.5  # the question names the work ("what does the cell size in LIIF do?")
PREFERRED_BONUS = 0.2  # the work's task labels meet the person's constraints
PREFERENCE_DECAY = 0.8  # each later preferred task counts this much less than the one before
# Each later-named work counts this much less: the first-named is the subject ("what does RDN
# have to do with LIIF?"); a milder decay (0.9) lets a later-named work with a closer sentence
# win. Anchor accuracy: `zoomqa eval answers -q tests/questions.jsonl`.
NAMED_DECAY = 0.6
COMPARE_DECAY = 0.3  # in a comparison, each older named work: it is the contrast, the newest is explained
RUNNABLE_BONUS = 0.2  # a model card (something to run), when the person asks what to use
MAYBE_RUNNABLE_BONUS = 0.05  # ... when they ask whether something can be done
LOCAL_BONUS = 0.05  # a card zoomqa's own upscaler runs, when the person wants an enlargement made
CPU_BONUS = 0.2  # ... and when they have no GPU: the local upscaler is the one that runs on a CPU
# ... and when only an arbitrary-scale method meets the request (unless speed is what they
# ask for): of the methods that meet it, the one zoomqa can demonstrate on their own picture
ARBITRARY_LOCAL_BONUS = 0.2
MEASURE_NAMED_FACTOR = (
    0.3  # a metric or dataset named in a why/how question is the yardstick, not the subject
)
# A specialist for another kind of picture, a work on another subject, a GPU-only work for a
# CPU (or as a recommendation to someone who asks for neither realism nor has a GPU), a dataset
# or metric for a person who wants a picture enlarged or repaired, a GAN or diffusion model for
# a person who needs faithful detail.
MISMATCH_PENALTY = 0.2
SUBJECT_WORDS = (
    2  # task-label words a question must share to name a record's subject ("training" alone does not)
)
RETRIEVAL_WEIGHT = (
    1.0  # the fused retrieval score, relative to the best in this search (as strong as one passage)
)
# A record without card fields (a paper added from arXiv) that is the work the question is
# about -- the first it names, the newest in a comparison -- is ranked above every other work:
# a tier, not a weight (scores stay far below it). A card's sentences repeat its name, so its
# similarity already says it is named; an abstract is named by a coined word ("SinSR") the
# embedder cannot read, and its similarity to "what is SinSR?" says nothing.
SUBJECT_TIER = 10.0


def preference_bonus(analysis: Analysis, record: Record) -> float:
    """How well the record's task labels meet the constraints (0 when none applies)."""
    labels = [t.lower() for t in record.tasks]
    for i, fragment in enumerate(analysis.preferred_tasks):
        if any(fragment in label for label in labels):
            return PREFERRED_BONUS * PREFERENCE_DECAY**i
    return 0.0


# A work whose main task is one kind of picture or damage, and the constraint that says the
# question is about it: a face restorer cannot read a licence plate.
_SPECIALTIES = (
    ("face", "faces"),
    ("jpeg", "jpeg"),
    ("compression", "jpeg"),
    ("old photo", "old_photo"),
    ("anime", "illustration"),
    ("manga", "illustration"),
)
# Task-label fragments of works that enlarge pictures, and of those that enlarge or repair them.
_ENLARGES = ("super-resolution", "upscaling", "enlargement", "restoration")
_RESTORES = (*_ENLARGES, "denois", "deblur", "artifact", "jpeg", "enhancement", "scratch")


def off_specialty(analysis: Analysis, record: Record) -> bool:
    """The record's main task is a specialty (faces, JPEG, old photos, drawings) the question does not touch."""
    if not record.tasks:
        return False
    main = record.tasks[0].lower()
    c = analysis.constraints
    present = {
        "faces": c.faces,
        "jpeg": "jpeg" in c.damage,
        "old_photo": bool({"old_photo", "scratches"} & c.damage),
        "illustration": c.illustration,
    }
    return any(fragment in main and not present[need] for fragment, need in _SPECIALTIES)


def off_subject(analysis: Analysis, record: Record) -> bool:
    """The person wants a picture bigger or repaired and the record is about something else
    (classification, data augmentation...): it cannot be what explains their result. A record
    whose own subject the question names ("upsample ViT features for segmentation") is not."""
    c = analysis.constraints
    wants_picture = c.enlarging or bool(c.damage) or c.fix_requested
    labels = " ".join(record.tasks).lower()
    if not wants_picture or "metric" in labels:  # a metric judges any restoration
        return False
    named_subject = [w for w in content_words(labels) & analysis.words if not speaks_of_enlarging(w)]
    if len(named_subject) >= SUBJECT_WORDS:
        return False
    # Only enlarging, nothing to repair: a denoiser or deblurrer does not enlarge (Restormer
    # for "how do transformers do super resolution?").
    wanted = _ENLARGES if not (c.damage or c.fix_requested) else _RESTORES
    # A dataset only counts when it is one for restoration (DIV2K, Set5), not a classification
    # benchmark that talks about zooming (ImageNet-Hard).
    return not any(f in labels for f in wanted)


# "needs a large GPU", "need at least 15 GB of GPU memory"; not "runs on GPUs without CUDA".
_NEEDS_GPU = re.compile(r"\bneeds?\b[^.;]{0,40}\bGPU", re.IGNORECASE)


def needs_gpu(record: Record) -> bool:
    """The record says the work needs a GPU: it cannot be the answer for a person without one."""
    texts = [record.summary, *record.facts, *record.explains]
    return any(_NEEDS_GPU.search(t) for t in texts)


# Task-label fragments of works that generate plausible detail (GAN, diffusion, face priors).
_GENERATES = (
    "generative",
    "diffusion",
    "perceptual super-resolution",
    "texture enhancement",
    "photo-realistic",
)


def invents_detail(record: Record) -> bool:
    """The work draws plausible detail rather than the most faithful one: wrong for evidence or
    for a person who asks for the original detail."""
    labels = " ".join(record.tasks).lower()
    return any(f in labels for f in _GENERATES)


def is_measure(record: Record) -> bool:
    """A metric or a benchmark dataset: what results are measured with or on."""
    return any("metric" in t.lower() or "dataset" in t.lower() for t in record.tasks)


def anchor_scores(
    analysis: Analysis,
    records: Sequence[Record],
    best_similarity: Sequence[float],
    retrieval_scores: Sequence[float],
) -> list[float]:
    """One score per source (same order as ``records``); the highest is the anchor."""
    top = max(retrieval_scores, default=0.0) or 1.0
    named = named_in(analysis, tuple(records), contrasts=False)
    if analysis.intent == "compare":
        # The newer work is explained and the older one is its contrast: a later paper says
        # what it changed, an earlier one cannot say how it differs from its successors.
        named.sort(key=lambda n: records[n - 1].date, reverse=True)
    named_works = list(
        dict.fromkeys(records[n - 1].work for n in named)
    )  # a paper and its model cards: one work
    runnable = analysis.intent in ("which", "can")
    run_bonus = RUNNABLE_BONUS if analysis.intent == "which" else MAYBE_RUNNABLE_BONUS
    c = analysis.constraints
    measure_is_subject = analysis.intent in ("what", "data", "compare")
    # A person who wants their picture enlarged or repaired needs a method, not a test set or a score.
    wants_method = analysis.intent in ("how", "which", "can") and (
        c.enlarging or c.fix_requested or bool(c.damage)
    )
    enlarging = demonstrable(analysis, tuple(records))
    # the subject: the first named work that is not a yardstick of a why/how question
    subject = next(
        (
            work
            for work in named_works
            if measure_is_subject
            or not any(is_measure(records[n - 1]) for n in named if records[n - 1].work == work)
        ),
        None,
    )
    scores = []
    for number, record in enumerate(records, start=1):
        score = best_similarity[number - 1] + RETRIEVAL_WEIGHT * retrieval_scores[number - 1] / top
        score += preference_bonus(analysis, record)
        if number in named:
            measure = not measure_is_subject and is_measure(record)
            place = named_works.index(record.work)
            decay = COMPARE_DECAY if analysis.intent == "compare" else NAMED_DECAY
            score += NAMED_BONUS * decay**place * (MEASURE_NAMED_FACTOR if measure else 1.0)
            score += SUBJECT_TIER * (record.work == subject and not record.card_fields())
        if number not in named and (
            off_specialty(analysis, record)
            or off_subject(analysis, record)
            or ((c.cpu_only or (analysis.intent == "which" and not c.heavy_ok)) and needs_gpu(record))
            or (wants_method and is_measure(record))
            or (c.faithful and invents_detail(record))
        ):
            score -= MISMATCH_PENALTY
        if runnable and record.kind == "model":
            score += run_bonus
        if record.tool:
            if c.cpu_only:
                score += CPU_BONUS
            elif c.needs_arbitrary_scale and not c.fast:
                score += ARBITRARY_LOCAL_BONUS
            else:
                score += LOCAL_BONUS * (runnable or enlarging)
        scores.append(score)
    return scores


def choose_anchor(scores: Sequence[float]) -> int:
    """The 1-based number of the best-scoring source (the earlier one on a tie)."""
    return max(range(1, len(scores) + 1), key=lambda n: (scores[n - 1], -n)) if scores else 1

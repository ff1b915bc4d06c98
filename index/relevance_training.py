"""Training the relevance classifier (:mod:`zoomqa.index.relevance`) from texts kept in the repo.

In-domain: the questions in ``data/relevance/in_domain.txt``, the questions written for the
cards' sentences (``data/matching``) and for the works' situations (``data/works``), and every
sentence of the bundled cards (titles, summaries, tasks, workflows, explains, facts). The
situation questions speak as people with a picture do ("want to zoom a 100x100 thumbnail up
10x..."), which the others rarely do: 645 such questions written afterwards were refused 13
times by weights trained without them and 5 times by weights trained with the earlier 2,512. Off-topic: the
questions in ``data/relevance/off_topic*.txt``, many of them sharing a word with the domain
("sharpen a knife", "blur my background in Zoom", "monitor resolution"). The evaluation
question set (tests/questions.jsonl) is never read here, so it stays a held-out check.

Two logistic regressions are fitted on the same texts, one over the embedding and its
nearest-neighbour features and one over hashed words and letter sequences (:mod:`lexical`);
their logits add up. Ten-fold cross-validation (three shuffles, logits averaged) picks the
decision threshold and reports false refusals (in-domain questions refused) and false answers
(off-topic questions answered) separately; the numbers travel in the weights file.
scikit-learn is imported here only: answering questions needs numpy alone.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

import numpy as np

from zoomqa.errors import ZoomqaError
from zoomqa.index import lexical
from zoomqa.index.embedding import Embedder
from zoomqa.index.matching import read_matching_questions, read_work_questions
from zoomqa.index.records import Record, read_bundled_corpus
from zoomqa.index.relevance import RelevanceModel, mean_of_nearest
from zoomqa.index.sentences import split_sentences

TEXTS_DIR = Path(str(files("zoomqa.index") / "data" / "relevance"))
IN_DOMAIN_FILE = "in_domain.txt"
OFF_TOPIC_FILES = {"near-domain": "off_topic_near_domain.txt", "general": "off_topic.txt"}
OFF_TOPIC_GROUPS = tuple(OFF_TOPIC_FILES)
# In-domain: questions people asked, questions written for each card sentence and each work's
# situations (index/matching.py), and the card sentences themselves.
IN_DOMAIN_GROUPS = ("question", "written", "card")
# Chosen by cross-validation on these texts (the module docstring says how it is measured).
NEIGHBOURS = 5  # k of the nearest-neighbour features
NEIGHBOUR_SCALE = 3.0  # the two neighbour features are multiplied by this before the L2-penalised fit
REGULARISATION_C = 10.0  # inverse L2 penalty of the logistic regression
# The word model (lexical.py): its inverse L2 penalty and how much its logit counts beside the
# embedding's. Against the embedding alone, at the same near-domain false answers, it refuses
# fewer in-domain texts, also when whole cards are held out (CHANGELOG, 2026-12-07).
LEXICAL_C = 3.0
LEXICAL_WEIGHT = 0.5
CARD_WEIGHT = 0.5  # sample weight of a card sentence relative to a written question
FOLDS = 10
CV_REPEATS = 3
# The logit threshold is the candidate with the fewest cross-validated mistakes, counted
# softly (choose_threshold), a false refusal (a good question gets no answer at all) weighing
# twice a false answer (off-topic question shown the nearest cards).
THRESHOLDS = tuple(step / 4 for step in range(-12, 13))
FALSE_REFUSAL_COST = 2.0
THRESHOLD_SOFTNESS = 1.0  # logits: how far from the threshold a text still counts as a near miss


@dataclass(frozen=True)
class TrainingTexts:
    """Every training text with its group: 'question' or 'card' (in-domain), 'near-domain' or 'general'."""

    texts: tuple[str, ...]
    groups: tuple[str, ...]

    @property
    def labels(self) -> np.ndarray:
        return np.array([group in IN_DOMAIN_GROUPS for group in self.groups], dtype=np.int64)

    def of(self, group: str) -> list[str]:
        return [text for text, g in zip(self.texts, self.groups, strict=True) if g == group]


def read_text_lines(path: Path) -> list[str]:
    """One text per line; blank lines and '#' comments skipped, whitespace collapsed."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ZoomqaError(f"cannot read relevance training texts {path}: {exc}") from None
    return [" ".join(line.split()) for line in lines if line.strip() and not line.lstrip().startswith("#")]


def card_texts(records: Iterable[Record]) -> list[str]:
    """The sentences and phrases of the cards that define what zoomqa is about."""
    texts: list[str] = []
    for record in records:
        texts += [record.title, *split_sentences(record.summary), *record.tasks]
        if record.task:
            texts.append(record.task)
        if record.workflow:
            workflow = record.workflow
            for part in (workflow.input, workflow.model, workflow.output):
                texts += split_sentences(part)
        texts += [*record.explains, *record.facts]
    return texts


def training_texts(
    directory: Path = TEXTS_DIR,
    records: Iterable[Record] | None = None,
    written: Iterable[str] | None = None,
) -> TrainingTexts:
    """The texts of ``directory``, the cards (the bundled ones by default) and the questions
    written for the cards' sentences and the works' situations (``data/matching`` and
    ``data/works``, by default), each once."""
    groups: dict[str, str] = {}
    if written is None:
        situations = [q.question for q in read_work_questions()]
        written = [q.question for q in read_matching_questions()] + situations
    sources = [
        ("question", read_text_lines(directory / IN_DOMAIN_FILE)),
        ("written", list(written)),
        ("card", card_texts(read_bundled_corpus() if records is None else records)),
        *((group, read_text_lines(directory / name)) for group, name in OFF_TOPIC_FILES.items()),
    ]
    for group, texts in sources:
        for text in texts:
            groups.setdefault(text, group)  # a text twice keeps its first group; in-domain comes first
    return TrainingTexts(tuple(groups), tuple(groups.values()))


def training_digest(texts: TrainingTexts, embedder: str) -> str:
    """What the weights depend on: the texts, their groups, the embedder and the fit's settings."""
    settings: list[object] = [NEIGHBOURS, NEIGHBOUR_SCALE, REGULARISATION_C, CARD_WEIGHT]
    settings += [LEXICAL_C, LEXICAL_WEIGHT, lexical.BUCKETS, lexical.WORD_NGRAMS, lexical.LETTER_NGRAMS]
    settings += [lexical.MIN_TEXTS]
    settings += [FOLDS, CV_REPEATS, THRESHOLDS, FALSE_REFUSAL_COST, THRESHOLD_SOFTNESS]
    payload = json.dumps([embedder, settings, texts.texts, texts.groups], ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _neighbour_features(
    reference: np.ndarray, labels: np.ndarray, queries: np.ndarray, *, self_rows: bool
) -> np.ndarray:
    """(n, 2) mean cosine of each query to its NEIGHBOURS nearest in-domain and off-topic references.

    With ``self_rows`` the queries are the references, and each one's own similarity is left out.
    """
    similarities = queries @ reference.T
    if self_rows:
        np.fill_diagonal(similarities, -np.inf)  # never among the nearest: each group keeps NEIGHBOURS others
    columns = [mean_of_nearest(similarities[:, labels == label], NEIGHBOURS) for label in (1, 0)]
    return np.stack(columns, axis=1)


@dataclass(frozen=True)
class _Fit:
    """Both models of one fit: the embedding's (coefficients with the neighbour scale folded in)
    and the word model's."""

    coef: np.ndarray
    intercept: float
    lexical_coef: np.ndarray
    lexical_idf: np.ndarray
    lexical_intercept: float


def _fit(vectors: np.ndarray, counts: list[Counter[int]], labels: np.ndarray, weights: np.ndarray) -> _Fit:
    from sklearn.linear_model import LogisticRegression

    neighbours = _neighbour_features(vectors, labels, vectors, self_rows=True)
    features = np.hstack([vectors, NEIGHBOUR_SCALE * neighbours])
    model = LogisticRegression(C=REGULARISATION_C, class_weight="balanced", max_iter=5000)
    model.fit(features, labels, sample_weight=weights)
    coef = model.coef_[0].astype(np.float32)
    coef[-2:] *= NEIGHBOUR_SCALE

    idf = lexical.smooth_idf(lexical.document_frequencies(counts), len(counts))
    words = LogisticRegression(C=LEXICAL_C, class_weight="balanced", max_iter=5000)
    words.fit(lexical.matrix(counts, idf), labels, sample_weight=weights)
    return _Fit(
        coef, float(model.intercept_[0]), words.coef_[0].astype(np.float32), idf, float(words.intercept_[0])
    )


def _logits(
    fit: _Fit, reference: np.ndarray, labels: np.ndarray, queries: np.ndarray, counts: list[Counter[int]]
) -> np.ndarray:
    features = np.hstack([queries, _neighbour_features(reference, labels, queries, self_rows=False)])
    lexical_logits = lexical.matrix(counts, fit.lexical_idf) @ fit.lexical_coef + fit.lexical_intercept
    return features @ fit.coef + fit.intercept + LEXICAL_WEIGHT * lexical_logits


def out_of_fold_logits(texts: TrainingTexts, vectors: np.ndarray, counts: list[Counter[int]]) -> np.ndarray:
    """Each text's logit from models fitted on the other folds (stratified by group), averaged
    over CV_REPEATS shuffles so that the threshold chosen on them does not hang on one split."""
    from sklearn.model_selection import RepeatedStratifiedKFold

    labels, groups = texts.labels, np.array(texts.groups)
    weights = np.where(groups == "card", CARD_WEIGHT, 1.0)
    logits = np.zeros(len(labels))
    folds = RepeatedStratifiedKFold(n_splits=FOLDS, n_repeats=CV_REPEATS, random_state=0)
    for train, test in folds.split(vectors, groups):
        fit = _fit(vectors[train], [counts[i] for i in train], labels[train], weights[train])
        logits[test] += _logits(fit, vectors[train], labels[train], vectors[test], [counts[i] for i in test])
    return logits / CV_REPEATS


def choose_threshold(logits: np.ndarray, groups: np.ndarray) -> float:
    """The candidate threshold with the fewest out-of-fold mistakes on questions, a false refusal
    counting FALSE_REFUSAL_COST times, each mistake and each near miss counted softly (a
    logistic of its distance to the threshold in units of THRESHOLD_SOFTNESS).

    Counted hard, a few texts decide: the cost is flat over wide ranges, so a one-sentence card
    edit can move the threshold a whole logit (-1.0 to 0.0), past in-domain questions.
    Counted softly, the threshold keeps a margin from the questions on both sides."""
    in_domain, off_topic = logits[groups == "question"], logits[np.isin(groups, OFF_TOPIC_GROUPS)]

    def cost(threshold: float) -> float:
        refused = 1 / (1 + np.exp((in_domain - threshold) / THRESHOLD_SOFTNESS))
        answered = 1 / (1 + np.exp((threshold - off_topic) / THRESHOLD_SOFTNESS))
        return float(FALSE_REFUSAL_COST * refused.sum() + answered.sum())

    return float(min(THRESHOLDS, key=cost))


def validation_report(texts: TrainingTexts, logits: np.ndarray, threshold: float) -> dict[str, object]:
    """How many texts of each group the out-of-fold decisions got wrong, and which questions."""
    labels, groups = texts.labels.astype(bool), np.array(texts.groups)
    wrong = (logits >= threshold) != labels
    report: dict[str, object] = {"folds": FOLDS, "repeats": CV_REPEATS, "threshold": threshold}
    for group in (*IN_DOMAIN_GROUPS, *OFF_TOPIC_GROUPS):
        members = groups == group
        report[group] = {"n": int(members.sum()), "wrong": int(wrong[members].sum())}
    mistaken = [(text, group) for text, group, w in zip(texts.texts, groups, wrong, strict=True) if w]
    report["false_refusals"] = [text for text, group in mistaken if group == "question"]
    report["false_answers"] = [text for text, group in mistaken if group in OFF_TOPIC_GROUPS]
    return report


def train_relevance(embedder: Embedder, texts: TrainingTexts | None = None) -> RelevanceModel:
    """Embed the texts, pick the threshold by cross-validation and fit on all of them."""
    texts = training_texts() if texts is None else texts
    labels, groups = texts.labels, np.array(texts.groups)
    if labels.min() == labels.max():
        raise ZoomqaError("relevance training needs both in-domain and off-topic texts")
    vectors = embedder.encode(list(texts.texts))
    counts = [lexical.ngram_counts(text) for text in texts.texts]
    logits = out_of_fold_logits(texts, vectors, counts)
    threshold = choose_threshold(logits, groups)
    fit = _fit(vectors, counts, labels, np.where(groups == "card", CARD_WEIGHT, 1.0))
    return RelevanceModel(
        embedder=embedder.identity,
        digest=training_digest(texts, embedder.identity),
        coef=fit.coef,
        intercept=fit.intercept,
        threshold=threshold,
        neighbours=NEIGHBOURS,
        in_domain=vectors[labels == 1],
        off_topic=vectors[labels == 0],
        lexical_coef=fit.lexical_coef,
        lexical_idf=fit.lexical_idf,
        lexical_intercept=fit.lexical_intercept,
        lexical_weight=LEXICAL_WEIGHT,
        report=validation_report(texts, logits, threshold),
    )

"""The retrieved sources of one question, numbered, cut into sentences and embedded once.

Writers quote these sentences, the grounding guard measures generated sentences against
them and the evaluation counts support with them, so all three see the same evidence.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from zoomqa.agent.compose.anchor import anchor_scores, choose_anchor
from zoomqa.agent.compose.answer import Source
from zoomqa.agent.compose.local_method import with_local_method
from zoomqa.agent.compose.matched_work import with_matched_work
from zoomqa.agent.compose.work_matching import WorkMatcher, shipped_work_matcher, work_match, work_vector
from zoomqa.agent.understand.question import Analysis, analyse
from zoomqa.index.abstract_roles import tag_abstract
from zoomqa.index.embedding import Embedder
from zoomqa.index.records import Record
from zoomqa.index.results import SearchResult
from zoomqa.index.sentences import split_clauses, split_sentences

WHY_MAX_CHARS = 220
MIN_QUOTE_WORDS = 5


# Where a passage comes from in its record; ``field`` of a statement names one of these.
FIELD_SUMMARY = "summary"
FIELD_LABEL = "label"
FIELD_QUESTION = "question"  # a sentence that restates the person's own question
WORKFLOW_FIELDS = ("workflow.input", "workflow.model", "workflow.output")
POINT_FIELDS = ("explains", "facts")


@dataclass(frozen=True)
class Passage:
    """A quotable piece of a source: a card field's sentence, a summary sentence or clause, or its label.

    ``span`` names the clauses it covers, so a sentence and its own clauses are never both
    quoted; ``field`` says which field of the record it was taken from.
    """

    text: str
    source: int
    span: frozenset[str]
    field: str = FIELD_SUMMARY
    quotable: bool = True
    # For the abstract of a record without card fields (index/abstract_roles.py): the sentence's
    # role (claim, detail, background...), its fit to each step and the step it fits best.
    role: str | None = None
    stage_fit: tuple[float, float, float] | None = None
    stage: str | None = None


def best_quotable(passages: Sequence[Passage], closeness: np.ndarray, sources: int) -> list[float]:
    """Per source, the best cosine of its quotable passages to the question (-1 when none)."""
    best = [-1.0] * sources
    for passage, score in zip(passages, closeness, strict=True):
        if passage.quotable:
            best[passage.source - 1] = max(best[passage.source - 1], float(score))
    return best


@dataclass(frozen=True)
class Support:
    similarity: float
    source: int
    field: str | None = None


# A card's summary sentence that opens by pointing back ("It underlies many diffusion
# upscalers", "This study shows...") names its subject in the sentence before it; quoted
# alone, among the card's own fields, nobody can tell what "it" is. An abstract's sentences
# are quoted as the steps of its one method, where "it" is that method.
_POINTS_BACK = re.compile(r"^(It|Its|They|Their|These|Those|This|Such)\b")


def _quotable(text: str, points_back_ok: bool = True) -> bool:
    """Rhetorical questions and fragments ("How to represent an image?") explain nothing, nor,
    unless ``points_back_ok``, a sentence whose subject is in the sentence before."""
    return (
        not text.endswith("?")
        and len(text.split()) >= MIN_QUOTE_WORDS
        and (points_back_ok or not _POINTS_BACK.match(text))
    )


def _card_passages(record: Record, number: int) -> list[Passage]:
    """The structured fields of a bundled card, one passage per field or list item."""
    return [
        Passage(text, number, frozenset({f"{number}:{name}:{i}"}), name)
        for i, (name, text) in enumerate(record.card_fields())
    ]


def passages_of(record: Record, number: int) -> list[Passage]:
    """The passages of ``record``, numbered as source ``number``: its label, card fields and summary sentences."""
    label = f"{record.title}. {'; '.join(record.tasks)}" if record.tasks else record.title
    passages = [Passage(label, number, frozenset({f"{number}:label"}), FIELD_LABEL, quotable=False)]
    cards = _card_passages(record, number)
    passages += cards
    # A record without card fields is explained from its abstract, each sentence by its role;
    # a code notice or a bare claim of experiments is never quoted.
    tagged = {t.text: t for t in tag_abstract(record.summary)} if not cards else {}
    for i, sentence in enumerate(split_sentences(record.summary)):
        clauses = split_clauses(sentence)
        ids = [f"{number}:{i}.{j}" for j in range(len(clauses))]
        tag = tagged.get(sentence)
        role, fit, stage, keep = (
            (tag.role, tag.fit, tag.stage, tag.quotable) if tag else (None, None, None, True)
        )
        passages.append(
            Passage(
                sentence,
                number,
                frozenset(ids),
                FIELD_SUMMARY,
                keep and _quotable(sentence, points_back_ok=not cards),
                role,
                fit,
                stage,
            )
        )
        if len(clauses) > 1:
            passages.extend(
                Passage(
                    c,
                    number,
                    frozenset({cid}),
                    FIELD_SUMMARY,
                    keep and _quotable(c, points_back_ok=not cards),
                    role,
                    fit,
                    stage,
                )
                for c, cid in zip(clauses, ids, strict=True)
            )
    return passages


def encode(embedder: Embedder, texts: Sequence[str]) -> np.ndarray:
    """Embed the few short texts of one answer (passages, sentences, labels); the embedder
    keeps its own math on one thread while it encodes."""
    return embedder.encode(list(texts))


@lru_cache(maxsize=512)
def encode_cached(embedder: Embedder, texts: tuple[str, ...]) -> np.ndarray:
    """Records, step descriptions and labels recur across questions; embed them once."""
    return encode(embedder, texts)


def _shorten(text: str, limit: int = WHY_MAX_CHARS) -> str:
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0].rstrip(",;:") + "…"


def _closest(passages: list[Passage], closeness: np.ndarray, source: int) -> int:
    """Index of the passage of ``source`` closest to the question (quotable ones first); a
    workflow step says how, not why the work matters here, so it is never the source's 'why' line."""
    candidates = [i for i, p in enumerate(passages) if p.source == source and p.field not in WORKFLOW_FIELDS]
    return max(candidates, key=lambda i: (passages[i].quotable, closeness[i]))


@dataclass(frozen=True)
class Evidence:
    """Everything a writer may use for one question, and nothing else."""

    question: str
    records: tuple[Record, ...]
    sources: tuple[Source, ...]
    passages: tuple[Passage, ...]
    vectors: np.ndarray
    question_vector: np.ndarray  # the embedder's own vector of the question
    # cosine of each passage to the question as the adapter reads it (index/matching.py): which
    # sentences answer it
    closeness: np.ndarray
    embedder: Embedder
    analysis: Analysis
    anchor: int  # the source part 2 explains (see anchor.py)
    anchor_scores: tuple[float, ...]
    retrieval_scores: tuple[float, ...]  # each source's fused retrieval score
    similarity: tuple[float, ...]  # each source's best quotable passage, by the embedder's own cosine
    work_match: tuple[float, ...]  # each source as a whole work, to the tuned question (work_matching.py)

    @classmethod
    def gather(
        cls,
        result: SearchResult,
        embedder: Embedder,
        work_matcher: Callable[[Embedder], WorkMatcher | None] = shipped_work_matcher,
    ) -> Evidence:
        """Number the hits (models first), cut and embed their records, choose the anchor.
        ``work_matcher`` gives the question encoder tuned towards works (the anchor's fit passes
        matchers that never saw the question)."""
        analysis = analyse(result.question)
        matcher = work_matcher(embedder)
        hits = with_matched_work(with_local_method(result, analysis), matcher).hits
        records = tuple(hit.record for hit in hits)
        passages: list[Passage] = []
        blocks: list[np.ndarray] = []
        for number, record in enumerate(records, start=1):
            own = passages_of(record, number)
            passages.extend(own)
            blocks.append(encode_cached(embedder, tuple(p.text for p in own)))
        vectors = np.concatenate(blocks) if blocks else np.zeros((0, embedder.dim), dtype=np.float32)
        question_vector = embedder.encode([result.question])[0]
        cosine = vectors @ question_vector
        closeness = (
            cosine if embedder.adapter is None else vectors @ embedder.adapt(question_vector[None, :])[0]
        )
        sources = tuple(
            Source.from_record(number, record, _shorten(passages[_closest(passages, closeness, number)].text))
            for number, record in enumerate(records, start=1)
        )
        retrieval = tuple(hit.score for hit in hits)
        # The anchor's weights were fitted on the embedder's own cosines (anchor_fit.py): an
        # adapter that learnt which sentence answers a question does not know which work should.
        similarity = tuple(best_quotable(passages, cosine, len(records)))
        works = np.stack([work_vector(block) for block in blocks]) if blocks else np.zeros((0, embedder.dim))
        matched = tuple(work_match(matcher, result.question, question_vector, records, works))
        scores = anchor_scores(analysis, records, similarity, retrieval, matched)
        return cls(
            result.question,
            records,
            sources,
            tuple(passages),
            vectors,
            question_vector,
            closeness,
            embedder,
            analysis,
            choose_anchor(scores),
            tuple(scores),
            retrieval,
            similarity,
            matched,
        )

    def support(self, texts: list[str], *, include_question: bool = False) -> list[Support]:
        """For each text, its closest passage's cosine similarity, source and field.

        With ``include_question`` the question itself counts as a passage (source 0): the task
        statement may restate the person's situation.
        """
        if not texts:
            return []
        vectors = encode(self.embedder, texts)
        sims = vectors @ self.vectors.T if self.passages else np.zeros((len(texts), 0), dtype=np.float32)
        owners = [(p.source, p.field) for p in self.passages]
        if include_question:
            sims = np.concatenate([sims, (vectors @ self.question_vector)[:, None]], axis=1)
            owners.append((0, FIELD_QUESTION))
        if sims.shape[1] == 0:
            return [Support(0.0, 0) for _ in texts]
        best = sims.argmax(axis=1)
        return [Support(float(sims[i, j]), *owners[j]) for i, j in enumerate(best)]

    def field_of(self, passage: Passage) -> str:
        """'record-id:field', the audit trail a statement carries."""
        return f"{self.records[passage.source - 1].id}:{passage.field}"

    def same_method(self, anchor: int) -> set[int]:
        """``anchor`` and the sources of the same method (the paper a model implements, other
        models implementing it): what "how it works" may quote. Mixing sentences of unrelated
        models would explain no model at all."""
        method = self.records[anchor - 1].work
        return {anchor} | {
            number
            for number, r in enumerate(self.records, start=1)
            if method in (r.id, r.arxiv_id, r.implements)
        }

"""Hybrid retrieval: dense (FAISS) and keyword (BM25) candidates, fused into one ranking.

Each hit's score is ``w * cosine + (1 - w) * bm25 / best_bm25 (+ a bonus for curated
cards)``: one scale for models and papers, so the blocks are two slices of a single ranking.
A bundled card's cosine blends its record vector with its best-matching card sentence, so a
question phrased like one of its "why you saw X" sentences finds it.
Candidates are gathered per block so a handful of model cards is never crowded out by tens
of thousands of papers.

"Is anything here relevant?" is decided against the bundled (curated) cards, which define
what zoomqa is about, in two steps: the nearest card must reach a cosine floor, and the
relevance classifier (:mod:`zoomqa.index.relevance`, trained on card sentences and
in-domain questions against off-topic ones that share words with the domain) must accept
the question. Otherwise the answer is "nothing relevant", with the nearest topics the index
covers. The nearest record of *any* source is a worse signal: among 68k arXiv
computer-vision abstracts almost any question finds a fairly similar one (a stock-market
question reaches 0.35). An index without bundled cards is about whatever it holds: there
the floor alone decides, on all its records. A question that names a record outside the cards
by its coined name ("what is SinSR?", :mod:`zoomqa.index.names`) is relevant whatever the
cards say: a paper a person added is part of what the index is about, and that record leads
its block.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import Field, PrivateAttr

from zoomqa.errors import ZoomqaError
from zoomqa.index.embedding import DEFAULT_EMBEDDER, Embedder, load_embedder
from zoomqa.index.generations import current_generation
from zoomqa.index.manifest import Manifest
from zoomqa.index.matching import SHIPPED_ADAPTER, load_adapter
from zoomqa.index.metadata import RowInfo
from zoomqa.index.names import name_patterns, names_any, names_record
from zoomqa.index.question_limits import MAX_QUESTION_CHARS as MAX_QUESTION_CHARS
from zoomqa.index.question_limits import check_question
from zoomqa.index.records import Record, bundled_cards
from zoomqa.index.relevance import SHIPPED_WEIGHTS, RelevanceModel, load_relevance
from zoomqa.index.results import Hit, SearchResult
from zoomqa.index.snapshot import IndexSnapshot, open_snapshot
from zoomqa.index.store import BUNDLED_SOURCE
from zoomqa.index.vector_cache import CACHE_FILE

if TYPE_CHECKING:
    from zoomqa.config import Settings

log = logging.getLogger(__name__)

# Similarity (question vs. nearest bundled card) below which nothing in the index is relevant;
# hits below it are never shown either. It is the middle of the widest gap between refuse
# and other questions of tests/questions.jsonl on the cards' record vectors alone (0.196,
# rounded); with card sentences blended in it only turns away the far-off (off-topic
# questions of the set reach 0.06-0.47, in-domain ones 0.31-0.84). Above it the relevance
# classifier decides. `zoomqa eval retrieval --questions tests/questions.jsonl --calibrate`
# prints the floor that fits the set best.
CALIBRATED_MIN_RELEVANCE = 0.20
# Weight of the cosine in the fused score (the rest is normalised BM25) and the bonus of a
# curated card (verified links, plain-language summary) over a raw abstract; chosen on the
# question set over the bundled corpus plus arXiv distractors (`zoomqa eval retrieval
# --questions tests/questions.jsonl --extra-corpus FILE`; index/README.md).
DENSE_WEIGHT = 0.8
CURATED_BONUS = 0.1
# Share of a bundled card's dense similarity taken from its best-matching card sentence
# (task, workflow, explains, facts) rather than its one summary vector: a lay question ("it
# drew patterns in the bricks that were never there") matches the card sentence that
# explains it, not the summary's vocabulary. 0.3 ranks the right card first more often than
# the summary vector alone; 0.5 finds as many but lowers anchor accuracy. Measured by
# `zoomqa eval retrieval --questions tests/questions.jsonl` and `zoomqa eval answers`.
SENTENCE_WEIGHT = 0.3
KEYWORD_RESCUE = 0.6  # share of the best keyword score that keeps a low-cosine candidate
CANDIDATES = 100  # per block and per retriever, before fusion
EMBED_QUESTION_CHARS = 1000  # about the 256 word pieces the embedder reads; the rest is dropped
NEAREST_TOPICS = 5
# Records outside the bundled cards whose names are compared with the question: the best keyword
# and dense matches. A coined name ("SinSR") is rare, so BM25 ranks the record that carries it first.
NAME_CANDIDATES = 20
BLOCKS = ("model", "paper")


@dataclass(frozen=True)
class _Candidate:
    info: RowInfo
    score: float
    similarity: float

    @property
    def curated_rank(self) -> tuple[bool, bool]:
        """Sorts bundled cards first, then records in our own schema, then mapped arXiv metadata."""
        return (self.info.source != BUNDLED_SOURCE, self.info.id.startswith("arxiv:"))


def clean_question(question: str) -> str:
    """The question as searched: whitespace collapsed, bounded, cut to what the embedder reads."""
    text = check_question(question)
    if len(text) > EMBED_QUESTION_CHARS:
        log.warning("question truncated from %d to %d characters for search", len(text), EMBED_QUESTION_CHARS)
        text = text[:EMBED_QUESTION_CHARS]
    return text


@contextmanager
def _one_thread() -> Iterator[None]:
    """Run FAISS on one thread for a single question: it scans 70k vectors in ~10 ms that way,
    while intra-op threads only add synchronisation, which on a busy 2-core machine made it
    2-40x slower (measured). The embedder keeps its own products on one thread (minilm.py)."""
    import faiss

    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)


def _blend(similarity: dict[int, float], matched: dict[int, float]) -> dict[int, float]:
    """Record cosines with each bundled card's best card-sentence cosine blended in, by row."""
    return {
        row: (1 - SENTENCE_WEIGHT) * cosine + SENTENCE_WEIGHT * matched[row] if row in matched else cosine
        for row, cosine in similarity.items()
    }


def _top_rows(scores: np.ndarray, n: int) -> np.ndarray:
    """Positions of the ``n`` highest positive scores (in no particular order)."""
    positive = np.flatnonzero(scores > 0)
    if len(positive) > n:
        positive = positive[np.argpartition(-scores[positive], n - 1)[:n]]
    return positive


class HybridRetriever(BaseRetriever):
    """A LangChain retriever over a zoomqa index; :meth:`search` gives the structured result."""

    embedder: Embedder
    k: int = Field(5, ge=1, le=100)
    min_relevance: float = CALIBRATED_MIN_RELEVANCE
    dense_weight: float = Field(DENSE_WEIGHT, ge=0, le=1)
    curated_bonus: float = Field(CURATED_BONUS, ge=0)

    _index_dir: Path = PrivateAttr()
    # Held while searching or following a newer generation: Slack's workers share one retriever.
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)
    _snapshot: IndexSnapshot = PrivateAttr()
    _is_model: np.ndarray = PrivateAttr()
    _model_rows: np.ndarray = PrivateAttr()
    _model_vectors: np.ndarray = PrivateAttr()
    _curated: np.ndarray = PrivateAttr()
    _curated_rows: np.ndarray = PrivateAttr()
    _curated_vectors: np.ndarray | None = PrivateAttr()
    _classifier: RelevanceModel | None = PrivateAttr(None)
    _sentence_cards: np.ndarray = PrivateAttr()  # the rows of the cards that have sentences
    _sentence_owner: np.ndarray = PrivateAttr()  # per sentence, its card's position in _sentence_cards
    _sentence_vectors: np.ndarray = PrivateAttr()
    _ordinary_words: frozenset[str] | None = PrivateAttr(None)  # the embedder's whole-word vocabulary
    _curated_records: tuple[Record, ...] = PrivateAttr(())
    _card_names: tuple[re.Pattern[str], ...] | None = PrivateAttr(None)  # the cards' coined names

    @classmethod
    def open(
        cls,
        index_dir: Path,
        *,
        embedder: str = DEFAULT_EMBEDDER,
        k: int = 5,
        min_relevance: float | None = None,
        relevance_weights: Path | None = None,
        matcher_weights: Path | None = None,
    ) -> HybridRetriever:
        """Load the index, its embedder and (for an index with bundled cards) the relevance
        classifier, the shipped one unless ``relevance_weights`` names another; ZoomqaError
        when the index is missing, damaged or foreign, or the weights unusable."""
        model = load_embedder(embedder).with_cache(Path(index_dir) / CACHE_FILE)
        snapshot = open_snapshot(Path(index_dir), embedder=model.identity)
        retriever = cls(
            embedder=model,
            k=k,
            min_relevance=CALIBRATED_MIN_RELEVANCE if min_relevance is None else min_relevance,
        )
        retriever._index_dir = Path(index_dir)
        retriever._attach(snapshot)
        if retriever._curated_vectors is not None:
            weights = SHIPPED_WEIGHTS if relevance_weights is None else Path(relevance_weights)
            retriever._classifier = load_relevance(weights, embedder=model.identity)
            adapter = SHIPPED_ADAPTER if matcher_weights is None else Path(matcher_weights)
            retriever.embedder = model.with_adapter(load_adapter(adapter, embedder=model.identity))
        return retriever

    @classmethod
    def from_settings(cls, index_dir: Path, settings: Settings, k: int | None = None) -> HybridRetriever:
        """The configured retriever over ``index_dir`` (``k`` overrides the configured one)."""
        if settings.threads:
            import torch

            torch.set_num_threads(settings.threads)
        return cls.open(
            index_dir,
            embedder=settings.index.embedder,
            k=k or settings.index.k,
            min_relevance=settings.index.min_relevance,
            relevance_weights=settings.index.relevance_weights,
            matcher_weights=settings.index.matcher_weights,
        )

    def _attach(self, snapshot: IndexSnapshot) -> None:
        """Keep the model cards' and curated cards' vectors at hand: they are few and always consulted."""
        self._snapshot = snapshot
        self._model_rows = np.asarray(snapshot.records.rows_of_kind("model"), dtype=np.int64)
        self._is_model = np.zeros(snapshot.manifest.count, dtype=bool)
        self._is_model[self._model_rows] = True
        self._model_vectors = self._vectors_of(self._model_rows)
        curated_rows = np.asarray(snapshot.records.rows_of_source(BUNDLED_SOURCE), dtype=np.int64)
        self._curated = np.zeros(snapshot.manifest.count, dtype=bool)
        self._curated[curated_rows] = True
        self._curated_rows = curated_rows
        # without bundled cards (a custom index), every record defines the topic
        self._curated_vectors = self._vectors_of(curated_rows) if len(curated_rows) else None
        records = snapshot.records.records_of(curated_rows.tolist())
        self._curated_records = tuple(records.values())
        self._card_names = None  # built at the first search that needs them
        sentences = [(row, text) for row in curated_rows.tolist() for _, text in records[row].card_fields()]
        self._sentence_cards, self._sentence_owner = np.unique(
            np.asarray([row for row, _ in sentences], dtype=np.int64), return_inverse=True
        )
        self._sentence_vectors = (
            self.embedder.encode(
                [text for _, text in sentences]
            )  # from the vector cache after the first open
            if sentences
            else np.zeros((0, snapshot.manifest.dim), dtype=np.float32)
        )

    def _follow(self) -> None:
        """Move to the index's current generation when another process published a newer one
        (`zoomqa index add` while chat or the Slack bot runs): papers added are found without a
        restart. Costs one read of the small pointer file per search; hold ``_lock``."""
        current = current_generation(self._index_dir)
        if current is not None and current != self._snapshot.path:
            self._attach(open_snapshot(self._index_dir, embedder=self.embedder.identity))

    def _vectors_of(self, rows: np.ndarray) -> np.ndarray:
        if not len(rows):
            return np.zeros((0, self._snapshot.manifest.dim), dtype=np.float32)
        return self._snapshot.vectors.reconstruct_batch(rows)  # type: ignore[attr-defined]

    def outdated_cards(self) -> int:
        """How many bundled cards differ from those this installation ships (changed, added or
        removed since the index was built): until `zoomqa index build` runs, answers quote the
        old cards. 0 for an index without bundled cards."""
        if not len(self._curated_rows):
            return 0
        stored = {
            info.id: info.content_hash
            for info in self._snapshot.records.infos_of(self._curated_rows.tolist()).values()
        }
        shipped = {record.id: record.content_hash() for record in bundled_cards()}
        return len(stored.keys() ^ shipped.keys()) + sum(
            stored[i] != digest for i, digest in shipped.items() if i in stored
        )

    def outdated_note(self) -> str | None:
        """What a front door tells the person when :meth:`outdated_cards` is not 0."""
        outdated = self.outdated_cards()
        if not outdated:
            return None
        return (
            f"{outdated} bundled card(s) changed since the index at {self._index_dir} was built; "
            "answers use the old text until you run `zoomqa index build`"
        )

    @property
    def manifest(self) -> Manifest:
        """What the open generation holds (count, embedder, sources...)."""
        return self._snapshot.manifest

    def close(self) -> None:
        self._snapshot.records.close()
        if self.embedder.cache is not None:
            self.embedder.cache.close()

    def __enter__(self) -> HybridRetriever:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def search(self, question: str, k: int | None = None) -> SearchResult:
        """Up to ``k`` models and ``k`` papers for ``question``, best first, or "nothing relevant"."""
        text = clean_question(question)
        k = self.k if k is None else k
        if k < 1:
            raise ZoomqaError("k must be at least 1")
        with self._lock, _one_thread():
            self._follow()
            return self._search(question, text, k)

    def _search(self, question: str, text: str, k: int) -> SearchResult:
        query = self.embedder.encode([text])
        dense = self._dense_candidates(query)
        matched = self._best_sentences(query)
        keyword_scores = self._snapshot.keywords.scores(text)  # type: ignore[union-attr]
        named = self._named_rows(text, dense, keyword_scores)
        if not named and not self._names_a_card(text) and not self._is_relevant(text, query, dense, matched):
            return SearchResult(question=question, relevant=False, nearest_topics=self._nearest_topics(query))
        ranked = self._fuse(query, dense, matched, keyword_scores, named)
        # A record the question names is what it asks about: first in its block, never cut.
        ranked.sort(key=lambda c: c.info.row not in named)
        chosen = {kind: [c for c in ranked if c.info.kind == kind][:k] for kind in BLOCKS}
        records = self._snapshot.records.records_of(c.info.row for block in chosen.values() for c in block)
        models, papers = (
            tuple(Hit(records[c.info.row], round(c.score, 4), round(c.similarity, 4)) for c in chosen[kind])
            for kind in BLOCKS
        )
        return SearchResult(question=question, models=models, papers=papers)

    def best_similarity(self, question: str) -> float:
        """The floor's signal: cosine of the nearest curated card."""
        text = clean_question(question)
        with self._lock, _one_thread():
            self._follow()
            query = self.embedder.encode([text])
            return self._relevance(query, self._dense_candidates(query), self._best_sentences(query))

    @property
    def classifier(self) -> RelevanceModel | None:
        """The relevance classifier in use (None for an index without bundled cards)."""
        return self._classifier

    def _is_relevant(
        self,
        text: str,
        query: np.ndarray,
        dense: dict[str, tuple[np.ndarray, np.ndarray]],
        matched: dict[int, float],
    ) -> bool:
        if self._relevance(query, dense, matched) < self.min_relevance:
            return False
        return self._classifier is None or self._classifier.is_relevant(query[0], text)

    def _names_a_card(self, text: str) -> bool:
        """Whether the question names a bundled work by its coined name ("how do I run
        Real-ESRGAN on one jpg?"): it is about that work however it is worded."""
        if self._card_names is None:
            ordinary = self._ordinary()
            self._card_names = tuple(p for r in self._curated_records for p in name_patterns(r, ordinary))
        return names_any(text, self._card_names)

    def _ordinary(self) -> frozenset[str]:
        if self._ordinary_words is None:
            self._ordinary_words = _vocabulary(self.embedder)
        return self._ordinary_words

    def _named_rows(
        self, text: str, dense: dict[str, tuple[np.ndarray, np.ndarray]], keyword_scores: np.ndarray
    ) -> set[int]:
        """The records outside the bundled cards that the question names by a coined name
        ("what is SinSR?"): a paper a person added is relevant to questions about it even when
        no card is like it. The records looked at are the search's own candidates (the best
        keyword and dense matches outside the cards), where a rare name puts its record first."""
        keyword_rows = _top_rows(np.where(self._curated, 0.0, keyword_scores), NAME_CANDIDATES)
        dense_rows = np.concatenate([rows[:NAME_CANDIDATES] for rows, _ in dense.values()])
        rows = [
            row
            for row in dict.fromkeys([*keyword_rows.tolist(), *dense_rows.tolist()])
            if not self._curated[row]
        ]
        if not rows:
            return set()
        records = self._snapshot.records.records_of(rows)
        return {row for row, record in records.items() if names_record(text, record, self._ordinary())}

    def _relevance(
        self, query: np.ndarray, dense: dict[str, tuple[np.ndarray, np.ndarray]], matched: dict[int, float]
    ) -> float:
        if self._curated_vectors is not None:
            # the nearest card as retrieval sees it: "what is LPIPS?" is far from the LPIPS
            # summary's vector but close to its sentence "LPIPS measures perceptual similarity..."
            similarity = dict(
                zip(self._curated_rows.tolist(), (self._curated_vectors @ query[0]).tolist(), strict=True)
            )
            return max(_blend(similarity, matched).values(), default=-1.0)
        return max(
            (float(similarities[0]) for _, similarities in dense.values() if len(similarities)), default=-1.0
        )

    def _dense(self, query: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Rows and cosine similarities of the ``n`` nearest vectors, best first (one exact FAISS scan)."""
        limit = min(n, self._snapshot.manifest.count)
        similarities, rows = self._snapshot.vectors.search(query, limit)  # type: ignore[attr-defined]
        found = rows[0] >= 0
        return rows[0][found], similarities[0][found]

    def _dense_candidates(self, query: np.ndarray) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """The nearest papers from FAISS and the nearest model cards from their small in-memory matrix."""
        rows, similarities = self._dense(query, CANDIDATES + len(self._model_rows))
        papers = ~self._is_model[rows]
        model_similarities = self._model_vectors @ query[0]
        order = np.argsort(-model_similarities, kind="stable")[:CANDIDATES]
        return {
            "model": (self._model_rows[order], model_similarities[order]),
            "paper": (rows[papers][:CANDIDATES], similarities[papers][:CANDIDATES]),
        }

    def _fuse(
        self,
        query: np.ndarray,
        dense: dict[str, tuple[np.ndarray, np.ndarray]],
        matched: dict[int, float],
        keyword_scores: np.ndarray,
        named: set[int] | frozenset[int] = frozenset(),
    ) -> list[_Candidate]:
        """Every candidate of both blocks on one fused scale, best first, relevant and de-duplicated."""
        similarity: dict[int, float] = {}
        for rows, similarities in dense.values():
            similarity.update(zip(rows.tolist(), similarities.tolist(), strict=True))
        keyword_rows = [
            self._model_rows[_top_rows(keyword_scores[self._model_rows], CANDIDATES)],
            _top_rows(np.where(self._is_model, 0.0, keyword_scores), CANDIDATES),
        ]
        missing = sorted((set(np.concatenate(keyword_rows).tolist()) | matched.keys()) - similarity.keys())
        if missing:
            vectors = self._snapshot.vectors.reconstruct_batch(np.asarray(missing, dtype=np.int64))  # type: ignore[attr-defined]
            similarity.update(zip(missing, (vectors @ query[0]).tolist(), strict=True))
        similarity = _blend(similarity, matched)
        best_keyword = float(keyword_scores.max(initial=0.0)) or 1.0
        # A name the embedder does not know ("LPIPS") leaves a card's cosine low while its
        # keyword score is the best of the search: such a card stays a candidate.
        relevant = [
            row
            for row, cosine in similarity.items()
            if cosine >= self.min_relevance
            or keyword_scores[row] >= KEYWORD_RESCUE * best_keyword
            or row in named
        ]
        infos = self._snapshot.records.infos_of(relevant)
        candidates = [
            _Candidate(
                infos[row],
                self.dense_weight * similarity[row]
                + (1 - self.dense_weight) * float(keyword_scores[row]) / best_keyword
                + self.curated_bonus * bool(self._curated[row]),
                similarity[row],
            )
            for row in relevant
        ]
        return _deduplicate(sorted(candidates, key=lambda c: (-c.score, c.info.row)))

    def _best_sentences(self, query: np.ndarray) -> dict[int, float]:
        """Each bundled card's best card-sentence cosine to the question, by row."""
        best = np.full(len(self._sentence_cards), -np.inf, dtype=np.float32)
        np.maximum.at(best, self._sentence_owner, self._sentence_vectors @ query[0])
        return dict(zip(self._sentence_cards.tolist(), best.tolist(), strict=True))

    def _nearest_topics(self, query: np.ndarray) -> tuple[str, ...]:
        """Short names of what the index covers nearest to an unanswerable question."""
        rows, _ = self._dense(query, 4 * NEAREST_TOPICS)
        records = self._snapshot.records.records_of(rows)
        topics: list[str] = []
        for row in rows.tolist():
            record = records[row]
            topic = record.tasks[0] if record.tasks else _shorten(record.title)
            if topic.lower() not in (t.lower() for t in topics):
                topics.append(topic)
        return tuple(topics[:NEAREST_TOPICS])

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        return [
            Document(
                page_content=hit.record.summary,
                metadata={
                    **hit.record.model_dump(mode="json"),
                    "score": hit.score,
                    "similarity": hit.similarity,
                    "block": hit.record.kind,
                },
            )
            for hit in self.search(query).hits
        ]


def _vocabulary(embedder: Embedder) -> frozenset[str]:
    """The whole words the embedder's tokenizer knows ("gun", "ram"): a paper named GUN is only
    named when the question writes GUN. Empty when the model has no readable vocabulary."""
    model = getattr(embedder, "_model", None)
    tokenizer = getattr(model, "tokenizer", None) or getattr(model, "_tokenizer", None)
    get_vocab = getattr(tokenizer, "get_vocab", None)
    vocabulary = get_vocab() if callable(get_vocab) else {}
    return frozenset(word for word in vocabulary if word.isalpha())


def _shorten(title: str, limit: int = 80) -> str:
    return title if len(title) <= limit else title[: limit - 1].rsplit(" ", 1)[0] + "…"


def _deduplicate(ranked: Iterable[_Candidate]) -> list[_Candidate]:
    """One candidate per paper (arXiv id), at the best rank of its group, preferring curated records.

    Model cards are never merged: two cards may implement one paper yet be different models.
    """
    groups: dict[object, list[_Candidate]] = {}
    for candidate in ranked:
        info = candidate.info
        key = ("paper", info.arxiv_id) if info.kind == "paper" and info.arxiv_id else ("row", info.row)
        groups.setdefault(key, []).append(candidate)
    chosen = []
    for group in groups.values():  # dicts keep insertion order: groups appear at their best rank
        keeper = min(group, key=lambda c: c.curated_rank)
        chosen.append(_Candidate(keeper.info, group[0].score, max(c.similarity for c in group)))
    return chosen

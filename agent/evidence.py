"""The retrieved sources of one question, numbered, cut into sentences and embedded once.

Writers quote these sentences, the grounding guard measures generated sentences against
them and the evaluation counts support with them, so all three see the same evidence.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache


import numpy as np

from zoomqa.agent.answer import Source
from zoomqa.agent.sentences import split_clauses, split_sentences
from zoomqa.index.embedding import Embedder
from zoomqa.index.records import Record
from zoomqa.index.results import SearchResult

WHY_MAX_CHARS = 220
MIN_QUOTE_WORDS = 5
MODEL_PREFERENCE = 0.05  # cosine head start of model cards when choosing what to explain


@dataclass(frozen=True)
class Passage:
    """A quotable piece of a source: a whole summary sentence, one of its clauses, or its label.

    ``span`` names the clauses it covers, so a sentence and its own clauses are never both quoted.
    """

    text: str
    source: int
    span: frozenset[str]
    quotable: bool = True


@dataclass(frozen=True)
class Support:
    similarity: float
    source: int


def _quotable(text: str) -> bool:
    """Rhetorical questions and fragments ("How to represent an image?") explain nothing."""
    return not text.endswith("?") and len(text.split()) >= MIN_QUOTE_WORDS


def _passages_of(record: Record, number: int) -> list[Passage]:
    label = f"{record.title}. {'; '.join(record.tasks)}" if record.tasks else record.title
    passages = [Passage(label, number, frozenset({f"{number}:label"}), quotable=False)]
    for i, sentence in enumerate(split_sentences(record.summary)):
        clauses = split_clauses(sentence)
        ids = [f"{number}:{i}.{j}" for j in range(len(clauses))]
        passages.append(Passage(sentence, number, frozenset(ids), _quotable(sentence)))
        if len(clauses) > 1:
            passages.extend(
                Passage(c, number, frozenset({cid}), _quotable(c))
                for c, cid in zip(clauses, ids, strict=True)
            )
    return passages


@contextmanager
def _single_thread() -> Iterator[None]:
    """Torch on one thread while encoding: a few short sentences take ~25 ms that way, and
    several times longer with two threads on a busy two-core machine (measured: 0.03 s vs 0.8 s)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def encode(embedder: Embedder, texts: Sequence[str]) -> np.ndarray:
    """Embed the few short texts of one answer (passages, sentences, labels)."""
    with _single_thread():
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
    """Index of the passage of ``source`` closest to the question (quotable ones first)."""
    candidates = [i for i, p in enumerate(passages) if p.source == source]
    return max(candidates, key=lambda i: (passages[i].quotable, closeness[i]))


@dataclass(frozen=True)
class Evidence:
    """Everything a writer may use for one question, and nothing else."""

    question: str
    records: tuple[Record, ...]
    sources: tuple[Source, ...]
    passages: tuple[Passage, ...]
    vectors: np.ndarray
    question_vector: np.ndarray
    closeness: np.ndarray  # cosine of each passage to the question
    embedder: Embedder

    @classmethod
    def gather(cls, result: SearchResult, embedder: Embedder) -> Evidence:
        """Number the hits (models first), cut and embed their summaries, pick each one's 'why' line."""
        records = tuple(hit.record for hit in result.hits)
        passages: list[Passage] = []
        blocks: list[np.ndarray] = []
        for number, record in enumerate(records, start=1):
            own = _passages_of(record, number)
            passages.extend(own)
            blocks.append(encode_cached(embedder, tuple(p.text for p in own)))
        vectors = np.concatenate(blocks) if blocks else np.zeros((0, embedder.dim), dtype=np.float32)
        question_vector = encode(embedder, [result.question])[0]
        closeness = vectors @ question_vector
        sources = tuple(
            Source.from_record(number, record, _shorten(passages[_closest(passages, closeness, number)].text))
            for number, record in enumerate(records, start=1)
        )
        return cls(
            result.question, records, sources, tuple(passages), vectors, question_vector, closeness, embedder
        )

    def support(self, texts: list[str], *, include_question: bool = False) -> list[Support]:
        """For each text, its closest passage's cosine similarity and that passage's source.

        With ``include_question`` the question itself counts as a passage (source 0): the task
        statement may restate the person's situation.
        """
        if not texts:
            return []
        vectors = encode(self.embedder, texts)
        sims = vectors @ self.vectors.T if self.passages else np.zeros((len(texts), 0), dtype=np.float32)
        owners = [p.source for p in self.passages]
        if include_question:
            sims = np.concatenate([sims, (vectors @ self.question_vector)[:, None]], axis=1)
            owners.append(0)
        if sims.shape[1] == 0:
            return [Support(0.0, 0) for _ in texts]
        best = sims.argmax(axis=1)
        return [Support(float(sims[i, j]), owners[j]) for i, j in enumerate(best)]

    def anchor(self) -> int:
        """The source the answer explains: the one with the passage closest to the question.

        Retrieval ranks whole records; a record with one sentence on exactly the person's
        situation ("blown up 10x") explains it better than a broadly similar one ranked first.
        Models win ties within ``MODEL_PREFERENCE`` because a person can run them.
        """
        best: dict[int, float] = {}
        for passage, score in zip(self.passages, self.closeness, strict=True):
            if passage.quotable:
                bonus = MODEL_PREFERENCE if self.records[passage.source - 1].kind == "model" else 0.0
                best[passage.source] = max(best.get(passage.source, -1.0), float(score) + bonus)
        return max(best, key=lambda n: (best[n], -n)) if best else 1

    def same_method(self, anchor: int) -> set[int]:
        """``anchor`` and the sources of the same method (the paper a model implements, other
        models implementing it): what "how it works" may quote. Mixing sentences of unrelated
        models would explain no model at all."""
        top = self.records[anchor - 1]
        method = top.implements if top.kind == "model" else (top.arxiv_id or top.id)
        return {anchor} | {
            number
            for number, r in enumerate(self.records, start=1)
            if method in (r.id, r.arxiv_id, r.implements)
        }

"""The keyword half of hybrid retrieval: BM25 (bm25s) over the records' embedding texts.

It catches exact names and terms (EDSR, "implicit", "x4") that a small sentence embedder
blurs. Saved as numpy arrays and JSON and loaded with ``allow_pickle=False``.
"""

from __future__ import annotations

from pathlib import Path

import bm25s
import numpy as np

STOPWORDS = "en"


def tokenize(texts: list[str]) -> list[list[str]]:
    """Lower-cased word tokens without English stop words; the same for documents and questions."""
    return bm25s.tokenize(texts, stopwords=STOPWORDS, return_ids=False, show_progress=False)


class KeywordIndex:
    """BM25 scores of every document (row) for a question."""

    def __init__(self, bm25: bm25s.BM25) -> None:
        self._bm25 = bm25

    @classmethod
    def build(cls, texts: list[str]) -> KeywordIndex:
        bm25 = bm25s.BM25()
        bm25.index(tokenize(texts), show_progress=False)
        return cls(bm25)

    @classmethod
    def load(cls, directory: Path) -> KeywordIndex:
        return cls(bm25s.BM25.load(str(directory), allow_pickle=False, load_corpus=False))

    def save(self, directory: Path) -> None:
        self._bm25.save(str(directory), allow_pickle=False, show_progress=False)

    @property
    def count(self) -> int:
        return int(self._bm25.scores["num_docs"])

    def scores(self, question: str) -> np.ndarray:
        """float32 BM25 score per row; all zeros when no question word is in the vocabulary."""
        known = [t for t in tokenize([question])[0] if t in self._bm25.vocab_dict]
        if not known:
            return np.zeros(self.count, dtype=np.float32)
        return np.asarray(self._bm25.get_scores(known), dtype=np.float32)

"""The keyword half of hybrid retrieval: BM25 (bm25s) over the records' keyword texts.

It catches exact names and terms (EDSR, "implicit", "10x") that a small sentence embedder
blurs. Saved as numpy arrays and JSON and loaded with ``allow_pickle=False``.
"""

from __future__ import annotations

import re
from pathlib import Path

import bm25s
import numpy as np
from bm25s.stopwords import STOPWORDS_EN

_WORD = re.compile(r"(?u)\b\w\w+\b")  # the scikit-learn / bm25s default token pattern
_STOPWORDS = frozenset(STOPWORDS_EN)


def tokenize(text: str) -> list[str]:
    """Lower-cased word tokens without English stop words; the same for documents and questions."""
    return [token for token in _WORD.findall(text.lower()) if token not in _STOPWORDS]


class KeywordIndex:
    """BM25 scores of every document (row) for a question."""

    def __init__(self, bm25: bm25s.BM25) -> None:
        self._bm25 = bm25

    @classmethod
    def build(cls, texts: list[str]) -> KeywordIndex:
        # Token ids are assigned here rather than by bm25s.tokenize, which rebuilds its stop-word
        # set for every text: 2-3x slower on the 68k-abstract corpus.
        vocabulary: dict[str, int] = {}
        documents = [
            [vocabulary.setdefault(token, len(vocabulary)) for token in tokenize(text)] for text in texts
        ]
        bm25 = bm25s.BM25()
        bm25.index((documents, vocabulary), show_progress=False)
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
        known = [t for t in tokenize(question) if t in self._bm25.vocab_dict]
        if not known:
            return np.zeros(self.count, dtype=np.float32)
        return np.asarray(self._bm25.get_scores(known), dtype=np.float32)

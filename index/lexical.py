"""A short text's words and letter sequences as a sparse vector: the relevance classifier's second view.

The embedding says what a question is like; its words say what it is about. "What layer height
gives the best detail on an Ender 3?" lies close to questions about fine detail in pictures,
and "how do I remove motion blur from a picture?" close to camera questions that are off
topic; a word ("Ender", "blur") settles both. Word unigrams and bigrams and the 3-5 letter
sequences inside each word (so "upscaling" shares most of its features with "upscaled" and a
typo with its word) are hashed into a fixed number of buckets, so no vocabulary ships: crc32
is the same in every process and on every platform (Python's ``hash`` is salted).

Weighting follows the usual tf-idf: ``1 + log(count)`` times the bucket's idf, the words and
the letter sequences each scaled to unit length (a sentence has many more letter sequences
than words; scaled together, the words would hardly count). Buckets fewer than
``MIN_TEXTS`` training texts used have idf 0, so a word seen once neither votes nor dilutes
the words that were seen often.
"""

from __future__ import annotations

import re
import zlib
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

BUCKETS = 2**18  # words hash into the lower half, letter sequences into the upper
_HALF = BUCKETS // 2
MIN_TEXTS = 2  # a bucket used by fewer training texts is ignored
WORD_NGRAMS = 2  # unigrams and bigrams
LETTER_NGRAMS = (3, 5)  # shortest and longest letter sequence, within a word padded by spaces
_WORD = re.compile(r"[a-z0-9]+")


def _bucket(feature: str, offset: int) -> int:
    return offset + zlib.crc32(feature.encode("utf-8")) % _HALF


def ngram_counts(text: str) -> Counter[int]:
    """How often each bucket occurs in ``text``: its words, word pairs and in-word letter sequences."""
    words = _WORD.findall(text.lower())
    grams = [" ".join(words[i : i + n]) for n in range(1, WORD_NGRAMS + 1) for i in range(len(words) - n + 1)]
    letters: list[str] = []
    shortest, longest = LETTER_NGRAMS
    for word in words:
        padded = f" {word} "
        for n in range(shortest, min(longest, len(padded)) + 1):
            letters += [padded[i : i + n] for i in range(len(padded) - n + 1)]
    return Counter([_bucket(g, 0) for g in grams] + [_bucket(s, _HALF) for s in letters])


def weighted(counts: Counter[int], idf: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The buckets of ``counts`` that ``idf`` knows and their unit-length tf-idf weights."""
    buckets = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
    values = (1.0 + np.log(np.fromiter(counts.values(), dtype=np.float64, count=len(counts)))) * idf[buckets]
    known = values > 0
    buckets, values = buckets[known], values[known]
    for half in (buckets < _HALF, buckets >= _HALF):  # words, then letter sequences
        norm = float(np.linalg.norm(values[half]))
        if norm:
            values[half] /= norm
    return buckets, values.astype(np.float32)


def document_frequencies(counts: Sequence[Counter[int]]) -> np.ndarray:
    """In how many texts (their :func:`ngram_counts`) each bucket occurs."""
    df = np.zeros(BUCKETS, dtype=np.int64)
    for text in counts:
        df[list(text)] += 1
    return df


def smooth_idf(df: np.ndarray, n_texts: int) -> np.ndarray:
    """``log((1 + n) / (1 + df)) + 1`` for every bucket at least MIN_TEXTS texts used, 0 for the others."""
    return np.where(df >= MIN_TEXTS, np.log((1 + n_texts) / (1 + df)) + 1.0, 0.0).astype(np.float32)


def matrix(counts: Sequence[Counter[int]], idf: np.ndarray) -> Any:
    """The texts' tf-idf rows (:func:`weighted`) as one scipy sparse matrix, for training."""
    from scipy.sparse import csr_matrix

    rows = [weighted(c, idf) for c in counts]
    indptr = np.cumsum([0] + [len(buckets) for buckets, _ in rows])
    indices = np.concatenate([buckets for buckets, _ in rows]) if rows else np.zeros(0, np.int64)
    data = np.concatenate([values for _, values in rows]) if rows else np.zeros(0, np.float32)
    return csr_matrix((data, indices, indptr), shape=(len(counts), BUCKETS))

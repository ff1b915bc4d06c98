"""The relevance classifier's word features: stable hashing, tf-idf weights, unseen words ignored."""

from __future__ import annotations

import subprocess
import sys

import numpy as np

from zoomqa.index.lexical import BUCKETS, MIN_TEXTS, document_frequencies, ngram_counts, smooth_idf, weighted


def test_words_pairs_and_letter_sequences_are_counted() -> None:
    counts = ngram_counts("Upscale upscale photo")
    # 3 words + 2 word pairs, and each word's letter sequences: " upscale " has 7 + 6 + 5 of length 3-5
    words = [b for b in counts.elements() if b < BUCKETS // 2]
    letters = [b for b in counts.elements() if b >= BUCKETS // 2]
    assert len(words) == 5
    assert len(letters) == 2 * (7 + 6 + 5) + (5 + 4 + 3)
    assert ngram_counts("UPSCALE!") == ngram_counts("upscale")  # case and punctuation do not matter
    assert ngram_counts("") == {}


def test_the_hashing_is_the_same_in_another_process() -> None:
    # Python's hash() is salted per process; trained weights must map to the same buckets forever
    code = "from zoomqa.index.lexical import ngram_counts; print(sorted(ngram_counts('motion blur')))"
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert other.strip() == str(sorted(ngram_counts("motion blur")))


def test_rare_buckets_get_no_weight_and_each_half_has_unit_length() -> None:
    texts = ["blurry photo", "blurry scan", "sharp photo"]
    idf = smooth_idf(document_frequencies([ngram_counts(t) for t in texts]), len(texts))
    assert MIN_TEXTS == 2
    buckets, values = weighted(ngram_counts("blurry photo of a zebra"), idf)
    assert not set(buckets) & set(ngram_counts("zebra")) - set(ngram_counts("blurry photo of a"))
    assert (values > 0).all()
    for half in (buckets < BUCKETS // 2, buckets >= BUCKETS // 2):
        assert np.linalg.norm(values[half]) == np.float32(1.0) or abs(np.linalg.norm(values[half]) - 1) < 1e-5
    nothing_known = weighted(ngram_counts("zebra"), idf)
    assert nothing_known[0].size == 0 and nothing_known[1].size == 0

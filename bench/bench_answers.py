"""Tune the any-passage support cosine of `zoomqa eval answers` on the question set and print the sweep.

A sentence is "supported" when its closest retrieved passage has at least the threshold's
cosine similarity. To choose the threshold we need sentences that are true of the sources
but worded differently, and sentences that are not. For every question whose top method has
both a model card and a paper among the hits:

* supported: the sentences of the method's paper, checked against the evidence *without*
  that paper (the model card says the same things in other words);
* unsupported: sentences of records that were not retrieved for the question (other methods,
  other tasks), checked against the full evidence.

The chosen threshold maximises balanced accuracy; ties go to the higher (stricter) value.

    python bench/bench_answers.py [--questions tests/questions.jsonl] [--negatives 2]
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

import numpy as np

from zoomqa.agent.compose.evidence import Evidence
from zoomqa.agent.evaluation.answers import SUPPORT_TAU
from zoomqa.config import get_settings
from zoomqa.index.cli import evaluation_index, open_retriever
from zoomqa.index.records import Record, read_bundled_corpus
from zoomqa.index.results import SearchResult
from zoomqa.index.sentences import split_sentences
from zoomqa.question_set import read_question_set

REPO = Path(__file__).resolve().parents[1]
THRESHOLDS = np.round(np.arange(0.30, 0.801, 0.025), 3)
MIN_WORDS = 5


def _sentences(record: Record) -> list[str]:
    return [s for s in split_sentences(record.summary) if len(s.split()) >= MIN_WORDS and not s.endswith("?")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=Path, default=REPO / "tests" / "questions.jsonl")
    parser.add_argument("--negatives", type=int, default=2, help="Unretrieved records sampled per question.")
    args = parser.parse_args()

    settings = get_settings()
    corpus = read_bundled_corpus()
    rng = random.Random(0)
    supported: list[float] = []
    unsupported: list[float] = []
    with open_retriever(evaluation_index(settings, None), settings) as retriever:
        for question in read_question_set(args.questions):
            result = retriever.search(question.question)
            if not result.relevant:
                continue
            full = Evidence.gather(result, retriever.embedder)
            method = full.same_method(full.anchor)
            papers = [full.records[n - 1] for n in method if full.records[n - 1].kind == "paper"]
            if papers and any(full.records[n - 1].kind == "model" for n in method):
                kept = tuple(h for h in result.papers if h.record not in papers)
                without = Evidence.gather(
                    SearchResult(result.question, models=result.models, papers=kept), retriever.embedder
                )
                supported += [s.similarity for p in papers for s in without.support(_sentences(p))]
            retrieved = {h.record.id for h in result.hits}
            others = rng.sample([r for r in corpus if r.id not in retrieved], args.negatives)
            unsupported += [s.similarity for r in others for s in full.support(_sentences(r))]

    pos, neg = np.array(supported), np.array(unsupported)
    print(f"sentences: {len(pos)} supported (paraphrased by a model card), {len(neg)} unsupported")
    print(
        f"closest-passage cosine: supported p10/p50 {np.percentile(pos, 10):.3f}/{np.median(pos):.3f}, "
        f"unsupported p50/p90 {np.median(neg):.3f}/{np.percentile(neg, 90):.3f}"
    )
    print("threshold  kept-supported  kept-unsupported  balanced-accuracy")
    best = (0.0, 0.0)
    for t in THRESHOLDS:
        tpr, fpr = float((pos >= t).mean()), float((neg >= t).mean())
        accuracy = (tpr + 1 - fpr) / 2
        best = max(best, (accuracy, t))
        print(f"{t:9.3f}  {tpr:14.3f}  {fpr:16.3f}  {accuracy:17.3f}")
    print(
        f"best threshold {best[1]:.3f} (balanced accuracy {best[0]:.3f}); in use by `eval answers`: {SUPPORT_TAU}"
    )


if __name__ == "__main__":
    main()

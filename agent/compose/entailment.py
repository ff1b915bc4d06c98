"""Does a passage entail, contradict or not speak to a sentence? The claim check's cross-encoder.

Sentence cosine cannot tell "ESRGAN removes batch normalisation" from "ESRGAN keeps batch
normalisation" (0.76 to the same passage). This pair classifier (index/pair_model.py) reads the
passage and the sentence together and says *entailed*, *contradicted* or *neutral*. It is
trained by ``zoomqa eval train-entailment`` (:mod:`zoomqa.agent.evaluation.entailment_training`)
on a paraphrase, a contradiction and a fabrication written for every card sentence
(``data/entailment/claims-*.jsonl``) and ships as ``data/entailment/model.safetensors``.

The claim check (claims.py) asks it only about sentences that pass every other test: close
enough to the cited passage and naming nothing the source lacks.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from zoomqa.index.embedding import Embedder
from zoomqa.index.pair_model import PairClassifier, shipped_pair_classifier

DATA_DIR = Path(str(files("zoomqa.agent.compose") / "data" / "entailment"))
SHIPPED_MODEL = DATA_DIR / "model.safetensors"
LABELS = ("entailed", "contradicted", "neutral")


def shipped_model(embedder: Embedder) -> PairClassifier | None:
    """The shipped model for ``embedder``, loaded once; None where it cannot serve (another base
    model, or no file), and the claim check then runs on its other tests alone."""
    return shipped_pair_classifier(SHIPPED_MODEL, embedder)


def contradiction(model: PairClassifier, passage: str, sentence: str) -> float:
    """P(contradicted): the passage, read as the premise, says the sentence is false."""
    return model.probability("contradicted", passage, sentence)

"""The claim check's entailment model, a cross-encoder (index/pair_model.py): its training data
names real card sentences, the shipped weights are current and small, training writes weights
that the numpy encoder reads back with torch's own probabilities."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from zoomqa.agent.compose.entailment import LABELS, SHIPPED_MODEL, shipped_model
from zoomqa.agent.evaluation import entailment_training
from zoomqa.errors import ZoomqaError
from zoomqa.index.embedding import DEFAULT_EMBEDDER, Embedder
from zoomqa.index.pair_model import PairClassifier, read_pair_classifier
from zoomqa.index.pair_training import LabelledPair, PairSettings, train_pair_classifier
from zoomqa.index.records import read_bundled_corpus

MAX_BYTES = 10 * 2**20


def test_every_written_claim_comes_from_a_card_sentence() -> None:
    own = {(r.id, text) for r in read_bundled_corpus() for _, text in r.card_fields()}
    claims = entailment_training.read_written_claims()
    assert len(claims) >= 1000
    assert all((c.card, c.sentence) in own for c in claims)
    assert all(len({c.sentence, c.paraphrase, c.contradiction, c.fabrication}) == 4 for c in claims)


def test_contradiction_is_learnt_both_ways_and_a_card_sentence_entails_itself() -> None:
    claim = entailment_training.WrittenClaims(
        card="paper:edsr",
        sentence="EDSR removes batch normalisation.",
        paraphrase="EDSR drops batch norm layers.",
        contradiction="EDSR keeps batch normalisation.",
        fabrication="EDSR was trained on ImageNet.",
    )
    pairs = {(p.first, p.second): LABELS[p.label] for p in entailment_training.training_pairs([claim])}
    assert pairs[(claim.sentence, claim.contradiction)] == "contradicted"
    assert pairs[(claim.paraphrase, claim.contradiction)] == "contradicted"
    assert pairs[(claim.contradiction, claim.sentence)] == "contradicted"
    assert pairs[(claim.sentence, claim.sentence)] == "entailed"
    assert pairs[(claim.sentence, claim.fabrication)] == "neutral"


def test_shipped_entailment_model_is_current_and_small(embedder: Embedder) -> None:
    model = shipped_model(embedder)
    assert model is not None
    assert model.digest == entailment_training.training_digest(embedder.identity), (
        "the written claims or the training settings changed: run `zoomqa eval train-entailment`"
    )
    assert SHIPPED_MODEL.stat().st_size <= MAX_BYTES
    chosen = next(h for h in model.report["held_out"]["history"] if h["epoch"] == model.report["epochs"])
    # on cards it never saw, it finds most contradictions and calls few paraphrases contradicted
    assert chosen["recall"]["contradicted"] >= 0.6 and chosen["recall"]["entailed"] >= 0.8


def test_training_writes_weights_the_numpy_encoder_reads_as_torch_does(
    embedder: Embedder, tmp_path: Path
) -> None:
    """A tiny fit (one fine-tuned layer, one epoch): the file loads on the numpy encoder and its
    probabilities are torch's for the same weights."""
    import torch
    from safetensors.torch import load_file
    from transformers import BertModel

    from zoomqa.index.embedding import resolve_embedder

    texts = [
        ("LIIF enlarges to any scale.", "LIIF works at any zoom factor."),
        ("LIIF enlarges to any scale.", "LIIF only works at 2x."),
        ("GFPGAN restores faces.", "GFPGAN repairs faces in photos."),
        ("GFPGAN restores faces.", "GFPGAN only restores buildings."),
    ]
    pairs = [LabelledPair(a, b, i % 2, f"card{i // 2}") for i, (a, b) in enumerate(texts)]
    target = tmp_path / "pairs.safetensors"
    report = train_pair_classifier(
        DEFAULT_EMBEDDER,
        pairs,
        ("same", "differs"),
        target,
        digest="test",
        settings=PairSettings(top_layers=1, max_epochs=1, validation_share=0.5),
    )
    assert report["epochs"] == 1 and report["held_out"]["pairs"] == 2
    model = read_pair_classifier(target, embedder)
    assert (
        isinstance(model, PairClassifier) and model.labels == ("same", "differs") and model.digest == "test"
    )
    ours = model.probabilities(texts)

    directory, _ = resolve_embedder(DEFAULT_EMBEDDER)
    bert = BertModel.from_pretrained(str(directory), attn_implementation="eager").eval()
    tensors = load_file(str(target))
    with torch.no_grad():
        bert.encoder.layer[5].load_state_dict(
            {
                k.removeprefix("encoder.layer.5."): v.float()
                for k, v in tensors.items()
                if k.startswith("encoder.")
            }
        )
        for row, (a, b) in enumerate(texts):
            e = embedder.minilm().tokenizer.encode(a, b)
            states = bert(
                input_ids=torch.tensor([e.ids]), token_type_ids=torch.tensor([e.type_ids])
            ).last_hidden_state
            logits = states[0].mean(0) @ tensors["head.weight"].float().T + tensors["head.bias"].float()
            np.testing.assert_allclose(ours[row], torch.softmax(logits, 0).numpy(), atol=1e-4)


def test_weights_for_another_base_model_are_refused(embedder: Embedder, tmp_path: Path) -> None:
    from safetensors.numpy import save_file

    other = tmp_path / "other.safetensors"
    save_file(
        {"head.weight": np.zeros((2, 384), dtype=np.float16), "head.bias": np.zeros(2, dtype=np.float16)},
        str(other),
        metadata={"embedder": "another-model@0000", "labels": '["a", "b"]'},
    )
    with pytest.raises(ZoomqaError, match="trained on another-model"):
        read_pair_classifier(other, embedder)
    with pytest.raises(ZoomqaError, match="cannot read the pair classifier"):
        read_pair_classifier(tmp_path / "missing.safetensors", embedder)

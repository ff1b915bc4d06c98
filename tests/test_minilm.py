"""The numpy MiniLM encoder gives sentence-transformers' vectors, alone, in batches and in threads."""

from __future__ import annotations

import json
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from zoomqa.index.embedding import DEFAULT_EMBEDDER, resolve_embedder
from zoomqa.index.minilm import MiniLMEncoder, UnsupportedModel
from zoomqa.index.records import read_bundled_corpus

QUESTIONS = Path(__file__).parent / "questions.jsonl"
ODD_TEXTS = [
    "",
    " ",
    "\n\t ",
    ".",
    "?!",
    "a",
    "LIIF",
    "ESRGAN 4x",
    "x" * 150,  # longer than a word piece may be: one [UNK]
    "é",
    "Ünïcödé àccents, café naïve",
    "超分辨率是什么？",
    "これは画像の超解像です",
    "🙂🔍📷 zoom!",
    "Привет, как увеличить фото?",
    "مرحبا بالعالم",
    "\u200b\u200bzero width",
    "a\u0301b\u0301 combining marks",
    "TAB\tand\nnewline\r\n",
    "1234567890 3.7x 10x 0.5",
    "C++ & Rust <html> {json: 1}",
    "ALL CAPS QUESTION ABOUT SUPER RESOLUTION",
    "https://arxiv.org/abs/2012.09161",
    "\x00\x01 control characters",
    "ﬁ ligature ½ ℃ Ⅻ ①",
]


def varied_texts() -> list[str]:
    """Questions, card sentences and summaries as the index holds them, texts far over the
    256 word pieces the model reads, and odd or nearly empty ones."""
    records = read_bundled_corpus()
    questions = [json.loads(line)["question"] for line in QUESTIONS.read_text().splitlines() if line.strip()]
    card_sentences = [text for record in records for _, text in record.card_fields()]
    summaries = [record.summary for record in records]
    long_texts = [
        " ".join(summaries[:6]),
        " ".join(summaries[6:9])[:3000],
        "word " * 600,
        "超分辨率 " * 300,
        " ".join(questions),
    ]
    return questions[:120] + card_sentences[:80] + summaries[:20] + long_texts + ODD_TEXTS


@pytest.fixture(scope="module")
def model_dir() -> Path:
    return resolve_embedder(DEFAULT_EMBEDDER)[0]


@pytest.fixture(scope="module")
def encoder(model_dir: Path) -> MiniLMEncoder:
    return MiniLMEncoder(model_dir)


@pytest.mark.slow
def test_vectors_equal_those_of_sentence_transformers(model_dir: Path, encoder: MiniLMEncoder) -> None:
    from sentence_transformers import SentenceTransformer

    texts = varied_texts()
    assert len(texts) >= 200
    reference = SentenceTransformer(str(model_dir), device="cpu", local_files_only=True)
    # the same word pieces, truncated at the same length
    features = reference.tokenize(texts)
    for i, text in enumerate(texts):
        ids = features["input_ids"][i][features["attention_mask"][i].bool()].tolist()
        assert encoder.tokenizer.encode(text).ids == ids, text[:60]
    assert max(len(encoder.tokenizer.encode(t).ids) for t in texts) == encoder.max_length == 256
    expected = reference.encode(texts, batch_size=64, normalize_embeddings=True, convert_to_numpy=True)
    vectors = encoder.encode(texts)
    assert vectors.dtype == np.float32 and vectors.shape == (len(texts), 384)
    # measured: max difference 3.3e-7, min cosine 0.9999999 (float32 rounding)
    assert np.abs(vectors - expected).max() <= 1e-5
    assert (vectors * expected).sum(axis=1).min() >= 0.99999


def test_a_text_has_one_vector_alone_or_padded_in_any_batch(encoder: MiniLMEncoder) -> None:
    texts = ["what is LIIF?", "a much longer question about enlarging an old family photo tenfold", ""]
    together = encoder.encode(texts, batch_size=3)
    for i, text in enumerate(texts):
        np.testing.assert_allclose(encoder.encode([text])[0], together[i], atol=1e-6)
    np.testing.assert_allclose(encoder.encode(texts, batch_size=1), together, atol=1e-6)
    assert np.allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-6)
    assert encoder.encode([]).shape == (0, 384)


def test_threads_sharing_one_encoder_get_the_vectors_of_one_thread(encoder: MiniLMEncoder) -> None:
    texts = varied_texts()[:96]
    expected = encoder.encode(texts)
    chunks = [texts[i::8] for i in range(8)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda chunk: encoder.encode(chunk, batch_size=5), chunks * 3))
    for chunk_number, vectors in enumerate(results):
        np.testing.assert_allclose(vectors, expected[chunk_number % 8 :: 8], atol=1e-6)


def test_a_model_it_cannot_reproduce_is_refused(model_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / "cls-pooling"
    shutil.copytree(model_dir, copy, ignore=shutil.ignore_patterns("model.safetensors"))
    (copy / "model.safetensors").symlink_to(model_dir / "model.safetensors")
    pooling = copy / "1_Pooling" / "config.json"
    config = json.loads(pooling.read_text())
    pooling.write_text(
        json.dumps({**config, "pooling_mode_mean_tokens": False, "pooling_mode_cls_token": True})
    )
    with pytest.raises(UnsupportedModel, match="pooling"):
        MiniLMEncoder(copy)


def test_pairs_are_read_as_bert_reads_them(encoder: MiniLMEncoder) -> None:
    """``encode_pairs`` is BERT's forward pass over ``[CLS] a [SEP] b [SEP]`` with token types,
    mean-pooled; replacing a layer changes the states as the same layer in torch does."""
    import torch
    from transformers import BertModel

    directory, _ = resolve_embedder(DEFAULT_EMBEDDER)
    bert = BertModel.from_pretrained(str(directory), attn_implementation="eager").eval()
    records = read_bundled_corpus()
    pairs = [(text, records[i + 1].title) for i, (_, text) in enumerate(records[0].card_fields()[:6])]
    pairs += [("", "LIIF"), ("a " * 400, "a long first part is cut to fit")]
    torch.manual_seed(0)
    with torch.no_grad():
        for value in bert.encoder.layer[5].parameters():
            value.add_(0.05 * torch.randn_like(value))
    changed = {f"encoder.layer.5.{k}": v.numpy() for k, v in bert.encoder.layer[5].state_dict().items()}
    ours = encoder.with_layers(changed).encode_pairs(pairs)
    for row, (first, second) in enumerate(pairs):
        e = encoder.tokenizer.encode(first, second)
        ids = torch.tensor([e.ids])
        with torch.no_grad():
            states = bert(input_ids=ids, token_type_ids=torch.tensor([e.type_ids])).last_hidden_state
        assert max(e.type_ids) == (1 if second else 0) and len(e.ids) <= encoder.max_length
        np.testing.assert_allclose(ours[row], states[0].mean(0).numpy(), atol=2e-4)
    assert not np.allclose(encoder.encode_pairs(pairs[:1]), ours[:1], atol=1e-3)
    with pytest.raises(UnsupportedModel):
        encoder.with_layers({"encoder.layer.9.output.dense.bias": np.zeros(384, dtype=np.float32)})

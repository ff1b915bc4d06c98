"""The relevance decision: off-topic questions that share words with the domain are refused,
terse on-topic ones answered; the shipped weights are current; unusable weights fail clearly."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from zoomqa.cli import app
from zoomqa.errors import ZoomqaError
from zoomqa.index.embedding import Embedder
from zoomqa.index.matching import read_matching_questions
from zoomqa.index.records import read_bundled_corpus
from zoomqa.index.relevance import SHIPPED_WEIGHTS, load_relevance
from zoomqa.index.relevance_training import (
    IN_DOMAIN_FILE,
    OFF_TOPIC_FILES,
    TEXTS_DIR,
    choose_threshold,
    read_text_lines,
    train_relevance,
    training_digest,
    training_texts,
)
from zoomqa.index.retrieval import HybridRetriever

# Phrasings that are in none of the training files (a test below checks that).
NEAR_DOMAIN_OFF_TOPIC = [
    "how do I sharpen my garden shears?",
    "blur background on teams",
    "set the display resolution on my mac",
    "my new year's resolution is to run a 10k",
    "zoom into a google sheet",
    "which sharp cheddar melts best on toast?",
    "tips for workplace conflict resolution",
    "fancy upscale bars in chicago",
    "where can I get my holiday pictures printed tonight?",
    "which camera should I buy for travelling?",
    "is it legal to post someone else's photo on my website?",
]
TERSE_ON_TOPIC = [
    "liif cell size?",
    "esrgan vs real-esrgan",
    "x4 anime",
    "restormer?",
    "upscale 8x",
    "remove compression artifacts",
    "fix my grandpa's old photo",
    "PSNR vs LPIPS",
    "make pic.jpg 2.5x bigger",
]
# Questions nobody would mistake: about enlarging or restoring pictures, or about nothing of the kind.
CLEARLY_ON_TOPIC = [
    "how does LIIF enlarge a picture to any size?",
    "which model removes JPEG blocks from a photo?",
    "what does PSNR measure?",
    "how do I upscale an anime drawing 4x?",
    "why do GAN upscalers invent texture?",
    "can I restore a scratched old family photo?",
]
CLEARLY_OFF_TOPIC = [
    "how do I bake sourdough bread?",
    "what is the capital of Peru?",
    "how do I change a flat bicycle tyre?",
    "which football team won the league last year?",
    "how long should I boil an egg?",
    "how do I file my taxes online?",
]
runner = CliRunner()


@pytest.fixture(scope="module")
def retriever(bundled_home: Path) -> HybridRetriever:
    with HybridRetriever.open(bundled_home / "index") as opened:
        yield opened


def test_the_probe_questions_are_not_training_texts() -> None:
    seen = {text.lower() for text in training_texts().texts}
    probes = NEAR_DOMAIN_OFF_TOPIC + TERSE_ON_TOPIC + CLEARLY_ON_TOPIC + CLEARLY_OFF_TOPIC
    assert not [q for q in probes if q.lower() in seen]


@pytest.mark.parametrize("question", NEAR_DOMAIN_OFF_TOPIC)
def test_near_domain_off_topic_questions_are_refused(retriever: HybridRetriever, question: str) -> None:
    result = retriever.search(question)
    assert not result.relevant and result.hits == ()
    assert result.nearest_topics


@pytest.mark.parametrize("question", TERSE_ON_TOPIC)
def test_terse_on_topic_questions_are_answered(retriever: HybridRetriever, question: str) -> None:
    result = retriever.search(question)
    assert result.relevant and result.hits


def test_the_cosine_floor_still_refuses_above_the_classifier(bundled_home: Path) -> None:
    # a question that names no work (one naming a work by its coined name is about it:
    # test_retrieval.py)
    with HybridRetriever.open(bundled_home / "index", min_relevance=0.99) as strict:
        assert not strict.search("gan upscalers vs pixel-loss upscalers").relevant


def _search_json(question: str) -> dict[str, object]:
    completed = subprocess.run(
        [sys.executable, "-m", "zoomqa.cli", "search", "--json", question],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout)


@pytest.mark.slow
def test_search_json_refuses_knife_sharpening_and_answers_liif_cell_size(indexed_home: Path) -> None:
    refused = _search_json("what angle do I sharpen a pocket knife at?")
    assert refused["relevant"] is False and refused["models"] == [] and refused["nearest_topics"]
    answered = _search_json("liif cell size?")
    assert answered["relevant"] is True
    assert "2012.09161" in json.dumps(answered["papers"])


def test_the_threshold_keeps_a_margin_from_both_sides_where_mistakes_alone_cannot_decide() -> None:
    # every threshold in (-2, 1] makes no mistake; one hugging 0 would refuse a question at 0.1
    logits = np.array([0.1, 2.0, 3.0, -3.0, -2.0])
    groups = np.array(["question", "question", "question", "near-domain", "general"])
    threshold = choose_threshold(logits, groups)
    assert -1.75 <= threshold <= -0.5
    # with mistakes to weigh, a false refusal still costs more than a false answer
    crowded = np.array([-0.5, 2.0, -0.4, -0.45])
    assert choose_threshold(crowded, np.array(["question", "question", "near-domain", "general"])) < -0.5


def test_the_shipped_weights_are_trained_on_the_current_texts(embedder: Embedder) -> None:
    shipped = load_relevance(SHIPPED_WEIGHTS, embedder=embedder.identity)
    assert shipped.digest == training_digest(training_texts(), embedder.identity), (
        "the relevance weights are stale (cards or index/data/relevance/*.txt changed): "
        "run `zoomqa index train-relevance`"
    )


def test_the_digest_sees_every_training_text_and_its_group(tmp_path: Path, embedder: Embedder) -> None:
    for name in (IN_DOMAIN_FILE, *OFF_TOPIC_FILES.values()):
        (tmp_path / name).write_text((TEXTS_DIR / name).read_text())
    before = training_digest(training_texts(tmp_path), embedder.identity)
    with open(tmp_path / OFF_TOPIC_FILES["general"], "a") as handle:
        handle.write("How do I descale a kettle?\n")
    after = training_digest(training_texts(tmp_path), embedder.identity)
    assert before != after
    assert read_text_lines(tmp_path / OFF_TOPIC_FILES["general"])[-1] == "How do I descale a kettle?"


@contextmanager
def one_thread() -> Iterator[None]:
    """Torch and BLAS on one thread: thirty small fits and a few hundred short texts run several
    times faster so than with threads that fight over a busy two-core machine."""
    import torch
    from threadpoolctl import threadpool_limits

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with threadpool_limits(1):
            yield
    finally:
        torch.set_num_threads(threads)


def test_training_on_a_quarter_of_the_texts_already_tells_clear_questions_apart(
    tmp_path: Path, embedder: Embedder
) -> None:
    # every fourth written question of each group and the cards of a few works: the whole
    # procedure (cross-validated threshold included) in seconds
    for name in (IN_DOMAIN_FILE, *OFF_TOPIC_FILES.values()):
        (tmp_path / name).write_text("\n".join(read_text_lines(TEXTS_DIR / name)[::4]) + "\n")
    with one_thread():
        written = [q.question for q in read_matching_questions()][::20]
        model = train_relevance(embedder, training_texts(tmp_path, read_bundled_corpus()[::20], written))
    clear = CLEARLY_ON_TOPIC + CLEARLY_OFF_TOPIC
    decisions = [model.is_relevant(v, q) for v, q in zip(embedder.encode(clear), clear, strict=True)]
    assert decisions == [True] * len(CLEARLY_ON_TOPIC) + [False] * len(CLEARLY_OFF_TOPIC)


@pytest.mark.slow
def test_retraining_reproduces_the_shipped_decisions(tmp_path: Path, embedder: Embedder) -> None:
    shipped = load_relevance(SHIPPED_WEIGHTS, embedder=embedder.identity)
    texts = training_texts()
    cached = embedder.with_cache(tmp_path / "vectors.sqlite")  # the training texts are embedded once
    retrained = train_relevance(cached, texts)
    assert retrained.digest == shipped.digest
    questions = NEAR_DOMAIN_OFF_TOPIC + TERSE_ON_TOPIC + list(texts.texts)
    probes = list(zip(cached.encode(questions), questions, strict=True))
    decisions = [(shipped.is_relevant(v, q), retrained.is_relevant(v, q)) for v, q in probes]
    assert all(a == b for a, b in decisions[: len(NEAR_DOMAIN_OFF_TOPIC + TERSE_ON_TOPIC)])
    assert np.mean([a == b for a, b in decisions]) >= 0.995
    assert not any(retrained.is_relevant(v, q) for v, q in probes[: len(NEAR_DOMAIN_OFF_TOPIC)])


def test_the_words_decide_where_the_embedding_alone_would_not(embedder: Embedder) -> None:
    # the word model's own vote points the right way on the words it was trained on...
    shipped = load_relevance(SHIPPED_WEIGHTS, embedder=embedder.identity)
    assert shipped.lexical_logit("how do I upscale an anime drawing 4x with esrgan?") > 0
    assert shipped.lexical_logit("which football team won the league last year?") < 0
    # ...and adds to the embedding's: the full logit is their weighted sum
    question = "remove compression artifacts"
    vector = embedder.encode([question])[0]
    embedding_only = dataclasses.replace(shipped, lexical_weight=0.0).logit(vector, question)
    assert shipped.logit(vector, question) == pytest.approx(
        embedding_only + shipped.lexical_weight * shipped.lexical_logit(question), abs=1e-5
    )


def test_saved_weights_load_back_with_the_same_decisions(tmp_path: Path, embedder: Embedder) -> None:
    shipped = load_relevance(SHIPPED_WEIGHTS, embedder=embedder.identity)
    copy = tmp_path / "relevance.npz"
    shipped.save(copy)
    loaded = load_relevance(copy, embedder=embedder.identity)
    vector = embedder.encode(["liif cell size?"])[0]
    assert loaded.logit(vector, "liif cell size?") == pytest.approx(
        shipped.logit(vector, "liif cell size?"), abs=1e-4
    )
    assert not list(tmp_path.glob("*.partial"))


def _corrupt(tmp_path: Path, how: str) -> Path:
    path = tmp_path / "weights.npz"
    if how == "missing":
        return tmp_path / "nowhere.npz"
    if how == "garbage":
        path.write_bytes(b"not a zip file at all")
        return path
    with np.load(SHIPPED_WEIGHTS, allow_pickle=False) as data:
        arrays = {name: data[name] for name in data.files}
    if how == "no-coef":
        del arrays["coef"]
    elif how == "short-coef":
        arrays["coef"] = arrays["coef"][:10]
    elif how == "short-lexical":
        arrays["lexical_coef"] = arrays["lexical_coef"][:10]
    elif how == "pickled":
        arrays["meta"] = np.array([{"format": 1}], dtype=object)
    np.savez(path, **arrays)
    return path


@pytest.mark.parametrize("how", ["missing", "garbage", "no-coef", "short-coef", "short-lexical", "pickled"])
def test_unusable_weights_are_one_clear_error(tmp_path: Path, embedder: Embedder, how: str) -> None:
    with pytest.raises(ZoomqaError, match=r"relevance weights .*zoomqa index train-relevance"):
        load_relevance(_corrupt(tmp_path, how), embedder=embedder.identity)


def test_weights_of_another_embedder_are_refused(embedder: Embedder) -> None:
    expected = "trained for embedder all-MiniLM-L6-v2@.* but the index uses other@1234"
    with pytest.raises(ZoomqaError, match=expected):
        load_relevance(SHIPPED_WEIGHTS, embedder="other@1234")


def test_configured_bad_weights_stop_search_with_one_line(
    indexed_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from zoomqa.config import get_settings

    monkeypatch.setenv("ZOOMQA_INDEX__RELEVANCE_WEIGHTS", str(_corrupt(tmp_path, "garbage")))
    get_settings.cache_clear()
    result = runner.invoke(app, ["search", "liif cell size?"])
    assert result.exit_code == 2
    assert "unreadable relevance weights" in result.output and "Traceback" not in result.output

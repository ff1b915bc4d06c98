"""HybridRetriever over the bundled knowledge base: the contract the answer writers rely on."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest
from langchain_core.retrievers import BaseRetriever

from zoomqa.errors import ZoomqaError
from zoomqa.index.embedding import Embedder, load_embedder
from zoomqa.index.manifest import MANIFEST
from zoomqa.index.metadata import Entry
from zoomqa.index.records import Record
from zoomqa.index.retrieval import CALIBRATED_MIN_RELEVANCE, MAX_QUESTION_CHARS, HybridRetriever
from zoomqa.index.store import BUNDLED_SOURCE, IndexStore

LIIF = "2012.09161"
EDSR = "1707.02921"


@pytest.fixture(scope="module")
def bundled_index(bundled_home: Path) -> Path:
    return bundled_home / "index"


@pytest.fixture(scope="module")
def retriever(bundled_index: Path) -> HybridRetriever:
    with HybridRetriever.open(bundled_index) as opened:
        yield opened


def test_it_is_a_langchain_retriever_that_exposes_its_embedder(retriever: HybridRetriever) -> None:
    assert isinstance(retriever, BaseRetriever)
    assert isinstance(retriever.embedder, Embedder)
    assert retriever.min_relevance == CALIBRATED_MIN_RELEVANCE
    assert retriever.classifier is not None  # the bundled cards are there: the relevance classifier decides


def test_the_flagship_question_finds_liif_in_both_blocks(retriever: HybridRetriever) -> None:
    result = retriever.search("I blew up an old photo 10x and it stayed crisp - how?")
    assert result.relevant and not result.nearest_topics
    assert all(h.record.kind == "model" for h in result.models) and all(
        h.record.kind == "paper" for h in result.papers
    )
    assert LIIF in {h.record.arxiv_id for h in result.papers[:3]}
    assert any(h.record.arxiv_id == LIIF and h.record.tool for h in result.models)


def test_blocks_are_ranked_bounded_relevant_and_unique(retriever: HybridRetriever) -> None:
    result = retriever.search("residual network without batch normalization for 4x super-resolution", k=3)
    assert 0 < len(result.models) <= 3 and 0 < len(result.papers) <= 3
    for block in (result.models, result.papers):
        scores = [h.score for h in block]
        assert scores == sorted(scores, reverse=True)
        assert all(h.similarity >= retriever.min_relevance for h in block)
    ids = [h.record.id for h in result.hits]
    assert len(ids) == len(set(ids))
    assert EDSR in {h.record.arxiv_id for h in result.papers}


def test_an_off_topic_question_is_refused_with_nearby_topics(retriever: HybridRetriever) -> None:
    result = retriever.search("how long should I boil an egg so the yolk stays runny?")
    assert not result.relevant
    assert result.models == () and result.papers == ()
    assert 1 <= len(result.nearest_topics) <= 5
    assert all(0 < len(topic) <= 80 for topic in result.nearest_topics)


def test_a_question_naming_a_bundled_work_is_answered_whatever_its_wording(bundled_index: Path) -> None:
    # With a floor no question reaches, only a name makes a question relevant: a coined one
    # ("Real-ESRGAN", "CodeFormer"), not a word the embedder knows as ordinary.
    with HybridRetriever.open(bundled_index, min_relevance=2.0) as strict:
        assert strict.search("how do I get Real-ESRGAN going on windows, no python skills").relevant
        assert strict.search("is codeformer free for my shop?").relevant
        assert not strict.search("how do I upscale a blurry photo of my dog?").relevant
        assert not strict.search("how much does a real estate agent charge?").relevant


def test_a_name_the_embedder_does_not_know_reaches_its_card_through_the_card_sentences(
    retriever: HybridRetriever,
) -> None:
    # The LPIPS summary's vector is 0.18 from this question, under the floor; its sentences are not.
    result = retriever.search("what is LPIPS and why do papers report it?")
    assert result.relevant
    assert result.papers[0].record.arxiv_id == "1801.03924"


def test_documents_follow_the_search_order_with_metadata(retriever: HybridRetriever) -> None:
    question = "how does LIIF decode a pixel coordinate into a colour?"
    result = retriever.search(question)
    documents = retriever.invoke(question)
    assert [d.metadata["id"] for d in documents] == [h.record.id for h in result.hits]
    first = documents[0]
    assert first.page_content == result.hits[0].record.summary
    assert first.metadata["block"] == "model" and first.metadata["kind"] == "model"
    assert {"score", "similarity", "title", "arxiv_id", "github", "year"} <= first.metadata.keys()
    assert documents[-1].metadata["block"] == "paper"


@pytest.mark.parametrize("question", ["", "   \n\t "])
def test_an_empty_question_is_an_error(retriever: HybridRetriever, question: str) -> None:
    with pytest.raises(ZoomqaError, match="empty"):
        retriever.search(question)


def test_a_long_question_is_truncated_and_a_huge_one_refused(
    retriever: HybridRetriever, caplog: pytest.LogCaptureFixture
) -> None:
    long_question = "How does arbitrary-scale super-resolution work? " * 40  # ~2,000 characters
    with caplog.at_level(logging.WARNING, logger="zoomqa.index.retrieval"):
        result = retriever.search(long_question)
    assert result.relevant and "truncated" in caplog.text
    with pytest.raises(ZoomqaError, match=str(MAX_QUESTION_CHARS)):
        retriever.search("x" * (MAX_QUESTION_CHARS + 1))


def test_opening_a_missing_index_says_how_to_build_one(tmp_path: Path) -> None:
    with pytest.raises(ZoomqaError, match="zoomqa index build"):
        HybridRetriever.open(tmp_path / "nowhere")


def test_opening_an_index_of_another_embedder_names_both(bundled_index: Path, tmp_path: Path) -> None:
    copy = tmp_path / "index"
    shutil.copytree(bundled_index, copy)
    manifest = next(copy.glob(f"gen-*/{MANIFEST}"))
    manifest.write_text(manifest.read_text().replace("all-MiniLM-L6-v2@", "paraphrase-MiniLM@"))
    with pytest.raises(
        ZoomqaError, match=r"built with embedder paraphrase-MiniLM@\w+ but .*all-MiniLM-L6-v2@"
    ):
        HybridRetriever.open(copy)


def test_the_same_paper_from_two_sources_appears_once_as_the_curated_card(tmp_path: Path) -> None:
    card = Record(
        id="paper:edsr",
        kind="paper",
        title="Enhanced Deep Residual Networks for Single Image Super-Resolution",
        authors=["Bee Lim"],
        year=2017,
        arxiv_id=EDSR,
        github="https://github.com/sanghyun-son/EDSR-PyTorch",
        summary="EDSR removes batch normalisation from residual blocks and wins the NTIRE 2017 super-resolution challenge.",
    )
    mapped = card.model_copy(update={"id": f"arxiv:{EDSR}", "github": None})
    other = Record(
        id="arxiv:1501.00092",
        kind="paper",
        title="Image Super-Resolution Using Deep Convolutional Networks",
        authors=["Chao Dong"],
        year=2014,
        arxiv_id="1501.00092",
        summary="SRCNN learns an end-to-end mapping from low- to high-resolution images with three convolutions.",
    )
    index_dir = tmp_path / "index"
    store = IndexStore(index_dir)
    embedder = load_embedder()
    store.upsert([Entry.of(mapped, "arxiv_cv.jsonl.gz"), Entry.of(other, "arxiv_cv.jsonl.gz")], embedder)
    store.upsert([Entry.of(card, BUNDLED_SOURCE)], embedder)
    with HybridRetriever.open(index_dir, min_relevance=0.0) as retriever:
        result = retriever.search("EDSR enhanced deep residual super-resolution without batch normalisation")
    assert [h.record.id for h in result.papers].count("paper:edsr") == 1
    assert f"arxiv:{EDSR}" not in [h.record.id for h in result.papers]
    assert result.papers[0].record.id == "paper:edsr"


def test_an_index_without_bundled_cards_is_about_what_it_holds(tmp_path: Path) -> None:
    papers = [
        Record(
            id=f"arxiv:1901.0000{i}",
            kind="paper",
            title=title,
            authors=["x"],
            year=2019,
            arxiv_id=f"1901.0000{i}",
            summary=summary,
        )
        for i, (title, summary) in enumerate(
            [
                (
                    "Pedestrian detection with anchor boxes",
                    "We detect pedestrians in street scenes with anchor boxes.",
                ),
                ("Sourdough fermentation kinetics", "We model how wild yeast raises bread dough over time."),
            ]
        )
    ]
    index_dir = tmp_path / "index"
    IndexStore(index_dir).upsert([Entry.of(p, "own.jsonl") for p in papers], load_embedder())
    with HybridRetriever.open(index_dir) as retriever:
        assert retriever.classifier is None  # trained on what the bundled cards cover, so not applied
        result = retriever.search("how fast does sourdough rise?")
    assert result.relevant and result.papers[0].record.id == "arxiv:1901.00001"


def test_relevance_is_judged_on_the_curated_cards_not_on_any_abstract(
    bundled_index: Path, tmp_path: Path
) -> None:
    copy = tmp_path / "index"
    shutil.copytree(bundled_index, copy)
    stocks = Record(
        id="arxiv:1901.00001",
        kind="paper",
        title="Which stocks to buy: predicting stock prices with CNNs",
        authors=["x"],
        year=2019,
        arxiv_id="1901.00001",
        summary="We predict which stocks will double in price next week from candlestick chart images.",
    )
    IndexStore(copy).upsert([Entry.of(stocks, "arxiv_cv.jsonl.gz")], load_embedder())
    with HybridRetriever.open(copy) as retriever:
        question = "which stocks should I buy this week to double my money?"
        assert retriever.best_similarity(question) < retriever.min_relevance
        assert not retriever.search(question).relevant
        assert retriever.search("can LIIF enlarge an image by a non-integer factor?").relevant


def test_a_lay_question_finds_the_card_whose_sentence_explains_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def card(name: str, summary: str, explains: list[str]) -> Record:
        return Record(
            id=f"paper:{name}",
            kind="paper",
            title=f"{name.title()}: photo upscaling",
            authors=["x"],
            year=2020,
            summary=summary,
            tasks=["4x upscaling"],
            explains=explains,
        )

    cards = [
        card(
            "alpha",
            "A generative adversarial network enlarges photos 4x with a perceptual loss.",
            [
                "Alpha can draw regular patterns on bricks or fabric that were never in the picture because its "
                "discriminator rewards any texture that looks real."
            ],
        ),
        card(
            "beta",
            "A generative adversarial network enlarges photos 4x with sharp realistic detail.",
            ["Beta runs in one forward pass, so it is fast on a laptop GPU."],
        ),
    ]
    index_dir = tmp_path / "index"
    IndexStore(index_dir).upsert([Entry.of(c, BUNDLED_SOURCE) for c in cards], load_embedder())
    question = "after upscaling, my photo had little made-up motifs on the wall; where did they come from?"

    def first() -> str:
        with HybridRetriever.open(index_dir, min_relevance=0.0) as retriever:
            return retriever.search(question).papers[0].record.id

    assert first() == "paper:alpha"
    monkeypatch.setattr("zoomqa.index.retrieval.SENTENCE_WEIGHT", 0.0)  # the summaries alone
    assert first() == "paper:beta"


def test_a_paper_added_while_the_retriever_is_open_is_found_without_reopening(
    bundled_index: Path, tmp_path: Path, embedder: Embedder
) -> None:
    """Chat and the Slack bot keep one retriever open; `zoomqa index add` in another process
    publishes a new generation, which the next search follows."""
    index_dir = tmp_path / "index"
    shutil.copytree(bundled_index, index_dir)
    question = "what is GlimmerNet for moonlit photo upscaling?"
    with HybridRetriever.open(index_dir) as retriever:
        before = retriever.search(question)
        assert "arxiv:2611.01234" not in [h.record.id for h in before.hits]
        added = Record(
            id="arxiv:2611.01234",
            kind="paper",
            title="GlimmerNet: super-resolution of moonlit photos",
            authors=["A. Author"],
            year=2026,
            arxiv_id="2611.01234",
            summary="GlimmerNet enlarges photos taken by moonlight 4x with a low-light super-resolution network.",
        )
        IndexStore(index_dir).upsert([Entry.of(added, "added.jsonl")], embedder)
        after = retriever.search(question)
        assert after.relevant and after.papers[0].record.id == "arxiv:2611.01234"  # named: first of its block

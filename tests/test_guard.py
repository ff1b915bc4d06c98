"""The grounding guard against hostile model output: invented links, invented papers, loops.

The chat model is LangChain's GenericFakeChatModel (it streams a canned reply word by word):
the boundary we do not own. Everything after it (parsing, guard, fallback) is the real path.
"""

from __future__ import annotations

import pytest
from langchain_core.language_models import GenericFakeChatModel
from langchain_core.messages import AIMessage

from zoomqa.agent.compose.answer import Answer
from zoomqa.agent.compose.grounding import GroundingGuard
from zoomqa.agent.compose.pipeline import Answerer
from zoomqa.agent.compose.writers import ChatWriter
from zoomqa.index.embedding import Embedder
from zoomqa.index.records import read_bundled_corpus
from zoomqa.index.results import Hit, SearchResult

QUESTION = "I blew up an old photo 10x and it stayed crisp — how is that even possible?"
SOURCES = ["SISR-Any-LIIF-EDSR", "paper:liif", "paper:edsr"]

GROUNDED_WITH_INVENTIONS = """Here is what happened.
Task: You enlarged an old photo ten times with arbitrary-scale super-resolution [1].
Input: An encoder network turns the low-resolution photo into a grid of feature vectors, see https://evil.example.com/liif-v2 and arXiv:2401.00001 [1].
Model: For every output pixel a small MLP reads the four nearest feature vectors, the pixel's coordinate and its size, and predicts the colour [9].
Model: This builds on the DeepZoom network of Smith et al. (2019), which first showed infinite zoom.
Model: It was refined in "Infinite Zoom Transformers for Gigapixel Photos", the state of the art.
Output: The photo comes out at any size, even 10x, from one low-resolution image; code at https://github.com/yinboc/liif.
Why: Because the output is a function of continuous coordinates rather than a fixed upsampling layer, one model serves every scale."""


@pytest.fixture(scope="module")
def result() -> SearchResult:
    records = {r.id: r for r in read_bundled_corpus()}
    hits = [Hit(records[i], score=1.0, similarity=0.6) for i in SOURCES]
    return SearchResult(
        question=QUESTION,
        models=tuple(h for h in hits if h.record.kind == "model"),
        papers=tuple(h for h in hits if h.record.kind == "paper"),
    )


def answer_with(reply: str, result: SearchResult, embedder: Embedder) -> Answer:
    writer = ChatWriter("local", GenericFakeChatModel(messages=iter([AIMessage(content=reply)])))
    return Answerer(writer, embedder, guard=GroundingGuard()).answer(result)


def all_text(answer: Answer) -> str:
    return " ".join(s.text for s in answer.statements)


def test_invented_links_ids_and_papers_are_removed_and_the_rest_kept(
    result: SearchResult, embedder: Embedder
) -> None:
    answer = answer_with(GROUNDED_WITH_INVENTIONS, result, embedder)
    assert answer.writer == "local" and answer.fallback_reason is None
    text = all_text(answer)
    assert "evil.example.com" not in text and "2401.00001" not in text
    assert "Smith" not in text and "Infinite Zoom Transformers" not in text
    assert "An encoder network turns the low-resolution photo into a grid of feature vectors." in text
    notes = " ".join(answer.guard_notes)
    for removed in ("evil.example.com", "2401.00001", "Smith et al", "Infinite Zoom Transformers"):
        assert removed in notes
    assert "removed a link no source carries: https://github.com/yinboc/liif" not in notes  # ours stays
    # Claim-level grounding (issue 24) changed these expectations: the encoder sentence is the LIIF
    # paper's [2], not the card's [1] it cites, so its citation is moved, with a note; the
    # uncited Output line (cosine 0.70 at best) is dropped and only that part is taken from the
    # extractive answer, where the guard used to keep it at the old any-source floor of 0.575.
    assert "moved citation [1] to [2]" in notes
    assert "the output part had no supported sentence: it is taken from the extractive answer" in notes
    assert {step.stage for step in answer.steps} == {"input", "model", "output", "why"}


def test_every_kept_sentence_cites_a_retrieved_source(result: SearchResult, embedder: Embedder) -> None:
    answer = answer_with(GROUNDED_WITH_INVENTIONS, result, embedder)
    cited = {n for s in answer.statements for n in s.sources}
    assert cited and cited <= {s.number for s in answer.sources}  # the model's [9] is gone
    assert [s.id for s in answer.sources] == [
        "SISR-Any-LIIF-EDSR",
        "paper:edsr",
    ]  # paper:liif is the card's work


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        pytest.param(
            "Task: Upscaling.\n"
            + "Input: The image is the image is the image is the image is the image.\n" * 3,
            "repetitive output",
            id="repetition-loop",
        ),
        pytest.param(
            "Task: the task the person is doing, in their own situation.\nInput: what goes into the "
            "recommended model.\nModel: what the model computes from it.\nOutput: what comes out.",
            "no supported sentence left",
            id="template-echo",
        ),
        pytest.param(
            "Task: A task is a set of instructions that must be executed in order.\n"
            "Input: This is a classic example of a mathematical puzzle about linear algebra.\n"
            "Model: The model computes what is called a linear transformation of the stock market.\n"
            "Output: The result can only happen if the domain is a continuous function of money.",
            "no supported sentence left",
            id="fluent-nonsense",
        ),
        pytest.param(
            "LIIF turns the photo into features and an MLP predicts each pixel from its coordinate.",
            "off-format output",
            id="no-labels",
        ),
    ],
)
def test_unusable_output_falls_back_to_the_extractive_answer(
    reply: str, reason: str, result: SearchResult, embedder: Embedder
) -> None:
    answer = answer_with(reply, result, embedder)
    assert answer.writer == "extractive" and answer.requested_writer == "local"
    assert answer.fallback_reason is not None and answer.fallback_reason.startswith(reason)
    assert "MLP" in all_text(answer)  # the extractive explanation of LIIF took its place
    assert answer.timings.first_token_s is not None  # the model did stream before it was rejected

"""The extractive writer and the answer path on real bundled records and the real embedder."""

from __future__ import annotations

import json

import pytest
from langchain_core.language_models import GenericFakeChatModel

from zoomqa.agent.answer import REQUIRED_STAGES, Answer
from zoomqa.agent.answering import Answerer
from zoomqa.agent.extractive import ExtractiveWriter
from zoomqa.agent.render import render_json, render_markdown, render_slack
from zoomqa.agent.writers import ChatWriter
from zoomqa.index.embedding import Embedder
from zoomqa.index.records import Record, read_bundled_corpus
from zoomqa.index.results import Hit, SearchResult

TEN_X = "I blew up an old photo 10x and it stayed crisp — how is that even possible?"


@pytest.fixture(scope="module")
def records() -> dict[str, Record]:
    return {r.id: r for r in read_bundled_corpus()}


def search_result(records: dict[str, Record], question: str, ids: list[str]) -> SearchResult:
    """A search result holding these bundled records, in this order (as a retriever would rank them)."""
    hits = [Hit(records[i], score=1.0 - n / 10, similarity=0.6) for n, i in enumerate(ids)]
    return SearchResult(
        question=question,
        models=tuple(h for h in hits if h.record.kind == "model"),
        papers=tuple(h for h in hits if h.record.kind == "paper"),
    )


@pytest.fixture(scope="module")
def ten_x_answer(records: dict[str, Record], embedder: Embedder) -> tuple[SearchResult, Answer]:
    # An old-photo restoration tool ranked first, as retrieval does for "old photo": the answer
    # must still explain the method that matches the person's situation (blown up 10x).
    ids = ["OldPhoto-BOPBtL", "SISR-Any-LIIF-EDSR", "paper:old-photos", "paper:liif", "paper:edsr"]
    result = search_result(records, TEN_X, ids)
    return result, Answerer(ExtractiveWriter(), embedder).answer(result)


def test_every_sentence_is_quoted_from_the_source_it_cites(
    ten_x_answer: tuple[SearchResult, Answer], records: dict[str, Record]
) -> None:
    result, answer = ten_x_answer
    framing, *quoted = answer.statements
    assert TEN_X in framing.text
    assert quoted
    for statement in quoted:
        (number,) = statement.sources
        summary = records[answer.sources[number - 1].id].summary
        # a clause of a sentence gains a capital letter and a full stop; the words are the source's
        assert statement.text[1:].rstrip(".") in summary


def test_explains_the_method_that_fits_the_situation(ten_x_answer: tuple[SearchResult, Answer]) -> None:
    _, answer = ten_x_answer
    assert {step.stage for step in answer.steps} >= set(REQUIRED_STAGES)
    explained = {
        answer.sources[n - 1].id for step in answer.steps for s in step.statements for n in s.sources
    }
    assert explained <= {"SISR-Any-LIIF-EDSR", "paper:liif"}
    how = " ".join(s.text for step in answer.steps for s in step.statements)
    assert "MLP" in how and "coordinate" in how


def test_sources_are_the_retrieved_records_with_their_own_links(
    ten_x_answer: tuple[SearchResult, Answer], records: dict[str, Record]
) -> None:
    result, answer = ten_x_answer
    assert [s.id for s in answer.sources] == [h.record.id for h in result.hits]
    assert [s.number for s in answer.sources] == list(range(1, len(result.hits) + 1))
    for source in answer.sources:
        assert source.links == records[source.id].links
        assert source.why and source.why.rstrip("…")[:40] in records[source.id].summary
    assert answer.sources[1].tool == "liif-edsr"


def test_renderings_carry_the_three_parts_and_every_link(ten_x_answer: tuple[SearchResult, Answer]) -> None:
    _, answer = ten_x_answer
    markdown, slack = render_markdown(answer), render_slack(answer)
    for heading in ("### Task", "### How it works", "### Papers and tools"):
        assert heading in markdown
    for source in answer.sources:
        for url in source.links.values():
            assert url in markdown
            assert f"<{url}|" in slack
    assert Answer.model_validate_json(render_json(answer)) == answer
    assert json.loads(render_json(answer))["writer"] == "extractive"


def test_slack_rendering_escapes_the_question(records: dict[str, Record], embedder: Embedder) -> None:
    question = "<!channel> how does LIIF <b>upscale</b> & stay sharp?"
    result = search_result(records, question, ["SISR-Any-LIIF-EDSR", "paper:liif"])
    slack = render_slack(Answerer(ExtractiveWriter(), embedder).answer(result))
    assert "<!channel>" not in slack and "&lt;!channel&gt;" in slack


def test_nothing_relevant_is_said_plainly_without_calling_a_model(embedder: Embedder) -> None:
    # The fake model has no reply to give: calling it would raise.
    silent = ChatWriter("openai", GenericFakeChatModel(messages=iter([])))
    result = SearchResult(
        question="how long should I boil an egg?",
        relevant=False,
        nearest_topics=("arbitrary-scale super-resolution", "JPEG artifact removal"),
    )
    answer = Answerer(silent, embedder).answer(result)
    assert not answer.relevant and not answer.sources and not answer.steps
    assert answer.writer == "none" and answer.requested_writer == "openai"
    (message,) = answer.task
    assert "how long should I boil an egg?" in message.text
    assert "arbitrary-scale super-resolution, JPEG artifact removal" in message.text
    assert render_markdown(answer).startswith("### Nothing relevant found")

"""Reading a chat model's reply into parts, and cutting text into sentences."""

from __future__ import annotations

from zoomqa.agent.compose.writers import parse_labelled_answer
from zoomqa.index.sentences import citations, split_clauses, split_sentences, strip_citations


def test_sentences_survive_abbreviations_decimals_and_citations() -> None:
    text = "LIIF (Chen et al. 2021) scales by 2.7x. It uses e.g. an MLP [1]. Why? Because [2] it works."
    assert split_sentences(text) == [
        "LIIF (Chen et al. 2021) scales by 2.7x.",
        "It uses e.g. an MLP [1].",
        "Why?",
        "Because [2] it works.",
    ]


def test_semicolon_clauses_split_only_when_each_stands_alone() -> None:
    long = "An encoder turns the photo into a feature grid; a small MLP then predicts every output pixel."
    assert split_clauses(long) == [
        "An encoder turns the photo into a feature grid.",
        "A small MLP then predicts every output pixel.",
    ]
    assert split_clauses("Fast; accurate and small for most photos.") == [
        "Fast; accurate and small for most photos."
    ]


def test_citation_markers() -> None:
    assert citations("A [2] and B [1, 3] then [2].") == (2, 1, 3)
    assert strip_citations("Sharp at 10x [1][2].") == "Sharp at 10x."


def test_labelled_reply_with_markdown_decoration_and_continuation_lines() -> None:
    reply = (
        "Sure! Here is the answer.\n"
        "**Task:** Enlarging a photo 10x [1].\n"
        "- Input: A low-resolution photo.\n"
        "## Model — An encoder and an MLP [2]. It reads coordinates.\n"
        "  It also reads the cell size.\n"
        "Output: A large image.\n"
    )
    draft = parse_labelled_answer(reply)
    assert [s.text for s in draft.task] == ["Enlarging a photo 10x."]
    assert draft.task[0].sources == (1,)
    stages = {step.stage: [s.text for s in step.statements] for step in draft.steps}
    assert stages == {
        "input": ["A low-resolution photo."],
        "model": ["An encoder and an MLP.", "It reads coordinates.", "It also reads the cell size."],
        "output": ["A large image."],
    }
    assert draft.missing_parts() == []


def test_prose_without_labels_is_missing_every_part() -> None:
    draft = parse_labelled_answer("LIIF is a method. It predicts colours from coordinates.")
    assert draft.missing_parts() == ["task", "input", "model", "output"]

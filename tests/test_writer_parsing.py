"""Reading a chat model's reply into parts, and cutting text into sentences."""

from __future__ import annotations

import pytest

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


MARKDOWN_REPLY = """Great question! Here is what happened.

### Task
You enlarged an old photo 10x and it stayed crisp [1].

### How it works
1. **Input**: A low-resolution RGB photo plus the wanted output size [1].
2. **Model**: An encoder turns the photo into feature vectors [1]. An MLP predicts each pixel [2].
3. **Output**: An RGB image of exactly the requested size [1].

**Why it stayed crisp:**
- Each output pixel is decoded at its exact position [1]
- The local ensemble blends four predictions [1]

### Papers and tools
- [1] LIIF with EDSR-baseline encoder
"""


def test_markdown_headings_numbered_bold_labels_and_bullets() -> None:
    draft = parse_labelled_answer(MARKDOWN_REPLY)
    assert [(s.text, s.sources) for s in draft.task] == [
        ("You enlarged an old photo 10x and it stayed crisp.", (1,))
    ]
    stages = {step.stage: [(s.text, s.sources) for s in step.statements] for step in draft.steps}
    assert stages == {
        "input": [("A low-resolution RGB photo plus the wanted output size.", (1,))],
        "model": [
            ("An encoder turns the photo into feature vectors.", (1,)),
            ("An MLP predicts each pixel.", (2,)),
        ],
        "output": [("An RGB image of exactly the requested size.", (1,))],
        # each bullet is a sentence of its own; the list of papers is not part of the answer
        "why": [
            ("Each output pixel is decoded at its exact position.", (1,)),
            ("The local ensemble blends four predictions.", (1,)),
        ],
    }
    assert draft.missing_parts() == []


@pytest.mark.parametrize(
    "reply",
    [
        "TASK: Removing JPEG blocks [2].\nWHY: FBCNN predicts the quality factor [2].",
        "**Task**\nRemoving JPEG blocks [2].\n\n**Why**\nFBCNN predicts the quality factor [2].",
        "**Task**: Removing JPEG blocks [2].\n**How it works**: FBCNN predicts the quality factor [2].",
        "### task\nRemoving JPEG blocks [2].\n### how it works\nFBCNN predicts the quality factor [2].",
        "## Your task — Removing JPEG blocks [2].\n- **What answers your question:** FBCNN predicts the quality factor [2].",
        "**Task: Removing JPEG blocks [2].**\n**Why** FBCNN predicts the quality factor [2].",
    ],
    ids=["upper-case", "bold-lines", "bold-labels", "lower-case-headings", "display-names", "bold-wrapped"],
)
def test_every_way_a_model_names_the_parts(reply: str) -> None:
    draft = parse_labelled_answer(reply, workflow_required=False)
    assert [s.text for s in draft.task] == ["Removing JPEG blocks."]
    assert [(s.stage, [t.text for t in s.statements]) for s in draft.steps] == [
        ("why", ["FBCNN predicts the quality factor."])
    ]
    assert draft.missing_parts() == []


def test_input_model_output_are_optional_only_when_the_question_does_not_ask_how() -> None:
    reply = "Task: Removing JPEG blocks [2].\nWhy: FBCNN predicts the quality factor [2]."
    assert parse_labelled_answer(reply, workflow_required=False).missing_parts() == []
    assert parse_labelled_answer(reply, workflow_required=True).missing_parts() == [
        "input",
        "model",
        "output",
    ]
    # once a draft is cleaned (no flag), a workflow begun is a workflow owed in full
    partial = parse_labelled_answer(reply + "\nModel: FBCNN decouples the quality factor [2].")
    assert partial.model_copy(update={"workflow_required": None}).missing_parts() == ["input", "output"]
    task_only = parse_labelled_answer("Task: Removing JPEG blocks [2].", workflow_required=False)
    assert task_only.missing_parts() == ["why"]


def test_words_that_only_begin_like_a_label_are_not_labels() -> None:
    reply = (
        "Task: Enlarging a photo [1].\n"
        "Input-output pairs come from DIV2K [1].\n"  # no label: continues the task
        "### Modelling notes\n"  # another heading: what follows is not the answer
        "Model sizes vary [1].\n"
    )
    draft = parse_labelled_answer(reply, workflow_required=False)
    assert [s.text for s in draft.task] == ["Enlarging a photo.", "Input-output pairs come from DIV2K."]
    assert draft.steps == ()

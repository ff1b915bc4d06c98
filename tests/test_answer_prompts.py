"""Prompt templates: loaded by name, overridable from a user folder, never silently half-filled."""

from __future__ import annotations

from pathlib import Path

import pytest

from zoomqa.errors import ZoomqaError
from zoomqa.prompts import load_prompt, prompt_path


def test_bundled_answer_prompt_holds_the_sources_their_passages_the_suggestion_and_the_format() -> None:
    text = load_prompt(
        "answer",
        question="Q?",
        sources="[1] M (2021)",
        passages="[1] facts: M has 1.6 million parameters.",
        anchor="1",
        evidence="[1] workflow.input: an image",
        workflow=load_prompt("answer_workflow", anchor="1"),
    )
    assert "Sources, numbered:\n[1] M (2021)" in text
    assert "[1] facts: M has 1.6 million parameters." in text
    assert "The offline composer would explain [1] with these points" in text and "suggestion" in text
    assert "[1] workflow.input: an image" in text
    assert "only" in text and "Q?" in text and "like [2]" in text
    for label in ("Task:", "Input:", "Model:", "Output:", "Why:"):
        assert f"\n{label} " in text


def test_the_workflow_parts_are_optional_for_other_questions() -> None:
    optional = load_prompt("answer_workflow_optional", anchor="1")
    assert "only if they help" in optional and "all three or none" in optional


def test_the_translation_prompt_names_the_language_and_keeps_the_numbering() -> None:
    text = load_prompt("translate", language="de", message="Warum?", lines="1. A.\n2. B.")
    assert '"de"' in text and "Warum?" in text and text.endswith("1. A.\n2. B.")


def test_a_user_folder_replaces_a_template_by_name(tmp_path: Path) -> None:
    (tmp_path / "refusal.txt").write_text("Nope: $question ($topics), costs $$0.", encoding="utf-8")
    assert load_prompt("refusal", tmp_path, question="eggs?", topics="SR") == "Nope: eggs? (SR), costs $0."
    # templates the folder does not have still come from the package
    assert prompt_path("system", tmp_path).parent != tmp_path


def test_a_placeholder_zoomqa_does_not_fill_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "task.txt").write_text("Task: $task for $user", encoding="utf-8")
    with pytest.raises(ZoomqaError, match=r"\$user.*available: \$task"):
        load_prompt("task", tmp_path, task="x")


@pytest.mark.parametrize("name", ["../secrets", "System", "a/b", ""])
def test_prompt_names_cannot_reach_outside_the_folder(name: str) -> None:
    with pytest.raises(ZoomqaError, match="invalid prompt name"):
        load_prompt(name)


def test_unknown_template_is_named() -> None:
    with pytest.raises(ZoomqaError, match="no prompt template named 'nonexistent'"):
        load_prompt("nonexistent")

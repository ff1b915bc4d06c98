"""Prompt templates: loaded by name, overridable from a user folder, never silently half-filled."""

from __future__ import annotations

from pathlib import Path

import pytest

from zoomqa.errors import ZoomqaError
from zoomqa.prompts import load_prompt, prompt_path


def test_bundled_answer_prompt_holds_the_sources_the_labelled_evidence_and_the_rule() -> None:
    text = load_prompt(
        "answer", question="Q?", sources="[1] M (2021)", anchor="1", evidence="[1] workflow.input: an image"
    )
    assert "Sources:\n[1] M (2021)" in text
    assert "[1] workflow.input: an image" in text
    assert "the work to explain is [1]" in text
    assert "only" in text and "Q?" in text


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

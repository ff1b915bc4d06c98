"""The vocabulary file: question analysis reads the person's conditions from it, so a new way of
saying one is a line of data; a malformed file fails with one message."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from zoomqa.agent.understand import question
from zoomqa.agent.understand.question import analyse
from zoomqa.agent.understand.vocabulary import VOCABULARY_FILE, vocabulary
from zoomqa.errors import ZoomqaError


def test_every_condition_and_intent_the_code_reads_is_in_the_file() -> None:
    words = vocabulary()
    source = (
        Path(question.__file__).read_text()
        + Path(question.__file__).with_name("..").joinpath("compose", "anchor.py").read_text()
    )
    used = set(re.findall(r'condition\("(\w+)"\)', source)) | set(question.DAMAGE_KINDS)
    assert used <= set(words.conditions), used - set(words.conditions)
    assert [name for name, _ in words.intents] == ["compare", "which", "why", "data", "can", "what"]


def test_the_conditions_are_read_from_the_file() -> None:
    c = analyse("my grandma's faded scan is full of jpeg blocks, no gpu here, what should I use?").constraints
    assert "jpeg" in c.damage and "old_photo" in c.damage and c.cpu_only
    assert analyse("which model should I use?").intent == "which"


def test_a_word_added_to_the_file_is_understood(tmp_path: Path) -> None:
    text = VOCABULARY_FILE.read_text(encoding="utf-8")
    data = tomllib.loads(text)
    assert "thermal" not in data["conditions"]["noise"]["words"]
    changed = tmp_path / "vocabulary.toml"
    changed.write_text(
        text.replace("[conditions.noise]\n", "[conditions.noise]\n# test\n").replace(
            'words = [\n    "nois(e|y)",', 'words = [\n    "sensor hiss",\n    "nois(e|y)",', 1
        ),
        encoding="utf-8",
    )
    assert vocabulary(changed).condition("noise").search("the sensor hiss ruins it")
    assert not vocabulary().condition("noise").search("the sensor hiss ruins it")


def test_a_malformed_file_fails_with_one_message(tmp_path: Path) -> None:
    broken = tmp_path / "vocabulary.toml"
    broken.write_text('[conditions.jpeg]\nwords = ["(unclosed"]\n', encoding="utf-8")
    with pytest.raises(ZoomqaError, match="vocabulary file .* is malformed"):
        vocabulary(broken)


def test_an_enlarge_verb_added_to_the_file_makes_a_request(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from zoomqa.agent.turn import enlarge_requests

    text = VOCABULARY_FILE.read_text(encoding="utf-8")
    changed = tmp_path / "vocabulary.toml"
    changed.write_text(
        text.replace('verbs = [\n    "up-?scale",', 'verbs = [\n    "supersize",\n    "up-?scale",', 1)
    )
    assert enlarge_requests.parse_request("supersize cat.png") == []
    monkeypatch.setattr(enlarge_requests, "vocabulary", lambda: vocabulary(changed))
    enlarge_requests._patterns.cache_clear()
    try:
        (request,) = enlarge_requests.parse_request("supersize cat.png")
        assert request.path == "cat.png" and request.scale == enlarge_requests.DEFAULT_SCALE
        assert enlarge_requests.parse_request("I supersized cat.png") == []  # another word, not the verb
    finally:
        monkeypatch.undo()
        enlarge_requests._patterns.cache_clear()

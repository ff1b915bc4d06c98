"""Typed traits: every bundled card has them, unknown values are refused at load, and a sample
of values matches what the cards say."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from zoomqa.errors import ZoomqaError
from zoomqa.index import records
from zoomqa.index.records import Record, read_bundled_corpus, read_records
from zoomqa.index.traits import Traits

CARDS = {card.id: card for card in read_bundled_corpus()}

UPSCALER = {
    "role": "method",
    "handles": ["photos"],
    "scale": "any",
    "factors": [],
    "output": "faithful",
    "hardware": "cpu",
    "speed": "fast",
}
CARD = {
    "id": "SISR-Any-LIIF-EDSR",
    "kind": "model",
    "title": "LIIF with an EDSR-baseline encoder",
    "authors": ["Yinbo Chen"],
    "year": 2021,
    "arxiv_id": "2012.09161",
    "summary": "Enlarges a photo to any scale.",
    "implements": "2012.09161",
    "traits": UPSCALER,
}


def traits(card_id: str) -> Traits:
    found = CARDS[card_id].traits
    assert found is not None
    return found


@pytest.mark.parametrize("card", CARDS.values(), ids=lambda card: card.id)
def test_every_bundled_card_has_traits(card: Record) -> None:
    assert card.traits is not None


@pytest.mark.parametrize(
    ("card_id", "field", "expected"),
    [
        ("SISR-Any-LIIF-EDSR", "scale", "any"),
        ("SISR-x4-Real-ESRGAN", "output", "generative"),
        ("metric:psnr", "role", "metric"),
        ("dataset:div2k", "role", "dataset"),
        ("paper:perception-distortion", "role", "concept"),
        ("paper:dualaug", "role", "other"),
        ("SISR-x4-StableSR", "speed", "slow"),
        ("SISR-x4-StableSR", "hardware", "gpu"),
        ("paper:stablesr", "speed", "slow"),
        ("paper:stablesr", "hardware", "gpu"),
        ("paper:edsr", "scale", "fixed"),
        ("JPEG-FBCNN", "scale", "none"),
    ],
)
def test_known_traits(card_id: str, field: str, expected: str) -> None:
    assert getattr(traits(card_id), field) == expected


def test_known_handles_and_factors() -> None:
    assert traits("SISR-Any-LIIF-EDSR").hardware in ("cpu", "either")
    assert "jpeg" in traits("JPEG-FBCNN").handles and "jpeg" in traits("paper:fbcnn").handles
    assert "faces" in traits("Face-GFPGAN").handles and "faces" in traits("paper:gfpgan").handles
    assert "illustrations" in traits("SISR-x4-Real-ESRGAN").handles
    assert traits("paper:edsr").factors == [2, 3, 4]
    assert traits("SISR-x4-ESRGAN").factors == [4]


def test_traits_agree_with_the_card_kind() -> None:
    """Runnable model cards are image methods; datasets and metrics neither enlarge nor run."""
    for card in CARDS.values():
        found = traits(card.id)
        if card.kind == "model":
            assert found.role in ("method", "tool"), card.id
        if found.role in ("dataset", "metric", "concept", "other"):
            assert (found.handles, found.scale, found.output) == ([], "none", "none"), card.id


def write_card(path: Path, card: dict[str, object]) -> Path:
    path.write_text(json.dumps(card) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"role": "wizard"}, "traits.role: Input should be 'method', 'tool', 'dataset'"),
        ({"handles": ["photos", "paintings"]}, "traits.handles.1: Input should be 'photos'"),
        ({"speed": "quick"}, "traits.speed: Input should be 'fast', 'moderate', 'slow' or 'none'"),
        ({"colour": "yes"}, "traits.colour: Extra inputs are not permitted"),
        ({"factors": ["4"]}, "traits.factors.0: Input should be a valid integer"),
        ({"factors": [4]}, "factors belong to scale 'fixed' only, not 'any'"),
        ({"output": "none"}, "a method must set output"),
        ({"role": "dataset"}, "a dataset card is not an image method: handles, scale, output"),
    ],
)
def test_unknown_or_inconsistent_values_are_refused_at_load(
    tmp_path: Path, change: dict[str, object], message: str
) -> None:
    path = write_card(tmp_path / "cards.jsonl", {**CARD, "traits": {**UPSCALER, **change}})
    with pytest.raises(ZoomqaError) as excinfo:
        read_records(path)
    assert f"{path}:1: " in str(excinfo.value)
    assert message in str(excinfo.value)


def test_records_without_traits_load_and_hash_as_before() -> None:
    """Records from arXiv have no traits; leaving them out keeps their content hash."""
    bare = {key: value for key, value in CARD.items() if key != "traits"}
    record = Record.model_validate(bare)
    assert record.traits is None
    assert record.content_hash() == Record.model_validate({**bare, "traits": None}).content_hash()
    assert record.content_hash() != Record.model_validate(CARD).content_hash()


def test_traits_survive_the_record_table_round_trip() -> None:
    card = Record.model_validate(CARD)
    assert Record.model_validate_json(card.model_dump_json(exclude_defaults=True)) == card


def test_a_bundled_card_without_traits_is_an_error_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bare = {key: value for key, value in CARD.items() if key != "traits"}
    path = tmp_path / "cards.jsonl"
    path.write_text(json.dumps(CARD) + "\n" + json.dumps({**bare, "id": "card-without-traits"}) + "\n")
    monkeypatch.setattr(records, "bundled_corpus_files", lambda: [path])
    with pytest.raises(ZoomqaError, match=r"without traits: 'card-without-traits'$"):
        read_bundled_corpus()

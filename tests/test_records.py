"""The record schema: good files import whole, bad files import nothing and say where."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from zoomqa.errors import ZoomqaError
from zoomqa.index.records import Record, normalise_arxiv_id, read_bundled_corpus, read_records

GOOD = {
    "id": "SISR-Any-LIIF-EDSR",
    "kind": "model",
    "title": "LIIF with an EDSR-baseline encoder",
    "authors": ["Yinbo Chen", "Sifei Liu", "Xiaolong Wang"],
    "year": 2021,
    "arxiv_id": "2012.09161",
    "github": "https://github.com/yinboc/liif",
    "summary": "Enlarges a photo to any scale.",
    "tasks": ["arbitrary-scale super-resolution"],
    "implements": "2012.09161",
    "tool": "liif-edsr",
}

V2 = {
    "task": "Enlarging a photo to any size, including non-integer factors like 3.7x.",
    "workflow": {
        "input": "A low-resolution RGB image and the wanted output size.",
        "model": "An EDSR-baseline encoder turns the image into a feature grid. An MLP predicts each "
        "output pixel's colour from nearby features, its coordinate and its size (cell).",
        "output": "An image of exactly the requested size.",
    },
    "explains": ["LIIF serves every scale because it predicts colours at continuous coordinates."],
    "facts": ["LIIF is trained with an L1 loss on DIV2K.", "LIIF-EDSR runs on a CPU (slowly)."],
}


def write_jsonl(path: Path, rows: list[object]) -> Path:
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n")
    return path


def test_good_file_imports(tmp_path: Path) -> None:
    paper = {**GOOD, "id": "paper-liif", "kind": "paper", "implements": None, "tool": None}
    records = read_records(write_jsonl(tmp_path / "a.jsonl", [GOOD, paper]))
    assert [r.id for r in records] == ["SISR-Any-LIIF-EDSR", "paper-liif"]
    assert records[0].links == {
        "arxiv": "https://arxiv.org/abs/2012.09161",
        "github": "https://github.com/yinboc/liif",
    }


def test_bad_lines_are_all_reported_and_nothing_imported(tmp_path: Path) -> None:
    rows = [
        GOOD,
        "{not json",
        {**GOOD, "id": "x2", "kind": "paper"},  # a paper may not implement anything
        {**GOOD, "id": "x3", "github": "https://gitlab.com/a/b"},
        {**GOOD, "id": "x4", "year": "soon"},
        GOOD,  # duplicate id
    ]
    path = write_jsonl(tmp_path / "bad.jsonl", rows)
    with pytest.raises(ZoomqaError) as info:
        read_records(path)
    message = str(info.value)
    assert "5 invalid line(s); nothing was imported" in message
    for line in (2, 3, 4, 5, 6):
        assert f"{path}:{line}:" in message
    assert "duplicate id 'SISR-Any-LIIF-EDSR' (first on line 1)" in message
    assert "not a GitHub repository URL" in message


def test_v2_card_fields_import(tmp_path: Path) -> None:
    spaced = {**V2, "facts": ["  LIIF is trained with an L1 loss\ton DIV2K.  ", *V2["facts"][1:]]}
    (card,) = read_records(write_jsonl(tmp_path / "card.jsonl", [{**GOOD, **spaced}]))
    assert card.task == V2["task"]
    assert card.workflow is not None and card.workflow.output == "An image of exactly the requested size."
    assert card.explains == V2["explains"]
    assert card.facts == V2["facts"]  # whitespace collapsed
    assert card.embedding_text() == Record.model_validate(GOOD).embedding_text()
    bare = Record.model_validate(GOOD)
    assert (bare.task, bare.workflow, bare.explains, bare.facts) == (None, None, [], [])


def test_bad_v2_fields_are_reported_by_line_and_field(tmp_path: Path) -> None:
    flow = V2["workflow"]
    rows = [
        {**GOOD, **V2},
        {**GOOD, "id": "t2", "task": "Two sentences. Here is the second."},
        {**GOOD, "id": "t3", "facts": ["A fact.", "   "]},
        {**GOOD, "id": "t4", "explains": ["No full stop at the end"]},
        {**GOOD, "id": "t5", "facts": ["A" * 300 + "."]},
        {**GOOD, "id": "t6", "workflow": {**flow, "model": "One. Two. Three. Four. Five."}},
        {**GOOD, "id": "t7", "workflow": {**flow, "output": ""}},
        {**GOOD, "id": "t8", "workflow": {**flow, "weights": "x."}},
        {**GOOD, "id": "t9", "facts": ["LIIF is **fast**."]},
        {**GOOD, "id": "t10", "explains": ["LIIF is fast."], "facts": ["liif is fast."]},
        {**GOOD, "id": "t11", "explains": "LIIF is fast."},
    ]
    path = write_jsonl(tmp_path / "cards.jsonl", rows)
    with pytest.raises(ZoomqaError) as info:
        read_records(path)
    message = str(info.value)
    assert "10 invalid line(s); nothing was imported" in message
    expected = {
        2: "task: must be one sentence, found 2",
        3: "facts.1: must not be blank",
        4: "explains.0: sentence must end with '.', '!' or ')'",
        5: "facts.0: sentence longer than 300 characters",
        6: "workflow.model: must be at most 4 sentences, found 5",
        7: "workflow.output: must not be blank",
        8: "workflow.weights: Extra inputs are not permitted",
        9: "facts.0: must be plain prose on one line, no markdown",
        10: "sentence appears twice in explains/facts: 'liif is fast.'",
        11: "explains: Input should be a valid list",
    }
    for line, what in expected.items():
        assert f"{path}:{line}: {what}" in message


def test_model_must_name_its_paper(tmp_path: Path) -> None:
    with pytest.raises(ZoomqaError, match="must name the paper it implements"):
        read_records(write_jsonl(tmp_path / "m.jsonl", [{**GOOD, "implements": None}]))


def test_arxiv_metadata_is_mapped_on_the_fly(tmp_path: Path) -> None:
    line = {
        "arxiv_id": "1707.02921v1",
        "title": "Enhanced Deep Residual Networks\n for Single Image Super-Resolution",
        "authors": ["Bee Lim"],
        "abstract": "Recent research  on super-resolution...",
        "categories": ["cs.CV"],
        "date": "2017-07-10",
        "github": ["https://github.com/thstkdgus35/EDSR-PyTorch"],
        "year": 2017,
    }
    path = tmp_path / "cv.jsonl.gz"
    with gzip.open(path, "wt") as handle:
        handle.write(json.dumps(line) + "\n")
    (record,) = read_records(path)
    assert record.id == "arxiv:1707.02921"
    assert record.kind == "paper"
    assert record.title == "Enhanced Deep Residual Networks for Single Image Super-Resolution"
    assert record.summary == "Recent research on super-resolution..."
    assert record.github == "https://github.com/thstkdgus35/EDSR-PyTorch"


def test_unreadable_and_empty_files(tmp_path: Path) -> None:
    with pytest.raises(ZoomqaError, match="no such file"):
        read_records(tmp_path / "missing.jsonl")
    (tmp_path / "empty.jsonl").write_text("\n")
    with pytest.raises(ZoomqaError, match="holds no records"):
        read_records(tmp_path / "empty.jsonl")
    (tmp_path / "binary.jsonl.gz").write_bytes(b"\x1f\x8b not really gzip")
    with pytest.raises(ZoomqaError, match="cannot read"):
        read_records(tmp_path / "binary.jsonl.gz")


@pytest.mark.parametrize(
    ("raw", "bare"),
    [
        ("arXiv:2012.09161v2", "2012.09161"),
        ("https://arxiv.org/abs/1802.08797", "1802.08797"),
        ("cs/0112017", "cs/0112017"),
    ],
)
def test_arxiv_ids_are_normalised(raw: str, bare: str) -> None:
    assert normalise_arxiv_id(raw) == bare


def test_content_hash_tracks_every_field() -> None:
    a = Record.model_validate(GOOD)
    assert a.content_hash() == Record.model_validate(dict(GOOD)).content_hash()
    assert a.content_hash() != Record.model_validate({**GOOD, "year": 2020}).content_hash()
    card = Record.model_validate({**GOOD, **V2})
    unset = {"task": None, "workflow": None, "explains": [], "facts": []}
    for field, empty in unset.items():
        assert card.content_hash() != Record.model_validate({**GOOD, **V2, field: empty}).content_hash()


def test_content_hash_of_records_without_v2_fields_is_unchanged() -> None:
    """Pinned to the hash before schema v2: existing indexes need no metadata rewrite."""
    expected = "7db34b6a35ffa53c07282e55ac66cc49261ecbbbc07a421812ac5f2c8a209ab9"
    assert Record.model_validate(GOOD).content_hash() == expected


def test_bundled_corpus_is_valid() -> None:
    records = read_bundled_corpus()
    ids = {r.id for r in records}
    assert {"SISR-Any-LIIF-EDSR", "SISR-Any-LIIF-RDN"} <= ids

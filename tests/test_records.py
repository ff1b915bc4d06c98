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
    [("arXiv:2012.09161v2", "2012.09161"), ("https://arxiv.org/abs/1802.08797", "1802.08797"),
     ("cs/0112017", "cs/0112017")],
)
def test_arxiv_ids_are_normalised(raw: str, bare: str) -> None:
    assert normalise_arxiv_id(raw) == bare


def test_content_hash_tracks_every_field() -> None:
    a = Record.model_validate(GOOD)
    assert a.content_hash() == Record.model_validate(dict(GOOD)).content_hash()
    assert a.content_hash() != Record.model_validate({**GOOD, "year": 2020}).content_hash()


def test_bundled_corpus_is_valid() -> None:
    records = read_bundled_corpus()
    ids = {r.id for r in records}
    assert {"SISR-Any-LIIF-EDSR", "SISR-Any-LIIF-RDN"} <= ids

"""`zoomqa search`: the two blocks, the refusal, --json, and the errors a user can hit."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from zoomqa.cli import app
from zoomqa.config import get_settings
from zoomqa.index.snapshot import VECTORS

runner = CliRunner()
FLAGSHIP = "I blew up an old photo 10x and it stayed crisp - how?"


def flat(text: str) -> str:
    """Output with rich's line wrapping undone."""
    return " ".join(text.split())


def test_search_prints_models_and_papers_with_links(indexed_home: Path) -> None:
    result = runner.invoke(app, ["search", FLAGSHIP])
    assert result.exit_code == 0, result.output
    output = flat(result.stdout)
    assert output.index("Models") < output.index("Papers")
    assert "Learning Continuous Image Representation with Local Implicit Image Function (2020)" in output
    assert "arxiv: https://arxiv.org/abs/2012.09161" in output
    assert "github: https://github.com/yinboc/liif" in output
    assert "score 0." in output


def test_search_json_is_one_object_with_both_blocks(indexed_home: Path) -> None:
    result = runner.invoke(app, ["search", FLAGSHIP, "--json", "--k", "2"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["relevant"] is True and data["nearest_topics"] == []
    assert 0 < len(data["models"]) <= 2 and 0 < len(data["papers"]) <= 2
    hit = data["papers"][0]
    assert {"id", "title", "year", "score", "similarity", "links"} <= hit.keys()
    assert "arxiv" in hit["links"]


def test_search_says_nothing_relevant_and_names_nearby_topics(indexed_home: Path) -> None:
    result = runner.invoke(app, ["search", "what documents do I need for a Schengen visa?"])
    assert result.exit_code == 0, result.output
    assert "Nothing relevant in the index." in result.stdout
    assert "Nearest topics it covers:" in flat(result.stdout)
    data = json.loads(runner.invoke(app, ["search", "best pizza dough recipe", "--json"]).stdout)
    assert data["relevant"] is False and data["models"] == [] and data["nearest_topics"]


@pytest.mark.parametrize(("question", "message"), [("  ", "empty"), ("x" * 5000, "keep it under 4000")])
def test_bad_questions_fail_cleanly(indexed_home: Path, question: str, message: str) -> None:
    result = runner.invoke(app, ["search", question])
    assert result.exit_code == 2
    assert message in flat(result.stderr) and "Traceback" not in result.output


def test_search_without_an_index_says_how_to_build_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ZOOMQA_HOME", str(tmp_path))
    get_settings.cache_clear()
    result = runner.invoke(app, ["search", FLAGSHIP])
    assert result.exit_code == 2
    assert "no index at" in flat(result.stderr) and "zoomqa index build" in flat(result.stderr)


def test_search_on_a_truncated_index_fails_cleanly(
    bundled_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copytree(bundled_home / "index", tmp_path / "index")
    vectors = next((tmp_path / "index").glob(f"gen-*/{VECTORS}"))
    vectors.write_bytes(vectors.read_bytes()[:1000])
    monkeypatch.setenv("ZOOMQA_HOME", str(tmp_path))
    get_settings.cache_clear()
    result = runner.invoke(app, ["search", FLAGSHIP])
    assert result.exit_code == 2
    assert "damaged" in flat(result.stderr) and "zoomqa index build --rebuild" in flat(result.stderr)

"""`zoomqa ask` and `zoomqa eval answers` end to end: real index, real embedder, real CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_writer_openai import Reply, ScriptedServer, error_body
from typer.testing import CliRunner

from zoomqa.cli import app
from zoomqa.config import get_settings
from zoomqa.index.embedding import Embedder
from zoomqa.index.metadata import Entry
from zoomqa.index.records import read_bundled_corpus
from zoomqa.index.store import BUNDLED_SOURCE, IndexStore

runner = CliRunner()
TEN_X = "I blew up an old photo 10x and it stayed crisp - how?"
EGG = "how long should I boil an egg so the yolk stays runny?"
QUESTIONS = Path(__file__).parent / "fixtures" / "answer_questions.jsonl"
KEY = "sk-cli-test-key-0987654321"


def flat(text: str) -> str:
    """Output with rich's line wrapping undone."""
    return " ".join(text.split())


@pytest.fixture
def openai_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[ScriptedServer]:
    server = ScriptedServer()
    monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    get_settings.cache_clear()
    yield server
    server.close()


def test_ask_answers_in_three_parts_through_the_installed_command(indexed_home: Path) -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "zoomqa.cli", "ask", TEN_X],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr
    output = completed.stdout  # a pipe: plain Markdown, neither wrapped nor padded to 80 columns
    assert output.index("### Task") < output.index("### How it works") < output.index("### Papers and tools")
    assert "**Input**:" in output and "**Model**:" in output and "**Output**:" in output
    assert max(map(len, output.splitlines())) > 120 and not any(
        line.endswith(" " * 4) for line in output.splitlines()
    )
    assert "https://arxiv.org/abs/2012.09161" in output and "https://github.com/yinboc/liif" in output
    assert "written by extractive" in output
    assert "Traceback" not in completed.stderr


def test_ask_json_cites_only_retrieved_records_with_their_own_links(indexed_home: Path) -> None:
    result = runner.invoke(app, ["ask", TEN_X, "--json", "--k", "3"])
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert answer["relevant"] and answer["writer"] == answer["requested_writer"] == "extractive"
    bundled = {r.id: r for r in read_bundled_corpus()}
    assert 0 < len(answer["sources"]) <= 6
    for source in answer["sources"]:
        assert source["links"] == bundled[source["id"]].links
    numbers = {s["number"] for s in answer["sources"]}
    cited = {n for step in answer["steps"] for s in step["statements"] for n in s["sources"]}
    assert cited and cited <= numbers
    assert {"input", "model", "output"} <= {step["stage"] for step in answer["steps"]}
    assert answer["timings"]["total_s"] >= answer["timings"]["retrieval_s"] > 0


def test_a_question_off_topic_is_refused_without_calling_the_model(
    indexed_home: Path, openai_server: ScriptedServer
) -> None:
    result = runner.invoke(app, ["ask", EGG, "--writer", "openai"])
    assert result.exit_code == 0, result.output
    output = flat(result.stdout)
    assert "Nothing relevant found" in output and EGG in output
    assert "nearest topics" in output
    assert openai_server.requests == []


def test_a_rejected_key_ends_in_one_line_not_a_traceback(
    indexed_home: Path, openai_server: ScriptedServer
) -> None:
    openai_server.replies = [Reply(401, body=error_body(f"bad key {KEY}", "invalid_request_error"))]
    result = runner.invoke(app, ["ask", TEN_X, "--writer", "openai"])
    assert result.exit_code == 2
    assert "rejected the API key (HTTP 401)" in flat(result.output)
    assert KEY not in result.output and "Traceback" not in result.output


def test_ask_without_an_index_says_how_to_build_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZOOMQA_HOME", str(tmp_path))
    get_settings.cache_clear()
    result = runner.invoke(app, ["ask", TEN_X])
    assert result.exit_code == 2
    assert "zoomqa index build" in flat(result.output)


def test_eval_answers_reports_every_metric(indexed_home: Path) -> None:
    result = runner.invoke(app, ["eval", "answers", "--questions", str(QUESTIONS), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["n"] == 4 and [q["id"] for q in report["per_question"]] == [
        json.loads(line)["id"] for line in QUESTIONS.read_text().splitlines()
    ]
    assert report["structure_ok"] == 1.0
    assert report["citation_precision"] == 1.0 and report["link_validity"] == 1.0
    assert report["support_rate"] >= 0.95
    assert report["refusal_accuracy"] == 1.0 and report["tool_accuracy"] == 1.0
    assert report["latency_p50_s"] > 0 and report["fallback_rate"] == 0.0

    table = runner.invoke(app, ["eval", "answers", "--questions", str(QUESTIONS)], env={"COLUMNS": "200"})
    assert table.exit_code == 0, table.output
    assert "cooking-egg" in table.stdout and "total (4)" in table.stdout


def test_ask_says_when_the_index_holds_older_cards_than_the_installation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, embedder: Embedder
) -> None:
    # the index was built before a card was edited (an upgrade shipped a new LIIF card)
    cards = read_bundled_corpus()
    older = [
        c.model_copy(update={"summary": c.summary + " (older text)"}) if c.id == "paper:liif" else c
        for c in cards
    ]
    IndexStore(tmp_path / "index").upsert([Entry.of(r, BUNDLED_SOURCE) for r in older], embedder)
    monkeypatch.setenv("ZOOMQA_HOME", str(tmp_path))
    get_settings.cache_clear()
    result = runner.invoke(app, ["ask", "what is LIIF?"])
    assert result.exit_code == 0
    assert "1 bundled card(s) changed" in flat(result.stderr) and "zoomqa index build" in flat(result.stderr)
    # after the incremental build the note is gone
    assert runner.invoke(app, ["index", "build"]).exit_code == 0
    assert "bundled card" not in flat(runner.invoke(app, ["ask", "what is LIIF?"]).stderr)


@pytest.mark.parametrize(
    "question",
    [
        "Wie kann ich ein altes Foto zehnfach vergrößern, ohne dass es unscharf wird?",
        "怎样把一张旧照片放大十倍还保持清晰？",
        "¿Cómo puedo ampliar una foto antigua sin que se vea borrosa?",
    ],
)
def test_a_question_in_another_language_is_asked_again_in_english_not_refused_as_off_topic(
    indexed_home: Path, question: str
) -> None:
    result = runner.invoke(app, ["ask", "--json", question])
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    message = " ".join(s["text"] for s in answer["task"])
    assert answer["relevant"] is False and answer["sources"] == []
    assert "in English" in message and question in message
    assert "Nothing in zoomqa's index" not in message and "nearest topics" not in message


def test_an_english_keyword_query_is_not_taken_for_another_language(indexed_home: Path) -> None:
    answer = json.loads(runner.invoke(app, ["ask", "--json", "SwinIR x4 psnr set5"]).stdout)
    assert answer["relevant"] is True and "in English" not in json.dumps(answer["task"])


def test_a_refused_enlargement_is_read_first_and_ask_exits_non_zero(
    indexed_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    completed = subprocess.run(
        [sys.executable, "-m", "zoomqa.cli", "ask", "please upscale holiday.png 3x"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 1, completed.stderr
    task = completed.stdout.split("### Task", 1)[1].strip()
    assert task.startswith("I could not enlarge holiday.png:"), task[:200]
    assert "Traceback" not in completed.stderr


def test_eval_answers_runs_against_a_model_server_and_counts_its_failures(
    indexed_home: Path, openai_server: ScriptedServer, tmp_path: Path
) -> None:
    """`eval answers --writer openai` against the local stand-in: the first answer is the
    model's own, the second question meets an HTTP 500 and is answered offline, which the
    report counts as a fallback instead of stopping the run."""
    rows = [json.loads(line) for line in QUESTIONS.read_text().splitlines()][:2]
    questions = tmp_path / "two.jsonl"
    questions.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    written = (
        "Task: You want a photo enlarged 10x while it stays sharp [1].\n"
        "Input: A low-resolution RGB photo plus the wanted output size [1].\n"
        "Model: An EDSR-baseline encoder turns the photo into a grid of feature vectors, and an MLP "
        "predicts each output pixel's colour from the features around it [1].\n"
        "Output: An RGB image of exactly the requested width and height [1]."
    )
    openai_server.replies = [Reply(chunks=[written])] + [
        Reply(500, body=error_body("boom", "server_error"))
    ] * 4
    result = runner.invoke(
        app, ["eval", "answers", "--questions", str(questions), "--writer", "openai", "--json"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    first, second = report["per_question"]
    assert first["writer"] == "openai" and first["fallback_reason"] is None
    assert second["writer"] == "extractive" and second["fallback_reason"]
    assert report["fallback_rate"] == 0.5
    assert openai_server.requests and all(
        r[1]["messages"] and r[0]["authorization"] == f"Bearer {KEY}" for r in openai_server.requests
    )

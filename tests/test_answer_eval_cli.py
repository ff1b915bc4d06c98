"""`zoomqa eval answers` and `zoomqa eval nuggets` end to end: real CLI, real index, real embedder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from zoomqa.cli import app

runner = CliRunner()
QUESTIONS = Path(__file__).with_name("questions.jsonl")
LABELS = Path(__file__).with_name("nugget_labels.jsonl")
SLICE = ("what-is-psnr", "readme-demo-crisp-10x", "knife-whetstone", "logo-double")


def _slice(tmp_path: Path) -> Path:
    lines = {json.loads(line)["id"]: line for line in QUESTIONS.read_text(encoding="utf-8").splitlines()}
    path = tmp_path / "slice.jsonl"
    path.write_text("\n".join(lines[i] for i in SLICE) + "\n", encoding="utf-8")
    return path


def test_eval_answers_json_reports_nuggets_anchor_and_the_refusal_split(indexed_home: Path, tmp_path: Path) -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "zoomqa.cli", "eval", "answers", "--questions", str(_slice(tmp_path)), "--json"],
        capture_output=True,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        timeout=600,
    )
    assert completed.returncode == 0, completed.stderr
    report = json.loads(completed.stdout)
    rows = {row["id"]: row for row in report["per_question"]}
    assert list(rows) == list(SLICE) and report["n"] == 4
    assert (report["n_answerable"], report["n_refuse"]) == (3, 1)

    psnr = rows["what-is-psnr"]
    assert psnr["anchor"] == psnr["cited"] == "metric:psnr" and psnr["anchor_correct"] is True
    assert psnr["nugget_recall"] > 0
    knife = rows["knife-whetstone"]
    assert knife["anchor"] is None and knife["anchor_correct"] is None and knife["nugget_recall"] is None
    for row in (rows["readme-demo-crisp-10x"], rows["logo-double"]):
        assert row["anchor"] == "2012.09161" and isinstance(row["anchor_correct"], bool)
        assert 0.0 <= row["nugget_recall"] <= 1.0 and isinstance(row["missed_nuggets"], list)

    answerable = [rows[i] for i in SLICE if i != "knife-whetstone"]
    assert report["nugget_recall"] == round(sum(r["nugget_recall"] for r in answerable) / 3, 4)
    assert report["anchor_accuracy"] == round(sum(r["anchor_correct"] for r in answerable) / 3, 4)
    assert report["false_refusals"] == round(sum(r["refused"] for r in answerable) / 3, 4)
    assert report["false_answers"] == (0.0 if knife["refused"] else 1.0)
    tool = rows["logo-double"]["tool_correct"]  # the tool question ran the upscaler on a stand-in picture
    assert isinstance(tool, bool) and report["tool_accuracy"] == float(tool)
    assert set(report["worst"]) <= set(SLICE) - {"knife-whetstone"}
    assert report["citation_precision"] == 1.0 and report["link_validity"] == 1.0


def test_eval_answers_text_names_the_totals_and_the_worst_questions(indexed_home: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["eval", "answers", "--questions", str(_slice(tmp_path))], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    output = " ".join(result.stdout.split())
    assert "nuggets" in output and "anchor" in output and "total (4)" in output
    assert "nugget recall" in output and "false refusals" in output and "false answers" in output
    assert "worst:" in output


def test_eval_nuggets_reports_the_agreement_at_tau_and_the_best_tau(tmp_path: Path) -> None:
    result = runner.invoke(app, ["eval", "nuggets", "--labels", str(LABELS), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["at_tau"]["tau"] == 0.6 and data["at_tau"]["n"] >= 60
    assert 0.0 <= data["at_tau"]["accuracy"] <= 1.0 and data["best"]["accuracy"] >= data["at_tau"]["accuracy"]
    wrong = len(data["disagreements"])
    assert round(1 - wrong / data["at_tau"]["n"], 4) == data["at_tau"]["accuracy"]

    bad = tmp_path / "bad.jsonl"
    bad.write_text("{not json\n", encoding="utf-8")
    failed = runner.invoke(app, ["eval", "nuggets", "--labels", str(bad)])
    assert failed.exit_code != 0 and "bad.jsonl:1" in " ".join(failed.output.split())
    assert "Traceback" not in failed.output

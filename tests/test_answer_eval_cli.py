"""`zoomqa eval answers` and `zoomqa eval nuggets` end to end: real CLI, real index, real embedder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from zoomqa.agent.evaluation.answers import NUGGET_TAU, read_nugget_labels
from zoomqa.cli import app

runner = CliRunner()
QUESTIONS = Path(__file__).with_name("questions.jsonl")
LABELS = Path(__file__).with_name("nugget_labels.jsonl")
SLICE = ("what-is-psnr", "readme-demo-crisp-10x", "knife-whetstone", "logo-double")

PSNR = "what does PSNR measure?"
LOGO = "pls make ~/Desktop/logo_small.png twice as big"
EGG_NUGGET = "Boil the egg for six minutes so that the yolk stays runny."
# A question set whose right scores are known from the set itself: the same PSNR question
# judged once against what its answer says and once against a wrong work and a point no
# answer about PSNR makes; a question the index cannot answer although an answer is
# expected (a false refusal); an off-topic one that must be refused; the same enlargement
# judged once against the size asked for and once against another size.
KNOWN = [
    {
        "id": "psnr-right", "question": PSNR, "expect": "answer", "anchor": "metric:psnr",
        "nuggets": ["PSNR computes the mean squared error between the two images and converts it to decibels."],
    },
    {"id": "psnr-wrong", "question": PSNR, "expect": "answer", "anchor": "paper:esrgan", "nuggets": [EGG_NUGGET]},
    {"id": "egg-expected", "question": "how long should I boil an egg so the yolk stays runny?", "expect": "answer"},
    {"id": "knife", "question": "what angle should I hold the whetstone at to sharpen a chef's knife?", "expect": "refuse"},
    {"id": "logo-right", "question": LOGO, "expect": "tool", "path": "~/Desktop/logo_small.png", "scale": 2},
    {"id": "logo-wrong", "question": LOGO, "expect": "tool", "path": "~/Desktop/logo_small.png", "scale": 3},
]  # fmt: skip


def _slice(tmp_path: Path) -> Path:
    lines = {json.loads(line)["id"]: line for line in QUESTIONS.read_text(encoding="utf-8").splitlines()}
    path = tmp_path / "slice.jsonl"
    path.write_text("\n".join(lines[i] for i in SLICE) + "\n", encoding="utf-8")
    return path


def _jsonl(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def test_eval_answers_scores_known_right_and_wrong_answers_as_such(
    indexed_home: Path, tmp_path: Path
) -> None:
    questions = _jsonl(tmp_path / "known.jsonl", KNOWN)
    completed = subprocess.run(
        [sys.executable, "-m", "zoomqa.cli", "eval", "answers", "--questions", str(questions), "--json"],
        capture_output=True,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        timeout=600,
    )
    assert completed.returncode == 0, completed.stderr
    report = json.loads(completed.stdout)
    rows = {row["id"]: row for row in report["per_question"]}
    assert list(rows) == [q["id"] for q in KNOWN]
    assert (report["n"], report["n_answerable"], report["n_refuse"]) == (6, 5, 1)

    right, wrong = rows["psnr-right"], rows["psnr-wrong"]
    assert right["cited"] == wrong["cited"] == "metric:psnr"  # one question, one answer, two judgements
    assert (right["anchor_correct"], wrong["anchor_correct"]) == (True, False)
    assert (right["nugget_recall"], wrong["nugget_recall"]) == (1.0, 0.0)
    assert right["missed_nuggets"] == [] and wrong["missed_nuggets"] == [EGG_NUGGET]
    assert rows["egg-expected"]["refused"] and not rows["egg-expected"]["refusal_correct"]
    assert rows["knife"]["refused"] and rows["knife"]["refusal_correct"]
    assert (rows["logo-right"]["tool_correct"], rows["logo-wrong"]["tool_correct"]) == (True, False)

    # the totals: one right and one wrong of each kind is a half; one refusal of five answerable
    assert report["anchor_accuracy"] == 0.5 and report["nugget_recall"] == 0.5
    assert report["tool_accuracy"] == 0.5
    assert report["false_refusals"] == 0.2 and report["false_answers"] == 0.0
    assert report["refusal_accuracy"] == round(5 / 6, 4)
    assert report["worst"] == ["egg-expected", "psnr-wrong"]  # refused first, then the wrong work
    assert report["citation_precision"] == 1.0 and report["link_validity"] == 1.0


def test_eval_answers_text_names_the_totals_and_the_worst_questions(
    indexed_home: Path, tmp_path: Path
) -> None:
    result = runner.invoke(
        app, ["eval", "answers", "--questions", str(_slice(tmp_path))], env={"COLUMNS": "200"}
    )
    assert result.exit_code == 0, result.output
    output = " ".join(result.stdout.split())
    assert "nuggets" in output and "anchor" in output and "total (4)" in output
    assert "nugget recall" in output and "false refusals" in output and "false answers" in output
    assert "worst:" in output


# Hand labels whose right threshold is plain: a statement covers the identical nugget, and
# neither a point on the same subject (another fact) nor an unrelated sentence covers it.
PSNR_POINT = "PSNR compares a result with a reference image through the mean squared error, in decibels."
LIIF_POINT = "LIIF predicts the colour of each output pixel from its continuous coordinate."
GAN_POINT = "Real-ESRGAN is trained on synthetic degradations: blur, noise, resizing and JPEG compression."
OBVIOUS_LABELS = [
    (PSNR_POINT, PSNR_POINT, True),
    (LIIF_POINT, LIIF_POINT, True),
    (PSNR_POINT, "SSIM compares the local structure, contrast and brightness of two images.", False),
    (GAN_POINT, "Real-ESRGAN uses a U-Net discriminator with spectral normalisation.", False),
    (PSNR_POINT, EGG_NUGGET, False),
    (LIIF_POINT, "The train to Lyon leaves from platform nine at noon.", False),
]
SAME_SUBJECT = {2, 3}  # the labels a lax threshold gets wrong


def test_eval_nuggets_finds_the_threshold_that_agrees_with_obvious_labels(tmp_path: Path) -> None:
    labels = _jsonl(
        tmp_path / "labels.jsonl",
        [{"statement": s, "nugget": n, "covered": c, "origin": "card:test"} for s, n, c in OBVIOUS_LABELS],
    )
    lax = runner.invoke(app, ["eval", "nuggets", "--labels", str(labels), "--tau", "0.3", "--json"])
    assert lax.exit_code == 0, lax.output
    data = json.loads(lax.stdout)
    # at 0.3 the two points on the same subject pass for covered, and only they
    assert [(d["statement"], d["nugget"]) for d in data["disagreements"]] == [
        OBVIOUS_LABELS[i][:2] for i in sorted(SAME_SUBJECT)
    ]
    assert data["at_tau"] == {
        "tau": 0.3,
        "accuracy": round(4 / 6, 4),
        "precision": 0.5,
        "recall": 1.0,
        "n": 6,
    }
    # the best threshold of the grid separates them: above the same-subject points, every label agrees
    best = data["best"]
    assert (best["accuracy"], best["precision"], best["recall"]) == (1.0, 1.0, 1.0)
    assert best["tau"] > max(d["cosine"] for d in data["disagreements"])

    in_use = runner.invoke(app, ["eval", "nuggets", "--labels", str(labels), "--json"])
    assert in_use.exit_code == 0, in_use.output
    # without --tau, the agreement is reported at the threshold answers are scored with
    assert json.loads(in_use.stdout)["at_tau"]["tau"] == NUGGET_TAU


def test_the_committed_nugget_labels_hold_both_verdicts_and_bad_labels_are_one_clear_error(
    tmp_path: Path,
) -> None:
    verdicts = {label.covered for label in read_nugget_labels(LABELS)}
    assert verdicts == {True, False}  # a threshold can only be chosen on labels of both kinds

    bad = tmp_path / "bad.jsonl"
    bad.write_text("{not json\n", encoding="utf-8")
    failed = runner.invoke(app, ["eval", "nuggets", "--labels", str(bad)])
    assert failed.exit_code != 0 and "bad.jsonl:1" in " ".join(failed.output.split())
    assert "Traceback" not in failed.output

"""Retrieval evaluation: the metrics, the threshold calibration, and `zoomqa eval retrieval` on the question set."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from zoomqa.cli import app
from zoomqa.errors import ZoomqaError
from zoomqa.index.evaluation import QuestionOutcome, RetrievalReport, calibrate, hit_rank
from zoomqa.index.records import Record
from zoomqa.index.results import Hit, SearchResult
from zoomqa.question_set import read_question_set

QUESTIONS = Path(__file__).with_name("questions.jsonl")
runner = CliRunner()


def outcome(
    id_: str, expect: str, rank: int | None, refused: bool = False, best: float = 0.5
) -> QuestionOutcome:
    return QuestionOutcome(id=id_, expect=expect, hit_rank=rank, refused=refused, best_similarity=best)


def test_metrics_count_answerable_questions_for_recall_and_all_for_refusals() -> None:
    report = RetrievalReport(
        (
            outcome("a", "answer", 1),
            outcome("b", "answer", 4),
            outcome("c", "tool", None),
            outcome("d", "answer", 12),
            outcome("r", "refuse", None, refused=True),
            outcome("s", "refuse", None, refused=False),
        )
    )
    assert report.recall(1) == 0.25 and report.recall(5) == 0.5 and report.recall(10) == 0.5
    assert report.mrr == pytest.approx((1 + 1 / 4 + 1 / 12) / 4)
    assert report.refusal_accuracy == pytest.approx(5 / 6)
    assert (report.false_refusals, report.false_answers) == (0, 1)
    assert [o.id for o in report.misses()] == ["c", "d", "s"]
    data = report.as_json()
    assert data["n"] == 6 and data["per_question"][1] == {
        "id": "b",
        "hit_rank": 4,
        "refused": False,
        "best_similarity": 0.5,
    }


def record(id_: str, kind: str, arxiv_id: str | None) -> Record:
    extra = {"implements": arxiv_id or id_} if kind == "model" else {}
    return Record(
        id=id_, kind=kind, title=id_, authors=["x"], year=2020, arxiv_id=arxiv_id, summary="s", **extra
    )


def test_rank_is_the_position_in_the_fused_ranking_and_matches_ids_or_arxiv_ids() -> None:
    result = SearchResult(
        question="q",
        models=(Hit(record("m1", "model", "1111.11111"), 0.5, 0.5),),
        papers=(
            Hit(record("p1", "paper", "2222.22222"), 0.9, 0.5),
            Hit(record("dataset:div2k", "paper", None), 0.4, 0.4),
        ),
    )
    assert hit_rank(result, ["2222.22222"]) == 1
    assert hit_rank(result, ["1111.11111"]) == 2
    assert hit_rank(result, ["dataset:div2k"]) == 3
    assert hit_rank(result, ["9999.99999"]) is None


def test_calibration_puts_the_threshold_in_the_widest_gap_that_separates_best() -> None:
    outcomes = [outcome(f"r{i}", "refuse", None, best=b) for i, b in enumerate((0.1, 0.15, 0.3))] + [
        outcome(f"a{i}", "answer", 1, best=b) for i, b in enumerate((0.27, 0.4, 0.5, 0.6))
    ]
    calibration = calibrate(outcomes)
    assert calibration.accuracy == pytest.approx(6 / 7)
    assert calibration.threshold == pytest.approx(
        0.21
    )  # between 0.15 and 0.27, not the narrower 0.3..0.4 cut
    with pytest.raises(ZoomqaError, match="both"):
        calibrate([outcome("a", "answer", 1)])


def test_a_bad_question_set_names_its_lines(tmp_path: Path) -> None:
    path = tmp_path / "q.jsonl"
    path.write_text(
        '{"id": "a", "question": "q", "expect": "answer"}\n{"id": "b", "question": "q", "expect": "maybe"}\n'
    )
    with pytest.raises(ZoomqaError, match=r"q\.jsonl:2:"):
        read_question_set(path)


@pytest.mark.slow
def test_eval_retrieval_on_the_question_set_meets_the_targets(isolated_home: Path) -> None:
    result = runner.invoke(app, ["eval", "retrieval", "--questions", str(QUESTIONS), "--json", "--calibrate"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["n"] == len(read_question_set(QUESTIONS))
    assert data["recall@5"] >= 0.85 and data["recall@10"] >= data["recall@5"] >= data["recall@1"]
    assert data["refusal_accuracy"] >= 0.9
    assert {"id", "hit_rank", "refused"} <= data["per_question"][0].keys()
    assert 0 < data["calibration"]["threshold"] < 1
    assert not (isolated_home / "index").exists()  # the user's index is never touched

    text = runner.invoke(app, ["eval", "retrieval", "--questions", str(QUESTIONS)])
    assert text.exit_code == 0 and "recall@5" in text.stdout and "threshold in use" in text.stdout


@pytest.mark.slow
def test_extra_corpus_is_cached_and_a_second_run_writes_nothing(isolated_home: Path, tmp_path: Path) -> None:
    questions = tmp_path / "q.jsonl"
    questions.write_text(
        json.dumps(
            {
                "id": "espcn",
                "question": "sub-pixel convolution layer upscaling",
                "relevant": ["1609.05158"],
                "expect": "answer",
            }
        )
        + "\n"
        + json.dumps({"id": "egg", "question": "how long to boil an egg", "relevant": [], "expect": "refuse"})
        + "\n"
    )
    extra = tmp_path / "distractors.jsonl"
    extra.write_text(
        "".join(
            json.dumps(
                {
                    "arxiv_id": f"1901.{i:05d}",
                    "title": f"Pedestrian detection variant {i}",
                    "authors": ["x"],
                    "abstract": f"We detect pedestrians in street scenes with anchor set {i}.",
                    "year": 2019,
                }
            )
            + "\n"
            for i in range(20)
        )
    )
    args = ["eval", "retrieval", "--questions", str(questions), "--extra-corpus", str(extra), "--json"]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    cache = isolated_home / "eval-index" / "bundled+distractors.jsonl"
    generation = (cache / "CURRENT").read_text()
    second = runner.invoke(app, args)
    assert second.exit_code == 0 and json.loads(second.stdout) == json.loads(first.stdout)
    assert (cache / "CURRENT").read_text() == generation
    assert json.loads(second.stdout)["refusal_accuracy"] == 1.0
    assert not (isolated_home / "index").exists()

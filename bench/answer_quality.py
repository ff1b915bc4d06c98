"""Answer quality on the dev questions beside the holdout questions, in one table.

The dev set (tests/questions.jsonl) is the one rules, weights and card sentences may be tuned
on; the holdout set (tests/holdout.jsonl) was written before it was ever run and is only
reported, as are tests/situations_holdout.jsonl (situation questions written for the bundled
works, never trained on), tests/relevance_holdout.jsonl (what to refuse and what only looks
off-topic) and tests/holdout_fresh.jsonl (lay, expert and off-topic questions by a writer who
read only the cards). A gap between the columns is what tuning on dev did not carry over
to new questions. Each set runs through `zoomqa eval answers --json` (the same code users run).

    python bench/answer_quality.py [--writer extractive] [--sets dev,holdout,situations,relevance,probe,fresh]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from zoomqa.question_set import read_question_set

REPO = Path(__file__).resolve().parents[1]
SETS = {
    "dev": REPO / "tests" / "questions.jsonl",
    "holdout": REPO / "tests" / "holdout.jsonl",
    # Situation questions written for the bundled works, like index/data/works but never trained
    # on: the work to explain and no nuggets, so only the anchor and refusals count.
    "situations": REPO / "tests" / "situations_holdout.jsonl",
    # Off-topic questions (near-domain and general) and in-domain ones that look off-topic, by a
    # writer blind to the rules and to the relevance training texts: refusals only.
    "relevance": REPO / "tests" / "relevance_holdout.jsonl",
    # 229 in-domain (120 of them lay) and 129 near-domain questions by three writers blind to
    # the relevance texts, never trained on: refusals only.
    "probe": REPO / "tests" / "relevance_probe.jsonl",
    # Lay, expert and off-topic questions with anchors and nuggets by a writer who read only
    # the cards.
    "fresh": REPO / "tests" / "holdout_fresh.jsonl",
}
ROWS = (
    ("anchor accuracy", "anchor_accuracy"),
    ("  lay questions", "anchor_lay"),
    ("  expert questions", "anchor_expert"),
    ("nugget recall", "nugget_recall"),
    ("false refusals", "false_refusals"),
    ("false answers", "false_answers"),
    ("refusal accuracy", "refusal_accuracy"),
    ("tool accuracy", "tool_accuracy"),
    ("citation precision", "citation_precision"),
    ("support rate", "support_rate"),
    ("words, parts 1-2 (p50)", "words_p50"),
    ("latency p50 (s)", "latency_p50_s"),
)


def evaluate(questions: Path, writer: str) -> dict:
    command = [
        sys.executable,
        "-m",
        "zoomqa.cli",
        "eval",
        "answers",
        "-q",
        str(questions),
        "--json",
        "-w",
        writer,
    ]
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        raise SystemExit(f"eval answers on {questions} failed:\n{completed.stderr[-2000:]}")
    return json.loads(completed.stdout)


VOICES = ("lay", "expert")  # anchor accuracy by the voice a question is written in (its ``kind``)


def anchor_by_voice(report: dict, questions: Path) -> dict[str, float | None]:
    """Anchor accuracy over the questions of each voice: lay people fare worse than experts."""
    kinds = {q.id: q.kind for q in read_question_set(questions)}
    shares: dict[str, float | None] = {}
    for voice in VOICES:
        judged = [
            o["anchor_correct"]
            for o in report["per_question"]
            if kinds.get(o["id"]) == voice and o.get("anchor_correct") is not None
        ]
        shares[f"anchor_{voice}"] = sum(judged) / len(judged) if judged else None
    return shares


def _cell(report: dict, key: str) -> str:
    value = report.get(key)
    if value is None:
        return "-"
    if key in ("false_refusals", "false_answers"):  # rates: also show the counts they come from
        total = report["n_answerable"] if key == "false_refusals" else report["n_refuse"]
        return f"{value:.3f} ({round(value * total)}/{total})"
    if key == "words_p50":
        return f"{value:.0f}"
    return f"{value:.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writer", default="extractive")
    parser.add_argument(
        "--sets",
        default="dev,holdout,situations,relevance,probe,fresh",
        help="comma-separated: " + ", ".join(SETS),
    )
    args = parser.parse_args()
    names = [name.strip() for name in args.sets.split(",") if name.strip()]
    reports = {name: evaluate(SETS[name], args.writer) for name in names}
    for name, report in reports.items():
        report.update(anchor_by_voice(report, SETS[name]))
    print(f"answers by the {args.writer} writer")
    print(f"{'':22}" + "".join(f"{name} ({reports[name]['n']} questions)".rjust(26) for name in names))
    for label, key in ROWS:
        print(f"{label:22}" + "".join(_cell(reports[name], key).rjust(26) for name in names))


if __name__ == "__main__":
    main()

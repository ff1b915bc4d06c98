"""Questions about papers a user added with `zoomqa index add`: the records, the index, the score.

The papers are listed by arXiv id in tests/fixtures/added_papers_ids.txt and read at run time
from the shared corpus (../shared/corpus/arxiv_cv.jsonl.gz); nothing of it is copied into the
repository. The question sets are tests/added_papers_dev.jsonl (tune on it) and
tests/added_papers_holdout.jsonl (report only), split by paper before any was run.

    ZOOMQA_HOME=/tmp/added-home python tests/added_papers.py --set dev

builds (once) an index of the bundled cards plus the added papers under $ZOOMQA_HOME with the
real CLI, answers every question with the default writer and prints: refused, anchor correct
(part 2 explains the paper asked about), part-2 boilerplate (a part-2 sentence that is a URL,
a code or project-page notice or a bare claim of experiments) and nugget recall.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from zoomqa.agent.compose.answer import Answer

REPO = Path(__file__).resolve().parents[1]
IDS_FILE = REPO / "tests" / "fixtures" / "added_papers_ids.txt"
SETS = {
    "dev": REPO / "tests" / "added_papers_dev.jsonl",
    "holdout": REPO / "tests" / "added_papers_holdout.jsonl",
}
CORPUS = Path("corpus") / "arxiv_cv.jsonl.gz"
# The judge of boilerplate is the evaluation's own, independent of how the composer tags roles;
# it reads the abstract sentences part 2 quotes (a card's "latent code" is no code notice).
BOILERPLATE = re.compile(
    r"https?://|github|\b(our|source|the) codes?\b|\bcodes? (is|are|will|and)\b|available at|project page|"
    r"will be (made )?(publicly )?(available|released)|this https url|"
    r"(extensive|comprehensive) (experiments|evaluations)|experiments (show|demonstrate)",
    re.IGNORECASE,
)


def shared_dir() -> Path:
    configured = os.environ.get("ZOOMQA_SHARED")
    return Path(configured) if configured else REPO.parent / "shared"


def added_ids() -> list[str]:
    lines = IDS_FILE.read_text(encoding="utf-8").splitlines()
    return [line.split()[0] for line in lines if line.strip() and not line.startswith("#")]


def read_added_records(shared: Path, ids: list[str] | None = None) -> list[dict]:
    """The arXiv metadata lines of ``ids`` (all listed ids by default), in the listed order."""
    wanted = added_ids() if ids is None else ids
    found: dict[str, dict] = {}
    with gzip.open(shared / CORPUS, "rt", encoding="utf-8") as handle:
        for line in handle:
            data = json.loads(line)
            if data["arxiv_id"] in wanted:
                found[data["arxiv_id"]] = data
    missing = [i for i in wanted if i not in found]
    if missing:
        raise SystemExit(f"not in {shared / CORPUS}: {', '.join(missing)}")
    return [found[i] for i in wanted]


def write_records(records: list[dict], path: Path) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def zoomqa(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ZOOMQA_HOME": str(home)}
    command = [sys.executable, "-m", "zoomqa.cli", *args]
    return subprocess.run(command, capture_output=True, text=True, env=env, check=True, cwd=REPO)


def build_index(home: Path, records: list[dict]) -> None:
    """The bundled cards, then the added papers, as a user adds them."""
    zoomqa("index", "build", home=home)
    zoomqa("index", "add", str(write_records(records, home / "added-papers.jsonl")), home=home)


def abstract_sentences(answer: Answer) -> list[str]:
    """The sentences of part 2 quoted from a record's summary (not from a card's fields)."""
    return [s.text for step in answer.steps for s in step.statements if (s.field or "").endswith(":summary")]


def evaluate(questions_path: Path, home: Path) -> dict[str, object]:
    from zoomqa.agent.evaluation.answers import NUGGET_TAU, SUPPORT_TAU, Works, score_answer
    from zoomqa.agent.turn.assistant import build_answerer
    from zoomqa.config import Settings
    from zoomqa.index.cli import open_retriever
    from zoomqa.index.records import read_bundled_corpus, record_from_arxiv_metadata
    from zoomqa.question_set import read_question_set

    settings = Settings(home=home)
    questions = read_question_set(questions_path)
    added = [record_from_arxiv_metadata(r) for r in read_added_records(shared_dir())]
    works = Works([*read_bundled_corpus(), *added])
    rows = []
    with open_retriever(settings.index_dir, settings) as retriever:
        answerer = build_answerer(settings, None, None, retriever.embedder)
        for q in questions:
            result = retriever.search(q.question)
            answer = answerer.answer(result)
            outcome = score_answer(q, result, answer, retriever.embedder, SUPPORT_TAU, works, tau=NUGGET_TAU)
            debris = [t for t in abstract_sentences(answer) if BOILERPLATE.search(t)]
            rows.append(
                {
                    "id": q.id,
                    "kind": q.kind,
                    "question": q.question,
                    "refused": outcome.refused,
                    "anchor_correct": bool(outcome.anchor_correct),
                    "cited": outcome.cited,
                    "first_source": answer.sources[0].id if answer.sources else None,
                    "boilerplate": debris,
                    "nugget_recall": outcome.nugget_recall,
                }
            )
    n = len(rows)
    return {
        "n": n,
        "refused": sum(r["refused"] for r in rows),
        "anchor_correct": sum(r["anchor_correct"] for r in rows),
        "boilerplate_answers": sum(bool(r["boilerplate"]) for r in rows),
        "nugget_recall": round(sum(r["nugget_recall"] or 0.0 for r in rows) / n, 3),
        "by_kind": {
            kind: {
                "n": sum(r["kind"] == kind for r in rows),
                "refused": sum(r["refused"] for r in rows if r["kind"] == kind),
                "anchor_correct": sum(r["anchor_correct"] for r in rows if r["kind"] == kind),
            }
            for kind in sorted({str(r["kind"]) for r in rows})
        },
        "questions": rows,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", choices=sorted(SETS), default="dev")
    parser.add_argument("--json", action="store_true", help="print every question's outcome")
    args = parser.parse_args()
    if not (shared_dir() / CORPUS).is_file():
        raise SystemExit(f"the shared corpus is not at {shared_dir() / CORPUS} (set ZOOMQA_SHARED)")
    home = Path(os.environ.get("ZOOMQA_HOME", "")).expanduser()
    if not os.environ.get("ZOOMQA_HOME"):
        raise SystemExit("set ZOOMQA_HOME to a private folder: the index of added papers is built there")
    home.mkdir(parents=True, exist_ok=True)
    if not (home / "added-papers.jsonl").is_file():
        build_index(home, read_added_records(shared_dir()))
    report = evaluate(SETS[args.set], home)
    if args.json:
        print(json.dumps(report, indent=1))
        return
    print(
        f"{args.set}: {report['n']} questions, refused {report['refused']}, anchor correct "
        f"{report['anchor_correct']}, part-2 boilerplate {report['boilerplate_answers']}, "
        f"nugget recall {report['nugget_recall']}"
    )
    for kind, counts in report["by_kind"].items():  # type: ignore[union-attr]
        print(f"  {kind}: {counts}")
    for row in report["questions"]:  # type: ignore[union-attr]
        if row["refused"] or not row["anchor_correct"] or row["boilerplate"]:
            print(
                f"  - {row['id']}: refused={row['refused']} cited={row['cited']} debris={row['boilerplate'][:1]}"
            )


if __name__ == "__main__":
    main()

"""The answer's list of papers and tools: a paper and its model card are one entry, citations
follow the entry, every cited source stays, and the list stops at the configured length."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from zoomqa.agent.compose.answer import Draft, Source, Statement, WorkflowStep
from zoomqa.agent.compose.sources import merge_sources
from zoomqa.index.records import read_bundled_corpus

IDS = [
    "SISR-Any-LIIF-EDSR",  # 1: a model card
    "paper:liif",  # 2: the paper it implements: one work with 1
    "JPEG-FBCNN",  # 3
    "paper:edsr",  # 4
    "paper:rdn",  # 5
    "dataset:div2k",  # 6
    "dataset:set5",  # 7
    "metric:psnr",  # 8
    "paper:fbcnn",  # 9: the paper of 3, cited
]


def _sources() -> tuple[list[Source], list]:
    records = {r.id: r for r in read_bundled_corpus()}
    chosen = [records[i] for i in IDS]
    return [Source.from_record(n, r, "why") for n, r in enumerate(chosen, start=1)], chosen


def test_a_paper_and_its_model_card_are_one_entry_and_citations_follow_it() -> None:
    sources, records = _sources()
    draft = Draft(
        task=(Statement(text="a", sources=(2,)),),
        steps=(
            WorkflowStep(stage="model", statements=(Statement(text="b", sources=(1, 2)),)),
            WorkflowStep(
                stage="why", statements=(Statement(text="c", sources=(9,)), Statement(text="d", sources=(8,)))
            ),
        ),
    )
    merged, listed = merge_sources(draft, sources, records, limit=4)
    assert [s.id for s in listed] == ["SISR-Any-LIIF-EDSR", "JPEG-FBCNN", "paper:edsr", "metric:psnr"]
    assert [s.number for s in listed] == [1, 2, 3, 4]
    cited = [s.sources for s in merged.statements]
    assert cited == [
        (1,),
        (1,),
        (2,),
        (4,),
    ]  # paper:liif -> its card; paper:fbcnn -> JPEG-FBCNN; psnr renumbered


def test_every_cited_source_stays_beyond_the_limit() -> None:
    sources, records = _sources()
    draft = Draft(task=(Statement(text="a", sources=(5, 6, 7, 8)),), steps=())
    _, listed = merge_sources(draft, sources, records, limit=2)
    assert [s.id for s in listed] == ["paper:rdn", "dataset:div2k", "dataset:set5", "metric:psnr"]


def test_the_uncited_entries_kept_are_those_that_fit_the_question_best() -> None:
    sources, records = _sources()
    draft = Draft(task=(Statement(text="a", sources=(1,)),), steps=())
    fit = [0.9, 0.1, 0.2, 0.3, 0.8, 0.1, 0.7, 0.1, 0.95]  # paper:fbcnn's fit carries its card's entry
    _, listed = merge_sources(draft, sources, records, limit=4, fit=fit)
    assert [s.id for s in listed] == ["SISR-Any-LIIF-EDSR", "JPEG-FBCNN", "paper:rdn", "dataset:set5"]


def test_ask_lists_at_most_six_works_each_once(indexed_home: Path) -> None:
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "zoomqa.cli",
            "ask",
            "--json",
            "which upscaler for blocky whatsapp photos of my kids?",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr
    answer = json.loads(completed.stdout)
    sources = answer["sources"]
    assert 1 <= len(sources) <= 6
    assert [s["number"] for s in sources] == list(range(1, len(sources) + 1))
    arxiv = [s["links"].get("arxiv") for s in sources if s["links"].get("arxiv")]
    assert len(arxiv) == len(set(arxiv)), arxiv  # a paper and its model card are one entry
    numbers = {s["number"] for s in sources}
    cited = {n for step in answer["steps"] for st in step["statements"] for n in st["sources"]}
    assert cited <= numbers


def test_the_answer_opens_with_the_sentence_that_answers_the_question(indexed_home: Path) -> None:
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "zoomqa.cli",
            "ask",
            "--json",
            "I blew up an old photo 10x and it stayed crisp - how?",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    first = json.loads(completed.stdout)["task"][0]["text"]
    assert "10x" in first and "LIIF" in first, first

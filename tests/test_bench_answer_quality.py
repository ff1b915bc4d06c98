"""bench/answer_quality.py splits anchor accuracy by the voice each question is written in."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

BENCH = Path(__file__).resolve().parents[1] / "bench" / "answer_quality.py"


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("answer_quality", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _question(id_: str, kind: str) -> dict[str, object]:
    return {
        "id": id_,
        "question": f"which upscaler for question {id_}?",
        "relevant": ["2012.09161"],
        "expect": "answer",
        "anchor": "2012.09161",
        "kind": kind,
    }


def test_anchor_accuracy_is_split_by_voice(tmp_path: Path) -> None:
    questions = tmp_path / "set.jsonl"
    rows = [
        _question("a", "lay"),
        _question("b", "lay"),
        _question("c", "expert"),
        {**_question("d", "off-topic"), "expect": "refuse", "anchor": None, "relevant": []},
    ]
    questions.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    report = {
        "per_question": [
            {"id": "a", "anchor_correct": True},
            {"id": "b", "anchor_correct": False},
            {"id": "c", "anchor_correct": True},
            {"id": "d", "anchor_correct": None},
        ]
    }
    assert _bench().anchor_by_voice(report, questions) == {"anchor_lay": 0.5, "anchor_expert": 1.0}


def test_a_set_without_a_voice_has_no_share(tmp_path: Path) -> None:
    questions = tmp_path / "set.jsonl"
    questions.write_text(json.dumps(_question("a", "expert") | {"kind": "tool"}) + "\n", encoding="utf-8")
    report = {"per_question": [{"id": "a", "anchor_correct": True}]}
    assert _bench().anchor_by_voice(report, questions) == {"anchor_lay": None, "anchor_expert": None}

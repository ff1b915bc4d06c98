"""Questions matched to the card sentences that answer them: a learnt adapter on question vectors.

The packaged MiniLM places "my grandma's scan looks blocky when I zoom" far from "FBCNN
removes JPEG blocking at any quality factor": it was trained on web text, not on how people
describe their pictures. A residual linear map on the *question* side, ``q' = norm(q + q W)``,
trained on thousands of questions written for the cards' sentences (``data/matching/*.jsonl``),
moves a question towards the sentences that answer it. Document vectors are untouched, so an
index never has to be rebuilt for a new adapter; retrieval, the anchor and the choice of
points all read the adapted question vector.

The weights come from ``zoomqa index train-matcher`` (:mod:`zoomqa.index.matching_training`)
and ship as an ``.npz`` read without pickle, with the embedder they were trained for, a digest
of their training texts and the validation report.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any

import numpy as np

from zoomqa.errors import ZoomqaError
from zoomqa.index.data_files import jsonl_rows

DATA_DIR = Path(str(files("zoomqa.index") / "data" / "matching"))
SHIPPED_ADAPTER = DATA_DIR / "adapter.npz"
# Questions written in people's words for a whole work (the bundled record that answers them).
WORKS_DIR = Path(str(files("zoomqa.index") / "data" / "works"))
FORMAT = 1
VOICES = ("lay", "expert")
INTENTS = ("what", "how", "why", "which", "compare", "data", "can")


@dataclass(frozen=True)
class MatchingQuestion:
    """One written question and the card sentence that answers it."""

    card: str
    sentence: str
    question: str
    voice: str
    intent: str


def read_matching_questions(directory: Path = DATA_DIR) -> list[MatchingQuestion]:
    """Every ``questions-*.jsonl`` line of ``directory``, in file order; one ZoomqaError for a bad line."""
    found: list[MatchingQuestion] = []
    for where, item in jsonl_rows(directory, "questions-*.jsonl", "matching questions", "matching question"):
        try:
            question = MatchingQuestion(
                card=str(item["card"]),
                sentence=str(item["sentence"]),
                question=" ".join(str(item["question"]).split()),
                voice=str(item["voice"]),
                intent=str(item["intent"]),
            )
        except (KeyError, TypeError) as exc:
            raise ZoomqaError(f"{where}: not a matching question ({exc})") from None
        if question.voice not in VOICES or question.intent not in INTENTS or not question.question:
            raise ZoomqaError(f"{where}: voice, intent or question missing or unknown")
        found.append(question)
    return found


@dataclass(frozen=True)
class WorkQuestion:
    """A question and the record (of the work) written to answer it."""

    record: str
    question: str


def read_work_questions(directory: Path = WORKS_DIR) -> list[WorkQuestion]:
    """Every ``questions-*.jsonl`` line of ``directory``; one ZoomqaError names a bad line."""
    found = []
    for where, row in jsonl_rows(directory, "questions-*.jsonl", "work questions", "work question"):
        try:
            item = WorkQuestion(str(row["work"]), " ".join(str(row["question"]).split()))
            if row["voice"] not in VOICES or not item.question:
                raise ValueError("voice unknown or question empty")
            if row.get("intent", INTENTS[0]) not in INTENTS:  # labelled by a reader, as data to learn from
                raise ValueError(f"intent {row['intent']!r} unknown")
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise ZoomqaError(f"{where}: not a work question ({exc})") from None
        found.append(item)
    return found


def questions_digest(questions: Iterable[MatchingQuestion], embedder: str, settings: object) -> str:
    """What trained weights depend on: the questions, their sentences, the embedder and the fit's settings."""
    rows = [[q.card, q.sentence, q.question, q.voice, q.intent] for q in questions]
    payload = json.dumps([embedder, settings, rows], ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


@dataclass(frozen=True, eq=False)  # compared and hashed by identity: it holds an array
class QueryAdapter:
    """``q' = norm(q + q @ weight)`` for unit question vectors of the embedder it was trained for."""

    embedder: str  # identity ('name@sha256-prefix') of the embedder
    digest: str  # of the training questions and settings (questions_digest)
    weight: np.ndarray  # (dim, dim) float32
    report: dict[str, Any]  # validation numbers of the training run, for people to read

    def apply(self, vectors: np.ndarray) -> np.ndarray:
        """Adapted, L2-normalised copies of (n, dim) unit question vectors."""
        adapted = vectors + vectors @ self.weight
        norms = np.linalg.norm(adapted, axis=1, keepdims=True)
        return np.ascontiguousarray(adapted / np.maximum(norms, 1e-12), dtype=np.float32)

    def save(self, path: Path) -> None:
        """Write the weights (no pickle) via a temporary file, so a crash never leaves half a file."""
        meta = {"format": FORMAT, "embedder": self.embedder, "digest": self.digest, "report": self.report}
        path = Path(path)
        partial = path.with_name(path.name + ".partial")
        with open(partial, "wb") as handle:
            np.savez_compressed(
                handle, weight=self.weight.astype(np.float16), meta=np.array(json.dumps(meta, sort_keys=True))
            )
        partial.replace(path)


TRAIN_MATCHER = "run `zoomqa index train-matcher` (or set index.matcher_weights to a file it wrote)"


def load_adapter(path: Path, *, embedder: str, retrain: str = TRAIN_MATCHER) -> QueryAdapter:
    """The adapter at ``path`` for vectors of ``embedder``; one ZoomqaError for any problem,
    ending in ``retrain``: how to write a current one."""
    try:
        with np.load(path, allow_pickle=False) as data:
            weight = data["weight"].astype(np.float32)
            meta = json.loads(str(data["meta"]))
        if meta.get("format") != FORMAT:
            raise ValueError(f"format {meta.get('format')!r}, expected {FORMAT}")
        if weight.ndim != 2 or weight.shape[0] != weight.shape[1]:
            raise ValueError(f"weight has shape {weight.shape}, expected a square matrix")
        adapter = QueryAdapter(
            str(meta["embedder"]), str(meta["digest"]), weight, dict(meta.get("report") or {})
        )
    except FileNotFoundError:
        raise ZoomqaError(f"adapter weights not found at {path}; {retrain}") from None
    except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile) as exc:
        raise ZoomqaError(f"unreadable adapter weights {path} ({exc}); {retrain}") from None
    if adapter.embedder != embedder:
        raise ZoomqaError(
            f"adapter weights {path} were trained for embedder {adapter.embedder} "
            f"but the index uses {embedder}; {retrain}"
        )
    return adapter

"""``zoomqa faq``: a list of questions -> FAQ entries grounded in the index (Markdown, JSON, HTML).

Each distinct question gets the answer ``zoomqa ask --json`` prints for it. Phrasings that
mean the same are merged into one entry and kept as its aliases. Questions the index does not
support go to a "not covered" list with the refusal and the nearest topics, never an entry.
Answers are cached one JSON file per question, so a killed run resumes where it stopped; the
offline answer given because the model failed is never cached as the model's, so a rerun asks
the model again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from zoomqa.agent.doors.faq.entries import FaqItem, QuestionGroup
from zoomqa.agent.llm.failures import is_offline_note
from zoomqa.agent.understand.sizes import parse_scale, parse_size
from zoomqa.config import AnswerSettings
from zoomqa.errors import ZoomqaError
from zoomqa.files import write_text_atomic
from zoomqa.index.embedding import Embedder
from zoomqa.index.manifest import Manifest
from zoomqa.index.retrieval import clean_question
from zoomqa.prompts import BUNDLED_DIR, prompt_path
from zoomqa.question_set import read_question_set

# Cosine (all-MiniLM-L6-v2) from which two phrasings are one question, when they also name the
# same scale and size. Chosen on the 64 hand-written pairs of tests/fixtures/faq_pairs.jsonl (32
# paraphrases, 32 different questions on the same topic): the closest different questions
# reach 0.70, so at 0.72 none merge and 14/32 paraphrases do; 0.60 would merge 31/32
# paraphrases but also 7/32 different questions, whose answers would be lost behind another's.
MERGE_THRESHOLD = 0.72
WRITE_EVERY = 5  # the output file is rewritten after this many entries
MAX_QUESTIONS = 5000


def read_question_list(path: Path) -> list[str]:
    """Questions of a text file (one a line, ``#`` comments) or of a question-set JSONL."""
    if path.suffix == ".jsonl":
        questions = [q.question for q in read_question_set(path)]
    else:
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise ZoomqaError(f"cannot read the question list {path}: {exc}") from None
        questions = [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]
    if not questions:
        raise ZoomqaError(f"{path} holds no questions")
    if len(questions) > MAX_QUESTIONS:
        raise ZoomqaError(
            f"{path} holds {len(questions)} questions; split it into files of at most {MAX_QUESTIONS}"
        )
    for question in questions:
        clean_question(question)  # the same length limit as `zoomqa ask`
    return questions


def same_numbers(a: str, b: str) -> bool:
    """Whether two phrasings name the same scale and size ("2x" and "8x" are different questions)."""
    return parse_scale(a) == parse_scale(b) and parse_size(a) == parse_size(b)


def group_questions(
    questions: Sequence[str], embedder: Embedder, threshold: float = MERGE_THRESHOLD
) -> list[QuestionGroup]:
    """Merge near-duplicates in list order: each question joins the closest earlier entry it matches."""
    unique = list(dict.fromkeys(" ".join(q.split()) for q in questions))
    vectors = embedder.encode([clean_question(q) for q in unique])
    leaders: list[int] = []
    members: dict[int, list[str]] = {}
    for i, question in enumerate(unique):
        matches = [
            (float(vectors[i] @ vectors[lead]), lead)
            for lead in leaders
            if same_numbers(question, unique[lead])
        ]
        best = max(matches, default=(-1.0, -1))
        if best[0] >= threshold:
            members[best[1]].append(question)
        else:
            leaders.append(i)
            members[i] = []
    return [QuestionGroup(unique[lead], tuple(members[lead])) for lead in leaders]


def prompt_version(prompts_dir: Path | None) -> str:
    """A digest of every prompt template in effect (the bundled ones, or the user's replacements)."""
    digest = hashlib.sha256()
    for bundled in sorted(BUNDLED_DIR.glob("*.txt")):
        digest.update(bundled.stem.encode() + b"\0" + prompt_path(bundled.stem, prompts_dir).read_bytes())
    return digest.hexdigest()[:16]


def writer_identity(name: str, model: str | None, answer: AnswerSettings) -> str:
    """The writer and the model it runs: a different model must not reuse another's answers."""
    if name == "openai":
        return f"openai:{model or answer.openai_model}@{answer.openai_base_url or 'default'}"
    if name == "local":
        return f"local:{model or answer.gguf_path or 'bundled'}"
    return name


def index_info(manifest: Manifest) -> dict[str, Any]:
    return {
        "digest": manifest.digest,
        "records": manifest.count,
        "embedder": manifest.embedder,
        "created": manifest.created.isoformat(timespec="seconds"),
    }


class AnswerCache:
    """Finished answers, one JSON file each, keyed by (question, index, writer, prompt version)."""

    def __init__(self, folder: Path, *, index: str, writer: str, prompts: str, read: bool = True) -> None:
        self.folder = folder
        self.key_fields = {"index": index, "writer": writer, "prompt_version": prompts}
        self.read = read  # False: answer everything again (--refresh), still storing the new answers
        folder.mkdir(parents=True, exist_ok=True)

    def path(self, question: str) -> Path:
        key = json.dumps([question, *self.key_fields.values()], ensure_ascii=False)
        return self.folder / f"{hashlib.sha256(key.encode()).hexdigest()}.json"

    def get(self, question: str) -> dict[str, Any] | None:
        """The cached answer, or None (also for an unreadable file: it is simply answered again)."""
        if not self.read:
            return None
        try:
            stored = json.loads(self.path(question).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(stored, dict) or stored.get("question") != question:
            return None
        answer = stored.get("answer")
        return answer if isinstance(answer, dict) and not stands_in_for_the_model(answer) else None

    def put(self, question: str, answer: dict[str, Any]) -> bool:
        """Store ``answer``, unless it stands in for a model that failed (a rerun asks the model
        again); whether it was stored."""
        if stands_in_for_the_model(answer):
            return False
        stored = {"question": question, **self.key_fields, "answer": answer}
        write_text_atomic(self.path(question), json.dumps(stored, ensure_ascii=False))
        return True


def stands_in_for_the_model(answer: dict[str, Any]) -> bool:
    """Whether the answer is the offline one because the model failed (its server, the
    deadline): its ``fallback_reason`` says so. A draft the guard rejected was the model's
    answer to the question, and is kept with its reason like any other."""
    return is_offline_note(answer.get("fallback_reason"))


def collect(
    groups: Sequence[QuestionGroup],
    ask_json: Callable[[str], dict[str, Any]],
    cache: AnswerCache,
    *,
    on_progress: Callable[[list[FaqItem]], None],
) -> tuple[list[FaqItem], int]:
    """Every group's answer, from the cache or from ``ask_json``; returns them and the cache hits.

    ``on_progress`` receives the items so far after each one (to show progress, to checkpoint).
    The offline answer given for a model that failed is used for this run but not cached.
    """
    items: list[FaqItem] = []
    hits = 0
    for group in groups:
        answer = cache.get(group.question)
        if answer is None:
            answer = ask_json(group.question)
            cache.put(group.question, answer)
        else:
            hits += 1
        items.append(FaqItem(group, answer))
        on_progress(items)
    return items, hits

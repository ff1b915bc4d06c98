"""The record schema of the knowledge base and the readers that turn files into records.

Bundled cards also carry schema-v2 fields (``task``, ``workflow``, ``explains``, ``facts``):
short plain sentences that an answer quotes one by one, so each is checked on its own. They
also carry ``traits`` (:mod:`zoomqa.index.traits`), typed values from a closed vocabulary;
records imported from arXiv have none, and :func:`read_bundled_corpus` refuses a card without.
A file is imported whole or not at all: every problem is reported as ``file:line: what``
and nothing is returned until all lines are valid.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
from collections.abc import Iterable, Iterator
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from zoomqa.errors import ZoomqaError
from zoomqa.index.sentences import split_sentences
from zoomqa.index.traits import Traits

ARXIV_ID = re.compile(r"^(\d{4}\.\d{4,5}|[a-z][a-z-]*(\.[A-Z]{2})?/\d{7})$")
_ARXIV_PREFIX = re.compile(r"^(arxiv:|https?://arxiv\.org/(abs|pdf)/)", re.IGNORECASE)
_ARXIV_VERSION = re.compile(r"v\d+$")
GITHUB_REPO = re.compile(r"^https://github\.com/[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
RECORD_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:+/-]{0,127}$")
MAX_ERRORS_SHOWN = 10
MAX_SENTENCE_CHARS = 300
MAX_CARD_ITEMS = 20
V2_FIELDS = ("task", "workflow", "explains", "facts")  # structured card fields, optional
_SENTENCE_ENDS = (".", "!", ")")
_MARKDOWN = re.compile(r"\*\*|__|`|\]\(|^\s*([#>*+-]|\d+[.)])\s")


def normalise_arxiv_id(value: str) -> str:
    """'arXiv:2012.09161v2' and 'https://arxiv.org/abs/2012.09161' both mean '2012.09161'."""
    bare = _ARXIV_VERSION.sub("", _ARXIV_PREFIX.sub("", value.strip()))
    if not ARXIV_ID.match(bare):
        raise ValueError(f"not an arXiv identifier: {value!r}")
    return bare


def arxiv_url(arxiv_id: str) -> str:
    return f"https://arxiv.org/abs/{arxiv_id}"


def _sentences(text: str) -> list[str]:
    """The sentences of ``text``, each plain prose that an answer can quote on its own."""
    if not text:
        raise ValueError("must not be blank")
    if "\n" in text or _MARKDOWN.search(text):
        raise ValueError(f"must be plain prose on one line, no markdown: {text[:60]!r}")
    sentences = split_sentences(text)
    for sentence in sentences:
        if len(sentence) > MAX_SENTENCE_CHARS:
            raise ValueError(f"sentence longer than {MAX_SENTENCE_CHARS} characters: {sentence[:60]!r}...")
        if not sentence.endswith(_SENTENCE_ENDS):
            raise ValueError(f"sentence must end with '.', '!' or ')': {sentence[-60:]!r}")
    return sentences


def _at_most(limit: int | None) -> AfterValidator:
    """Plain prose of at most ``limit`` sentences (any number with None), whitespace collapsed."""

    def check(text: str) -> str:
        count = len(_sentences(text))
        if limit is not None and count > limit:
            wanted = "one sentence" if limit == 1 else f"at most {limit} sentences"
            raise ValueError(f"must be {wanted}, found {count}: {text[:60]!r}")
        return " ".join(text.split())

    return AfterValidator(check)


Prose = Annotated[str, _at_most(None)]
Sentence = Annotated[str, _at_most(1)]


class Workflow(BaseModel):
    """How one work turns its input into its output, as an answer's Input / Model / Output."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    input: Prose
    model: Annotated[str, _at_most(4)]
    output: Prose


class Record(BaseModel):
    """One model or paper the index knows about.

    ``kind='model'`` cards describe something a user can run (or download); ``implements``
    names the paper (arXiv id or record id) and ``tool`` the local tool that runs it, if any.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    id: str = Field(pattern=RECORD_ID.pattern)
    kind: Literal["model", "paper"]
    title: str = Field(min_length=1, max_length=500)
    authors: list[str] = Field(min_length=1)
    year: int = Field(ge=1900, le=2100)
    arxiv_id: str | None = None
    github: str | None = None
    url: str | None = Field(None, pattern=r"^https?://\S+$", description="Home page when no arXiv id.")
    venue: str | None = None
    summary: str = Field(min_length=1, max_length=6000)
    tasks: list[str] = Field(default_factory=list)
    implements: str | None = None
    tool: str | None = Field(None, pattern=r"^[a-z0-9][a-z0-9-]*$")
    # Schema v2, written for bundled cards (records imported from arXiv have none):
    task: Sentence | None = Field(None, description="The task in plain words: what a person uses it for.")
    workflow: Workflow | None = None
    explains: list[Sentence] = Field(
        default_factory=list, max_length=MAX_CARD_ITEMS, description="'Why you saw X' sentences."
    )
    facts: list[Sentence] = Field(
        default_factory=list, max_length=MAX_CARD_ITEMS, description="Atomic claims, each naming its subject."
    )
    traits: Traits | None = Field(None, description="Typed traits; required of bundled cards only.")

    @field_validator("arxiv_id")
    @classmethod
    def _arxiv(cls, value: str | None) -> str | None:
        return normalise_arxiv_id(value) if value else None

    @field_validator("github")
    @classmethod
    def _github(cls, value: str | None) -> str | None:
        if not value:
            return None
        value = value.rstrip("/").removesuffix(".git")
        if not GITHUB_REPO.match(value):
            raise ValueError(f"not a GitHub repository URL (https://github.com/owner/repo): {value!r}")
        return value

    @field_validator("authors", "tasks")
    @classmethod
    def _no_blank_items(cls, value: list[str]) -> list[str]:
        items = [v.strip() for v in value]
        if any(not v for v in items):
            raise ValueError("items must not be blank")
        return items

    @model_validator(mode="after")
    def _kind_rules(self) -> Record:
        if self.kind == "model" and not self.implements:
            raise ValueError("a model record must name the paper it implements ('implements')")
        if self.kind == "paper" and (self.implements or self.tool):
            raise ValueError("'implements' and 'tool' belong to model records only")
        seen: set[str] = set()
        for sentence in (*self.explains, *self.facts):
            key = sentence.casefold()
            if key in seen:
                raise ValueError(f"sentence appears twice in explains/facts: {sentence[:60]!r}")
            seen.add(key)
        return self

    @property
    def work(self) -> str:
        """The work this record is about: the paper a model card implements, else its own
        arXiv id or id. Records of one work explain the same method."""
        if self.kind == "model" and self.implements:
            return self.implements
        return self.arxiv_id or self.id

    @property
    def date(self) -> tuple[int, str]:
        """When the work appeared, as finely as known: the year, then the arXiv id (year and month)."""
        return self.year, self.arxiv_id or ""

    @property
    def links(self) -> dict[str, str]:
        """The record's links, in the order an answer lists them."""
        found = {}
        if self.arxiv_id:
            found["arxiv"] = arxiv_url(self.arxiv_id)
        if self.github:
            found["github"] = self.github
        if self.url:
            found["url"] = self.url
        return found

    def card_fields(self) -> list[tuple[str, str]]:
        """The card's structured sentences as (field, text): task, workflow steps, explains,
        facts (empty for records imported from arXiv)."""
        items: list[tuple[str, str]] = [("task", self.task)] if self.task else []
        if self.workflow is not None:
            items += [
                ("workflow.input", self.workflow.input),
                ("workflow.model", self.workflow.model),
                ("workflow.output", self.workflow.output),
            ]
        return items + [("explains", t) for t in self.explains] + [("facts", t) for t in self.facts]

    def embedding_text(self) -> str:
        """The text that is embedded and keyword-indexed: what a question should match."""
        tasks = "; ".join(self.tasks)
        return f"{self.title}. {tasks}. {self.summary}" if tasks else f"{self.title}. {self.summary}"

    def keyword_text(self) -> str:
        """What BM25 matches: the embedding text plus the card's task, workflow, explains and
        facts, so a question using a card's exact terms ("cell size", "CPU") finds the card
        even when its summary does not say them. (The embedding stays on the short text: a
        sentence embedder averages a long text into vagueness.)"""
        parts = [self.embedding_text(), self.task or ""]
        if self.workflow is not None:
            parts += [self.workflow.input, self.workflow.model, self.workflow.output]
        return " ".join(p for p in (*parts, *self.explains, *self.facts) if p)

    def content_hash(self) -> str:
        """Changes whenever any field changes; stable across runs and machines.

        Unset schema-v2 fields and traits are left out, so records without them (everything
        imported from arXiv) hash exactly as they would without them, and an index needs no rewrite.
        """
        unset = {name for name in (*V2_FIELDS, "traits") if not getattr(self, name)}
        fields = self.model_dump(mode="json", exclude=unset)
        canonical = json.dumps(fields, sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def record_from_arxiv_metadata(data: dict[str, Any]) -> Record:
    """Map an arXiv metadata line (arxiv_id, title, authors, abstract, year, github...)."""
    arxiv_id = normalise_arxiv_id(str(data["arxiv_id"]))
    github = data.get("github")
    if isinstance(github, list):
        github = next((g for g in github if isinstance(g, str) and GITHUB_REPO.match(g.rstrip("/"))), None)
    year = data.get("year") or int(str(data.get("date", ""))[:4])
    return Record(
        id=f"arxiv:{arxiv_id}",
        kind="paper",
        title=" ".join(str(data["title"]).split()),
        authors=[a for a in (str(x).strip() for x in data.get("authors") or []) if a] or ["unknown"],
        year=year,
        arxiv_id=arxiv_id,
        github=github,
        venue=data.get("venue") or None,
        summary=" ".join(str(data["abstract"]).split()),
    )


def _is_arxiv_metadata(data: dict[str, Any]) -> bool:
    return "kind" not in data and "abstract" in data and "arxiv_id" in data


def parse_record(data: Any) -> Record:
    """One decoded JSON line in either accepted format."""
    if not isinstance(data, dict):
        raise ValueError("each line must be a JSON object")
    if _is_arxiv_metadata(data):
        try:
            return record_from_arxiv_metadata(data)
        except KeyError as exc:
            raise ValueError(f"arXiv metadata without {exc.args[0]!r}") from None
    return Record.model_validate(data)


def _describe(exc: ValidationError) -> str:
    parts = []
    for e in exc.errors():
        where = ".".join(str(p) for p in e["loc"])
        msg = e["msg"].removeprefix("Value error, ")
        parts.append(f"{where}: {msg}" if where else msg)
    return "; ".join(parts)


def _open_text(path: Path) -> Iterator[str]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        yield from handle


def read_records(path: Path) -> list[Record]:
    """All records of a JSONL (or .jsonl.gz) file, or a :class:`ZoomqaError` listing what is wrong."""
    path = Path(path)
    if not path.is_file():
        raise ZoomqaError(f"no such file: {path}")
    records: list[Record] = []
    problems: list[str] = []
    seen: dict[str, int] = {}
    try:
        for number, line in enumerate(_open_text(path), start=1):
            if not line.strip():
                continue
            try:
                record = parse_record(json.loads(line))
            except json.JSONDecodeError as exc:
                problems.append(f"{path}:{number}: invalid JSON ({exc.msg})")
                continue
            except ValidationError as exc:
                problems.append(f"{path}:{number}: {_describe(exc)}")
                continue
            except (ValueError, TypeError) as exc:
                problems.append(f"{path}:{number}: {exc}")
                continue
            if record.id in seen:
                problems.append(
                    f"{path}:{number}: duplicate id {record.id!r} (first on line {seen[record.id]})"
                )
                continue
            seen[record.id] = number
            records.append(record)
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise ZoomqaError(f"cannot read {path}: {exc}") from None
    if problems:
        shown = "\n".join(problems[:MAX_ERRORS_SHOWN])
        more = len(problems) - MAX_ERRORS_SHOWN
        tail = f"\n... and {more} more problems" if more > 0 else ""
        raise ZoomqaError(f"{len(problems)} invalid line(s); nothing was imported:\n{shown}{tail}")
    if not records:
        raise ZoomqaError(f"{path} holds no records")
    return records


def bundled_corpus_files() -> list[Path]:
    """The knowledge base shipped with zoomqa (index/data/*.jsonl)."""
    data = Path(__file__).resolve().parent / "data"
    return sorted(data.glob("*.jsonl"))


def read_bundled_corpus() -> list[Record]:
    """Every bundled record; ids are unique across files and every card carries traits."""
    paths = bundled_corpus_files()
    groups = [read_records(path) for path in paths]
    for path, records in zip(paths, groups, strict=True):
        missing = [record.id for record in records if record.traits is None]
        if missing:
            names = ", ".join(repr(i) for i in missing[:MAX_ERRORS_SHOWN])
            more = f" and {len(missing) - MAX_ERRORS_SHOWN} more" if len(missing) > MAX_ERRORS_SHOWN else ""
            raise ZoomqaError(f"{path}: bundled card(s) without traits: {names}{more}")
    return merge_unique(groups)


@cache
def bundled_cards() -> tuple[Record, ...]:
    """The bundled records, read once per process: answering consults them for every question
    (the work called in, the local method, the claim check's vocabulary, the card words) and
    they change only with the installed package."""
    return tuple(read_bundled_corpus())


def merge_unique(groups: Iterable[list[Record]]) -> list[Record]:
    """Concatenate record lists, refusing an id that appears twice."""
    merged: dict[str, Record] = {}
    for group in groups:
        for record in group:
            if record.id in merged:
                raise ZoomqaError(f"record id {record.id!r} appears in more than one file")
            merged[record.id] = record
    return list(merged.values())

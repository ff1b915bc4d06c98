"""The index's front doors: ``zoomqa index ...``, ``zoomqa search`` and ``zoomqa eval retrieval``.

Heavy libraries (torch, faiss, sentence-transformers) load inside the commands, so
``zoomqa --help`` stays fast.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from zoomqa.config import Settings, get_settings
from zoomqa.errors import ZoomqaError

if TYPE_CHECKING:
    from zoomqa.index.results import Hit, SearchResult
    from zoomqa.index.retrieval import HybridRetriever
    from zoomqa.index.store import IndexStore, UpdateReport

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)

index_app = typer.Typer(name="index", help="Build and change the local paper index.", no_args_is_help=True)


def _use_threads(settings: Settings) -> None:
    if settings.threads:
        import torch

        torch.set_num_threads(settings.threads)


@contextmanager
def _store(index_dir: Path, settings: Settings) -> Iterator[IndexStore]:
    """An index writer that shows embedding progress on stderr."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from zoomqa.index.store import IndexStore

    _use_threads(settings)
    columns = (TextColumn("embedding"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=err, transient=True) as progress:
        task = progress.add_task("embedding", total=None)

        def advance(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        yield IndexStore(index_dir, batch_size=settings.index.batch_size, progress=advance)


def _print_report(report: UpdateReport, index_dir: Path) -> None:
    if report.dropped_unreadable:
        err.print(
            "[yellow]warning:[/] the old index was unreadable; records added from other files must be re-added"
        )
    if not report.changed:
        total = report.manifest.count if report.manifest else 0
        out.print(
            f"nothing changed: all {report.unchanged} records are already in the index ({total} in all)"
        )
        return
    parts = [
        f"{count} {label}"
        for count, label in (
            (report.added, "added"),
            (report.reembedded, "re-embedded"),
            (report.metadata_only, "metadata updated"),
            (report.removed, "removed"),
            (report.unchanged, "unchanged"),
        )
        if count
    ]
    count = report.manifest.count if report.manifest else 0
    out.print(f"{', '.join(parts)}; the index at {escape(str(index_dir))} holds {count} records")


@index_app.command()
def build(
    if_missing: Annotated[
        bool, typer.Option("--if-missing", help="Do nothing when an index exists.")
    ] = False,
    rebuild: Annotated[
        bool,
        typer.Option("--rebuild", help="Re-embed everything (after changing the embedder, or to repair)."),
    ] = False,
) -> None:
    """Build or refresh the bundled knowledge base in the index (only what changed is embedded)."""
    from zoomqa.index.embedding import load_embedder
    from zoomqa.index.generations import current_generation
    from zoomqa.index.metadata import Entry
    from zoomqa.index.records import read_bundled_corpus
    from zoomqa.index.store import BUNDLED_SOURCE

    if if_missing and rebuild:
        raise ZoomqaError("--if-missing and --rebuild contradict each other; give one")
    settings = get_settings()
    index_dir = settings.index_dir
    if if_missing and current_generation(index_dir) is not None:
        out.print(f"an index exists at {escape(str(index_dir))}; nothing to do")
        return
    entries = [Entry.of(record, BUNDLED_SOURCE) for record in read_bundled_corpus()]
    embedder = load_embedder(settings.index.embedder)
    with _store(index_dir, settings) as store:
        if rebuild:
            report = store.rebuild(entries, embedder, replace_sources={BUNDLED_SOURCE})
        else:
            report = store.upsert(entries, embedder, replace_sources={BUNDLED_SOURCE})
    _print_report(report, index_dir)
    # Opening a retriever embeds the cards' sentences into the index's vector cache: done
    # here, the first question does not wait for it.
    with err.status("embedding the cards' sentences for search"), open_retriever(index_dir, settings):
        pass


@index_app.command()
def add(
    file: Annotated[Path, typer.Argument(help="JSONL (or .jsonl.gz) of zoomqa records or arXiv metadata.")],
) -> None:
    """Add or update the records of a file; a file with any bad line imports nothing."""
    from zoomqa.index.embedding import load_embedder
    from zoomqa.index.metadata import Entry
    from zoomqa.index.records import read_records

    settings = get_settings()
    entries = [Entry.of(record, file.name) for record in read_records(file)]
    embedder = load_embedder(settings.index.embedder)
    with _store(settings.index_dir, settings) as store:
        report = store.upsert(entries, embedder)
    _print_report(report, settings.index_dir)


@index_app.command()
def remove(ids: Annotated[list[str], typer.Argument(help="Record ids, e.g. arxiv:2012.09161.")]) -> None:
    """Remove records by id (all of them, or none if any id is unknown)."""
    settings = get_settings()
    with _store(settings.index_dir, settings) as store:
        report = store.remove(set(ids))
    _print_report(report, settings.index_dir)


@index_app.command()
def arxiv(
    ids: Annotated[list[str] | None, typer.Option("--id", help="An arXiv id; repeat for more.")] = None,
    query: Annotated[
        str | None, typer.Option("--query", help="An arXiv API query, e.g. 'ti:super resolution'.")
    ] = None,
    max_results: Annotated[int, typer.Option("--max", help="Most papers a query adds.")] = 20,
) -> None:
    """Fetch papers from the arXiv API and add them (ids arxiv:<id>)."""
    from zoomqa.index.arxiv_api import ARXIV_API_SOURCE, fetch_papers
    from zoomqa.index.embedding import load_embedder
    from zoomqa.index.metadata import Entry

    settings = get_settings()
    records = fetch_papers(
        ids=ids or (),
        query=query,
        max_results=max_results,
        api_url=settings.index.arxiv_api_url,
        delay_s=settings.index.arxiv_delay_s,
    )
    out.print(f"arXiv returned {len(records)} paper(s)")
    embedder = load_embedder(settings.index.embedder)
    with _store(settings.index_dir, settings) as store:
        report = store.upsert([Entry.of(record, ARXIV_API_SOURCE) for record in records], embedder)
    _print_report(report, settings.index_dir)


@index_app.command()
def stats(as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False) -> None:
    """What the index holds: records by kind and source, embedder, size on disk, when it was built."""
    from zoomqa.index.manifest import MANIFEST
    from zoomqa.index.snapshot import open_snapshot

    settings = get_settings()
    snapshot = open_snapshot(settings.index_dir, with_keywords=False)
    try:
        by_kind = snapshot.records.count_by("kind")
    finally:
        snapshot.records.close()
    manifest = snapshot.manifest
    size = sum(manifest.files.values()) + (snapshot.path / MANIFEST).stat().st_size
    data = {
        "path": str(snapshot.path),
        "records": manifest.count,
        "by_kind": by_kind,
        "sources": manifest.sources,
        "embedder": manifest.embedder,
        "dim": manifest.dim,
        "size_bytes": size,
        "created": manifest.created.isoformat(timespec="seconds"),
    }
    if as_json:
        typer.echo(json.dumps(data))
        return
    table = Table(show_header=False, box=None)
    for key, value in data.items():
        shown = ", ".join(f"{k}: {v}" for k, v in value.items()) if isinstance(value, dict) else value
        table.add_row(key.replace("_", " "), escape(str(shown)))
    out.print(table)


_TRAINING_GROUPS = {
    "question": "in-domain questions (false refusals)",
    "written": "questions written for card sentences and work situations (false refusals)",
    "card": "card sentences (false refusals)",
    "near-domain": "near-domain off-topic (false answers)",
    "general": "general off-topic (false answers)",
}


WeightsOut = Annotated[
    Path | None, typer.Option("--out", help="Where to write the weights (default: the shipped file).")
]


def weights_target(destination: Path | None, shipped: Path) -> Path:
    """Where a retraining command writes: the shipped file, or ``--out`` when its folder exists."""
    target = shipped if destination is None else destination.expanduser()
    if not target.parent.is_dir():
        raise ZoomqaError(f"cannot write {target}: {target.parent} is not a folder")
    return target


@index_app.command("train-relevance")
def train_relevance(destination: WeightsOut = None) -> None:
    """Re-train the relevance classifier on the bundled cards and the texts in index/data/relevance/."""
    from zoomqa.index.embedding import load_embedder
    from zoomqa.index.relevance import SHIPPED_WEIGHTS
    from zoomqa.index.relevance_training import train_relevance as train

    settings = get_settings()
    _use_threads(settings)
    target = weights_target(destination, SHIPPED_WEIGHTS)
    with err.status("embedding the training texts and cross-validating"):
        model = train(load_embedder(settings.index.embedder))
    model.save(target)
    report = model.report
    title = f"{report['folds']}-fold cross-validation, mean of {report['repeats']}"
    table = Table(title, "texts", "decided wrongly", box=None)
    for group, label in _TRAINING_GROUPS.items():
        counts = report[group]
        table.add_row(label, str(counts["n"]), str(counts["wrong"]))
    out.print(table)
    for text in report["false_refusals"]:
        out.print(f"  refused: {escape(text)}")
    for text in report["false_answers"]:
        out.print(f"  answered: {escape(text)}")
    out.print(
        f"threshold {model.threshold:+.2f} (logit); wrote {escape(str(target))} (digest {model.digest[:12]})"
    )


@index_app.command("train-matcher")
def train_matcher(destination: WeightsOut = None) -> None:
    """Re-train the question adapter on the questions in index/data/matching/ and the bundled cards."""
    from zoomqa.index.embedding import load_embedder
    from zoomqa.index.matching import SHIPPED_ADAPTER
    from zoomqa.index.matching_training import train_matcher as train

    settings = get_settings()
    _use_threads(settings)
    target = weights_target(destination, SHIPPED_ADAPTER)
    with err.status("embedding the questions and card sentences, choosing the penalty, fitting"):
        adapter = train(load_embedder(settings.index.embedder))
    adapter.save(target)
    report = adapter.report
    table = Table("held out", "questions", "embedder: sentence top-1 / top-5 / card", "adapted", box=None)
    held = report["held_out_questions"]
    chosen = held[str(report["penalty"])]
    for label, n, scores in (
        ("questions", held["n"], chosen),
        ("whole cards", report["held_out_cards"]["n"], report["held_out_cards"]),
    ):
        row = [
            " / ".join(f"{scores[side][m]:.3f}" for m in ("sentence_top1", "sentence_top5", "card_top1"))
            for side in ("base", "adapted")
        ]
        table.add_row(label, str(n), *row)
    out.print(table)
    out.print(
        f"{report['questions']} questions, {report['sentences']} card sentences, penalty {report['penalty']}; "
        f"wrote {escape(str(target))} (digest {adapter.digest[:12]})"
    )


def open_retriever(index_dir: Path, settings: Settings, k: int | None = None) -> HybridRetriever:
    """The configured retriever over ``index_dir``; it says on stderr when the index holds older
    bundled cards than this installation ships (after an upgrade), since answers quote them."""
    from zoomqa.index.retrieval import HybridRetriever

    retriever = HybridRetriever.from_settings(index_dir, settings, k)
    note = retriever.outdated_note()
    if note:
        err.print(f"[yellow]note:[/] {note}", soft_wrap=True, highlight=False)
    return retriever


def _hit_json(hit: Hit) -> dict[str, object]:
    record = hit.record
    return {
        "id": record.id,
        "kind": record.kind,
        "title": record.title,
        "year": record.year,
        "score": hit.score,
        "similarity": hit.similarity,
        "links": record.links,
        "tasks": record.tasks,
        "tool": record.tool,
    }


def _result_json(result: SearchResult) -> dict[str, object]:
    return {
        "question": result.question,
        "relevant": result.relevant,
        "models": [_hit_json(hit) for hit in result.models],
        "papers": [_hit_json(hit) for hit in result.papers],
        "nearest_topics": list(result.nearest_topics),
    }


def _print_block(title: str, hits: tuple[Hit, ...]) -> None:
    out.print(f"[bold]{title}[/]")
    if not hits:
        out.print("  (none)")
    for number, hit in enumerate(hits, start=1):
        record = hit.record
        out.print(f"  {number}. {escape(record.title)} ({record.year})  score {hit.score:.2f}")
        for name, url in record.links.items():
            out.print(f"     {name}: {escape(url)}")


def search(
    question: Annotated[str, typer.Argument(help="Your question, in plain words.")],
    k: Annotated[int | None, typer.Option("--k", min=1, max=100, help="Results per block.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Find the models and papers in the index that answer a question."""
    settings = get_settings()
    retriever = open_retriever(settings.index_dir, settings, k)
    with retriever:
        result = retriever.search(question)
    if as_json:
        typer.echo(json.dumps(_result_json(result)))
        return
    if not result.relevant:
        out.print("Nothing relevant in the index.")
        if result.nearest_topics:
            out.print("Nearest topics it covers: " + escape("; ".join(result.nearest_topics)))
        return
    _print_block("Models", result.models)
    _print_block("Papers", result.papers)


def evaluation_index(settings: Settings, extra_corpus: Path | None) -> Path:
    """A cached index of bundled (+ extra) records, synced incrementally; the user's index is untouched."""
    from zoomqa.index.embedding import load_embedder
    from zoomqa.index.metadata import Entry
    from zoomqa.index.records import read_bundled_corpus, read_records
    from zoomqa.index.store import BUNDLED_SOURCE

    entries = [Entry.of(record, BUNDLED_SOURCE) for record in read_bundled_corpus()]
    name = "bundled"
    if extra_corpus is not None:
        entries += [Entry.of(record, extra_corpus.name) for record in read_records(extra_corpus)]
        name += "+" + re.sub(r"[^A-Za-z0-9._-]", "_", extra_corpus.name)
    index_dir = settings.home / "eval-index" / name
    embedder = load_embedder(settings.index.embedder)
    with _store(index_dir, settings) as store:
        try:
            store.upsert(entries, embedder, replace_all=True)
        except ZoomqaError as exc:  # a damaged or foreign cache is ours to replace
            err.print(f"rebuilding the evaluation index ({exc})")
            store.rebuild(entries, embedder, replace_sources={e.source for e in entries})
    return index_dir


def eval_retrieval(
    questions: Annotated[
        Path, typer.Option("--questions", help="Question set JSONL (id, question, relevant, expect).")
    ],
    extra_corpus: Annotated[
        Path | None,
        typer.Option("--extra-corpus", help="JSONL(.gz) of more records, e.g. arXiv distractors."),
    ] = None,
    k: Annotated[int, typer.Option("--k", min=10, max=100, help="Results per block for each question.")] = 10,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    calibrate_threshold: Annotated[
        bool,
        typer.Option(
            "--calibrate", help="Also compute the relevance threshold that fits the questions best."
        ),
    ] = False,
) -> None:
    """Recall@1/5/10, MRR and refusal accuracy of retrieval on a question set."""
    from zoomqa.index.evaluation import calibrate, evaluate, report_json
    from zoomqa.question_set import read_question_set

    settings = get_settings()
    question_set = read_question_set(questions)
    retriever = open_retriever(evaluation_index(settings, extra_corpus), settings)
    with retriever:
        report = evaluate(retriever, question_set, k=k)
    calibration = calibrate(report.outcomes) if calibrate_threshold else None
    if as_json:
        typer.echo(report_json(report, calibration))
        return
    table = Table("metric", "value", box=None)
    for key, value in report.as_json().items():
        if key != "per_question":
            table.add_row(key, f"{value:.3f}" if isinstance(value, float) else str(value))
    out.print(table)
    decided = "" if retriever.classifier is None else ", then the relevance classifier"
    out.print(
        f"threshold in use: {retriever.min_relevance:.3f} (cosine of the nearest bundled card){decided}"
    )
    for miss in report.misses():
        why = (
            "refused"
            if miss.refused
            else "not refused"
            if miss.expect == "refuse"
            else f"rank {miss.hit_rank}"
        )
        out.print(f"  miss {miss.id} ({miss.expect}): {why}, nearest cosine {miss.best_similarity:.3f}")
    if calibration is not None:
        out.print(
            f"calibrated threshold: {calibration.threshold:.3f} (accuracy {calibration.accuracy:.3f}, "
            f"margin {calibration.margin:.3f}, as if the cosine floor decided alone); "
            "set index.min_relevance or CALIBRATED_MIN_RELEVANCE to it"
        )

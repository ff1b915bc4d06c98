"""``zoomqa faq``: turn a list of questions into grounded FAQ entries, resumable from a cache."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.console import Console

from zoomqa.agent.doors.options import ModelOption, WriterOption
from zoomqa.config import get_settings
from zoomqa.errors import ZoomqaError
from zoomqa.files import write_text_atomic

err = Console(stderr=True)


FaqFormatName = Literal["md", "json", "html"]


def faq(
    questions: Annotated[
        Path,
        typer.Argument(
            help="Text file, one question a line (# comments), or question-set JSONL.", show_default=False
        ),
    ],
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="File to write (atomically, also every few entries); default: print it when done.",
            show_default=False,
        ),
    ] = None,
    fmt: Annotated[
        FaqFormatName | None,
        typer.Option(
            "--format",
            "-f",
            help="md, json or html; default: the output's suffix, else md.",
            show_default=False,
        ),
    ] = None,
    writer: WriterOption = None,
    model: ModelOption = None,
    refresh: Annotated[
        bool, typer.Option("--refresh", help="Answer every question again instead of reusing cached answers.")
    ] = False,
) -> None:
    """Turn a list of questions into grounded FAQ entries; a rerun resumes from cached answers."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from zoomqa.agent.doors.faq import entries, pages
    from zoomqa.agent.doors.faq import generator as faqs
    from zoomqa.agent.doors.terminal_view import print_notices
    from zoomqa.agent.turn.assistant import Assistant

    settings = get_settings()
    chosen = pages.output_format(fmt, output)
    if output is not None and not output.parent.is_dir():
        raise ZoomqaError(f"cannot write {output}: the folder {output.parent} does not exist")
    phrasings = faqs.read_question_list(questions)
    # no folder is allowed: a question list never makes zoomqa read or write a picture
    with Assistant.from_settings(settings, writer=writer, model=model, allowed_dirs=[]) as assistant:
        print_notices(err, assistant)
        retriever = assistant.retriever
        groups = faqs.group_questions(phrasings, retriever.embedder)
        index = faqs.index_info(retriever.manifest)
        cache = faqs.AnswerCache(
            settings.home / "faq-cache",
            index=f"{index['digest']} k={retriever.k} min_relevance={retriever.min_relevance}",
            writer=faqs.writer_identity(assistant.writer_name, model, settings.answer),
            prompts=faqs.prompt_version(settings.answer.prompts_dir),
            read=not refresh,
        )

        def document(items: list[entries.FaqItem]) -> str:
            return pages.render_faq(entries.Faq(tuple(items), index, assistant.writer_name), chosen)

        columns = (TextColumn("answering"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
        with Progress(*columns, console=err, transient=True) as progress:
            task = progress.add_task("answering", total=len(groups))

            def advance(items: list[entries.FaqItem]) -> None:
                progress.update(task, completed=len(items))
                if output is not None and (len(items) % faqs.WRITE_EVERY == 0 or len(items) == len(groups)):
                    write_text_atomic(output, document(items))

            # the same Reply.as_json() that `zoomqa ask --json` prints
            items, hits = faqs.collect(
                groups, lambda q: assistant.respond(q).as_json(), cache, on_progress=advance
            )
    if output is None:
        typer.echo(document(items), nl=False)
    covered = sum(1 for item in items if item.covered)
    where = f"wrote {output}" if output is not None else "done"
    err.print(
        f"{where}: {covered} entries, {len(items) - covered} not covered, from {len(phrasings)} questions "
        f"({len(phrasings) - len(items)} merged as aliases); {hits} answers from the cache, "
        f"{len(items) - hits} newly written",
        highlight=False,
    )

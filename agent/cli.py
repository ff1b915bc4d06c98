"""``zoomqa ask`` and ``zoomqa eval answers``: the answer path from the command line.

Heavy libraries (torch, faiss, langchain, llama_cpp) are imported inside the commands so
that ``zoomqa --help`` stays fast.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer
from rich.console import Console
from rich.table import Table

from zoomqa.config import Settings, WriterName, get_settings
from zoomqa.errors import ZoomqaError

if TYPE_CHECKING:
    from zoomqa.agent.answering import Answerer
    from zoomqa.index.embedding import Embedder

out = Console()
err = Console(stderr=True)

WriterOption = Annotated[
    WriterName | None,
    typer.Option(
        "--writer",
        "-w",
        help="extractive (quotes the sources), local (GGUF model in-process) or openai "
        "(OpenAI-compatible server); default: the measured default.",
        show_default=False,
    ),
]
ModelOption = Annotated[
    str | None,
    typer.Option(
        "--model", "-m", help="Model name for openai, or a GGUF file for local.", show_default=False
    ),
]
KOption = Annotated[
    int | None,
    typer.Option(
        "--k", "-k", min=1, max=100, help="Models and papers to retrieve (each).", show_default=False
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object instead of Markdown.")]


def _answerer(settings: Settings, writer: str | None, model: str | None, embedder: Embedder) -> Answerer:
    from zoomqa.agent.assistant import build_answerer

    return build_answerer(settings, writer, model, embedder)


def _here_and_configured(settings: Settings) -> list[Path]:
    """Folders the upscaler may use from the terminal: the current one and the configured ones."""
    return [Path.cwd(), *settings.upscale.allowed_dirs]


def ask(
    question: Annotated[str, typer.Argument(help="Your question, in plain words.", show_default=False)],
    writer: WriterOption = None,
    model: ModelOption = None,
    k: KOption = None,
    as_json: JsonOption = False,
) -> None:
    """Answer a question about image super-resolution from the local index, with sources.

    A request such as "upscale cat.png 3x" also enlarges the picture (in the current folder or
    the configured upscale.allowed_dirs) and reports the result inside the answer.
    """
    from zoomqa.agent.assistant import Assistant
    from zoomqa.agent.chat import print_reply, respond_live

    settings = get_settings()
    with Assistant.from_settings(
        settings, writer=writer, model=model, k=k, allowed_dirs=_here_and_configured(settings)
    ) as assistant:
        if as_json:
            typer.echo(json.dumps(assistant.respond(question).as_json(), indent=2))
            return
        reply = respond_live(out, lambda **hooks: assistant.respond(question, **hooks))
    print_reply(out, reply)


def chat(
    writer: WriterOption = None,
    model: ModelOption = None,
    k: KOption = None,
) -> None:
    """Talk about image super-resolution in the terminal; ask it to enlarge pictures in this folder."""
    from zoomqa.agent.assistant import Assistant
    from zoomqa.agent.chat import run_chat

    settings = get_settings()
    with Assistant.from_settings(
        settings, writer=writer, model=model, k=k, allowed_dirs=_here_and_configured(settings)
    ) as assistant:
        run_chat(assistant, settings, out)


def answers(
    questions: Annotated[
        Path,
        typer.Option(
            "--questions", "-q", help="Question set (JSONL: id, question, relevant, expect, anchor, nuggets)."
        ),
    ],
    writer: WriterOption = None,
    model: ModelOption = None,
    k: KOption = None,
    tau: Annotated[
        float | None,
        typer.Option("--tau", min=0.0, max=1.0, help="Nugget matcher threshold (cosine).", show_default=False),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Score answers on a question set: structure, citations, links, support, nugget recall,
    anchor accuracy, refusals (false refusals and false answers), latency.

    Runs on the same cached index of the bundled records as ``zoomqa eval retrieval``.
    """
    import dataclasses

    from zoomqa.agent.evaluation import NUGGET_TAU, AnswerQuestion, AnswerReport, Works, score_answer
    from zoomqa.agent.tool_eval import ToolSandbox, read_tool_questions
    from zoomqa.index.cli import evaluation_index, open_retriever
    from zoomqa.index.evaluation import read_questions
    from zoomqa.index.records import read_bundled_corpus

    settings = get_settings()
    question_set = read_questions(questions, AnswerQuestion)
    works = Works(read_bundled_corpus())
    outcomes = []
    with (
        open_retriever(evaluation_index(settings, None), settings, k) as retriever,
        ToolSandbox(read_tool_questions(questions)) as sandbox,
    ):
        answerer = _answerer(settings, writer, model, retriever.embedder)
        assistant = sandbox.assistant(retriever, answerer, settings)
        for q in question_set:
            tool_correct = None
            if q.id in sandbox.questions:  # run through the assistant: the upscaler on a stand-in picture
                reply, tool_correct = sandbox.respond(assistant, q.id)
                result, answer = retriever.search(reply.condensed_question), reply.answer
            else:
                started = time.perf_counter()
                result = retriever.search(q.question)
                answer = answerer.answer(result, retrieval_s=time.perf_counter() - started)
            outcome = score_answer(
                q, result, answer, retriever.embedder, answerer.guard.threshold, works,
                tau=NUGGET_TAU if tau is None else tau,
            )
            outcomes.append(dataclasses.replace(outcome, tool_correct=tool_correct))
            err.print(f"[dim]{len(outcomes)}/{len(question_set)} {q.id}[/]", highlight=False)  # stdout stays JSON
    report = AnswerReport(tuple(outcomes)).as_json()
    if as_json:
        typer.echo(json.dumps(report))
        return
    out.print(_report_table(report, answerer.writer.name))
    out.print(_report_summary(report), highlight=False)


def nuggets(
    labels: Annotated[
        Path,
        typer.Option("--labels", "-l", help="Hand labels (JSONL: statement, nugget, covered, origin)."),
    ],
    tau: Annotated[
        float | None,
        typer.Option("--tau", min=0.0, max=1.0, help="Threshold to report (default: the one in use).", show_default=False),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Agreement of the nugget matcher with hand labels: accuracy, precision, recall, best threshold."""
    import numpy as np

    from zoomqa.agent.evaluation import NUGGET_TAU, MatcherAgreement, best_tau, label_similarities, read_nugget_labels
    from zoomqa.index.embedding import load_embedder

    settings = get_settings()
    judged = read_nugget_labels(labels)
    similarities = label_similarities(judged, load_embedder(settings.index.embedder))
    truth = [label.covered for label in judged]
    current = MatcherAgreement.at(similarities, truth, NUGGET_TAU if tau is None else tau)
    best = best_tau(similarities, truth, np.round(np.arange(0.30, 0.901, 0.025), 3))
    disagreements = [
        {"statement": label.statement, "nugget": label.nugget, "covered": label.covered, "cosine": round(sim, 3)}
        for label, sim in zip(judged, similarities, strict=True)
        if (sim >= current.tau) != label.covered
    ]
    if as_json:
        data = {"at_tau": asdict(current), "best": asdict(best), "disagreements": disagreements}
        typer.echo(json.dumps(data))
        return
    for name, agreement in (("at tau", current), ("best tau", best)):
        out.print(
            f"{name} {agreement.tau:.3f}: accuracy {agreement.accuracy:.3f}, precision {_fmt(agreement.precision)}, "
            f"recall {_fmt(agreement.recall)} ({agreement.n} labelled pairs)",
            highlight=False,
        )
    for d in disagreements:
        verdict = "covered" if d["covered"] else "not covered"
        out.print(f"[dim]disagrees ({verdict}, cosine {d['cosine']}): {d['statement']} | {d['nugget']}[/]", highlight=False)


COLUMNS = {  # report key -> short header, so the table fits a terminal
    "structure_ok": "struct",
    "citation_precision": "cites",
    "link_validity": "links",
    "support_rate": "support",
    "nugget_recall": "nuggets",
    "anchor_correct": "anchor",
    "refusal_correct": "refusal",
    "latency_s": "s",
    "writer": "writer",
}


def _fmt(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "NO"
    return f"{value:.2f}" if isinstance(value, float) else str(value)


def _report_table(report: dict[str, Any], writer: str) -> Table:
    totals = {
        **report,
        "refusal_correct": report["refusal_accuracy"],
        "anchor_correct": report["anchor_accuracy"],
        "latency_s": f"p50 {_fmt(report['latency_p50_s'])} / p95 {_fmt(report['latency_p95_s'])}",
        "writer": f"fallback rate {_fmt(report['fallback_rate'])}",
    }
    table = Table(title=f"answers by the {writer} writer", show_footer=True)
    table.add_column("question", footer=f"total ({report['n']})")
    for column, header in COLUMNS.items():
        table.add_column(header, footer=_fmt(totals[column]), justify="right")
    for row in report["per_question"]:
        table.add_row(row["id"], *(_fmt(row[c]) for c in COLUMNS))
    return table


FaqFormatName = Literal["md", "json", "html"]


def faq(
    questions: Annotated[
        Path,
        typer.Argument(help="Text file, one question a line (# comments), or question-set JSONL.", show_default=False),
    ],
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", help="File to write (atomically, also every few entries); default: print it when done.",
            show_default=False,
        ),
    ] = None,
    fmt: Annotated[
        FaqFormatName | None,
        typer.Option("--format", "-f", help="md, json or html; default: the output's suffix, else md.", show_default=False),
    ] = None,
    writer: WriterOption = None,
    model: ModelOption = None,
    refresh: Annotated[
        bool, typer.Option("--refresh", help="Answer every question again instead of reusing cached answers.")
    ] = False,
) -> None:
    """Turn a list of questions into grounded FAQ entries; a rerun resumes from cached answers."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from zoomqa.agent import faq as faqs
    from zoomqa.agent.assistant import Assistant

    settings = get_settings()
    chosen = faqs.output_format(fmt, output)
    if output is not None and not output.parent.is_dir():
        raise ZoomqaError(f"cannot write {output}: the folder {output.parent} does not exist")
    phrasings = faqs.read_question_list(questions)
    # no folder is allowed: a question list never makes zoomqa read or write a picture
    with Assistant.from_settings(settings, writer=writer, model=model, allowed_dirs=[]) as assistant:
        retriever, answerer = assistant.retriever, assistant.answerer
        groups = faqs.group_questions(phrasings, retriever.embedder)
        index = faqs.index_info(retriever.manifest)
        cache = faqs.AnswerCache(
            settings.home / "faq-cache",
            index=f"{index['digest']} k={retriever.k} min_relevance={retriever.min_relevance}",
            writer=faqs.writer_identity(answerer.writer.name, model, settings.answer),
            prompts=faqs.prompt_version(settings.answer.prompts_dir),
            read=not refresh,
        )

        def document(items: list[faqs.FaqItem]) -> str:
            return faqs.render_faq(faqs.Faq(tuple(items), index, answerer.writer.name), chosen)

        columns = (TextColumn("answering"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
        with Progress(*columns, console=err, transient=True) as progress:
            task = progress.add_task("answering", total=len(groups))

            def advance(items: list[faqs.FaqItem]) -> None:
                progress.update(task, completed=len(items))
                if output is not None and (len(items) % faqs.WRITE_EVERY == 0 or len(items) == len(groups)):
                    faqs.write_atomic(output, document(items))

            # the same Reply.as_json() that `zoomqa ask --json` prints
            items, hits = faqs.collect(groups, lambda q: assistant.respond(q).as_json(), cache, on_progress=advance)
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


def _report_summary(report: dict[str, Any]) -> str:
    """The totals a reader asks for first, and the questions to look at."""
    worst = ", ".join(report["worst"]) or "none"
    return (
        f"nugget recall {_fmt(report['nugget_recall'])} · anchor accuracy {_fmt(report['anchor_accuracy'])} · "
        f"refusal accuracy {_fmt(report['refusal_accuracy'])} (false refusals {_fmt(report['false_refusals'])} "
        f"of {report['n_answerable']}, false answers {_fmt(report['false_answers'])} of {report['n_refuse']}) · "
        f"tool accuracy {_fmt(report['tool_accuracy'])}\nworst: {worst}"
    )

"""``zoomqa eval answers``, ``zoomqa eval nuggets`` and ``zoomqa eval guard``: answer quality on a
question set, and the grounding guard on labelled sentences.

Heavy libraries are imported inside the commands so that ``zoomqa --help`` stays fast.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from zoomqa.agent.doors.options import JsonOption, KOption, ModelOption, WriterOption
from zoomqa.config import Settings, get_settings
from zoomqa.index.cli import WeightsOut, weights_target

if TYPE_CHECKING:
    from zoomqa.agent.compose.pipeline import Answerer
    from zoomqa.agent.evaluation.guard import GuardScores
    from zoomqa.index.embedding import Embedder

out = Console()
err = Console(stderr=True)


def _answerer(settings: Settings, writer: str | None, model: str | None, embedder: Embedder) -> Answerer:
    from zoomqa.agent.turn.assistant import build_answerer

    return build_answerer(settings, writer, model, embedder)


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
        typer.Option(
            "--tau", min=0.0, max=1.0, help="Nugget matcher threshold (cosine).", show_default=False
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Score answers on a question set: structure, citations, links, support, nugget recall,
    anchor accuracy, refusals (false refusals and false answers), latency.

    Runs on the same cached index of the bundled records as ``zoomqa eval retrieval``.
    """
    import dataclasses

    from zoomqa.agent.evaluation.answers import NUGGET_TAU, SUPPORT_TAU, AnswerReport, Works, score_answer
    from zoomqa.agent.evaluation.tools import ToolSandbox, tool_questions
    from zoomqa.index.cli import evaluation_index, open_retriever
    from zoomqa.index.records import read_bundled_corpus
    from zoomqa.question_set import read_question_set

    settings = get_settings()
    question_set = read_question_set(questions)
    works = Works(read_bundled_corpus())
    outcomes = []
    with (
        open_retriever(evaluation_index(settings, None), settings, k) as retriever,
        ToolSandbox(tool_questions(question_set)) as sandbox,
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
                q,
                result,
                answer,
                retriever.embedder,
                SUPPORT_TAU,
                works,
                tau=NUGGET_TAU if tau is None else tau,
            )
            outcomes.append(dataclasses.replace(outcome, tool_correct=tool_correct))
            err.print(
                f"[dim]{len(outcomes)}/{len(question_set)} {q.id}[/]", highlight=False
            )  # stdout stays JSON
    report = AnswerReport(tuple(outcomes)).as_json()
    if as_json:
        typer.echo(json.dumps(report))
        return
    out.print(_report_table(report, answerer.writer.name))
    out.print(_report_summary(report), highlight=False)


def fit_anchor(
    questions: Annotated[
        Path, typer.Option("--questions", "-q", help="Development question set (JSONL with anchors).")
    ],
    destination: WeightsOut = None,
) -> None:
    """Fit the anchor's weights (a conditional logit) on a question set, pooled with the
    situation questions written for the bundled works, and report their cross-validated
    accuracy; fit on development questions, never on a holdout. A few minutes."""
    from zoomqa.agent.compose.anchor import WEIGHTS_FILE
    from zoomqa.agent.compose.work_matching import shipped_work_matcher
    from zoomqa.agent.evaluation.anchor_fit import (
        collect_choices,
        collect_written_choices,
        fit_anchor_weights,
        questions_digest,
    )
    from zoomqa.agent.evaluation.answers import Works
    from zoomqa.index.cli import evaluation_index, open_retriever
    from zoomqa.index.records import read_bundled_corpus
    from zoomqa.question_set import read_question_set

    settings = get_settings()
    target = weights_target(destination, WEIGHTS_FILE)
    works = Works(read_bundled_corpus())
    with open_retriever(evaluation_index(settings, None), settings) as retriever:
        with err.status("retrieving and collecting each question's sources"):
            choices = collect_choices(read_question_set(questions), retriever, works)
        with err.status(
            "tuning the work matcher without each fifth of the written questions, collecting theirs"
        ):
            written = collect_written_choices(settings.index.embedder, retriever, works)
        matcher = shipped_work_matcher(retriever.embedder)
    with err.status(f"fitting on {len(choices)} + {len(written)} written questions, cross-validating"):
        weights = fit_anchor_weights(
            choices, questions_digest(questions), written, matcher.digest if matcher else None
        )
    weights.save(target)
    report = weights.report
    table = Table("weights", "cross-validated anchor accuracy", box=None)
    table.add_row(
        "hand-set prior", f"{report['accuracy_prior']:.3f} (development questions only, not fitted)"
    )
    for penalty, value in report["cross_validated_accuracy"].items():
        table.add_row(
            f"fitted, penalty {penalty}",
            f"{value:.3f}" + (" (chosen)" if float(penalty) == report["penalty"] else ""),
        )
    out.print(table)
    out.print(f"{len(choices)} development and {len(written)} written questions; wrote {target}")


def train_entailment(
    destination: WeightsOut = None,
) -> None:
    """Fine-tune the claim check's cross-encoder on the written claims
    (agent/compose/data/entailment) and report it on cards held out of training; about half an
    hour on two CPU cores."""
    from zoomqa.agent.compose.entailment import LABELS, SHIPPED_MODEL
    from zoomqa.agent.evaluation.entailment_training import train_entailment as train

    settings = get_settings()
    target = weights_target(destination, SHIPPED_MODEL)
    report = train(settings.index.embedder, target, say=lambda line: err.print(line, highlight=False))
    table = pair_report_table(report, LABELS)
    out.print(table)
    out.print(f"{report['pairs']} pairs; {report['train_s']} s; wrote {target}")


def train_works(
    destination: WeightsOut = None,
) -> None:
    """Tune the question encoder towards the works that answer questions
    (compose/work_matching.py) on the written questions, and report it on questions held out;
    about ten minutes on two CPU cores."""
    from zoomqa.agent.compose.work_matching import SHIPPED_MATCHER
    from zoomqa.agent.evaluation.work_matching_training import train_work_matcher
    from zoomqa.index.embedding import load_embedder

    settings = get_settings()
    target = weights_target(destination, SHIPPED_MATCHER)
    spec = settings.index.embedder
    report = train_work_matcher(
        spec, load_embedder(spec), target, say=lambda line: err.print(line, highlight=False)
    )
    held = report["held_out_questions"]
    table = Table("epoch", "held-out top-1", box=None, title=f"{held['n']} questions held out")
    table.add_row("plain embedder", f"{held['embedder_top1']:.3f}")
    for epoch, value in enumerate(held["tuned_top1_by_epoch"], start=1):
        table.add_row(f"{epoch}" + (" (chosen)" if epoch == report["epochs"] else ""), f"{value:.3f}")
    out.print(table)
    out.print(f"{report['questions']} questions; {report['train_s']} s; wrote {target}")


def pair_report_table(report: dict[str, Any], labels: Sequence[str]) -> Table:
    """A pair classifier's scores on the cards held out of its training, per epoch."""
    held = report["held_out"]
    title = f"cards held out of training ({held['groups']} cards, {held['pairs']} pairs)"
    table = Table("epoch", "accuracy", *labels, box=None, title=title)
    for row in held["history"]:
        mark = " (chosen)" if row["epoch"] == report["epochs"] else ""
        recall = [f"{row['recall'][label]:.3f}" for label in labels]
        table.add_row(f"{row['epoch']}{mark}", f"{row['accuracy']:.3f}", *recall)
    return table


def nuggets(
    labels: Annotated[
        Path,
        typer.Option("--labels", "-l", help="Hand labels (JSONL: statement, nugget, covered, origin)."),
    ],
    tau: Annotated[
        float | None,
        typer.Option(
            "--tau",
            min=0.0,
            max=1.0,
            help="Threshold to report (default: the one in use).",
            show_default=False,
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Agreement of the nugget matcher with hand labels: accuracy, precision, recall, best threshold."""
    import numpy as np

    from zoomqa.agent.evaluation.answers import (
        NUGGET_TAU,
        MatcherAgreement,
        best_tau,
        label_similarities,
        read_nugget_labels,
    )
    from zoomqa.index.embedding import load_embedder

    settings = get_settings()
    judged = read_nugget_labels(labels)
    similarities = label_similarities(judged, load_embedder(settings.index.embedder))
    truth = [label.covered for label in judged]
    current = MatcherAgreement.at(similarities, truth, NUGGET_TAU if tau is None else tau)
    best = best_tau(similarities, truth, np.round(np.arange(0.30, 0.901, 0.025), 3))
    disagreements = [
        {
            "statement": label.statement,
            "nugget": label.nugget,
            "covered": label.covered,
            "cosine": round(sim, 3),
        }
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
        out.print(
            f"[dim]disagrees ({verdict}, cosine {d['cosine']}): {d['statement']} | {d['nugget']}[/]",
            highlight=False,
        )


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


def _report_summary(report: dict[str, Any]) -> str:
    """The totals a reader asks for first, and the questions to look at."""
    worst = ", ".join(report["worst"]) or "none"
    return (
        f"nugget recall {_fmt(report['nugget_recall'])} · anchor accuracy {_fmt(report['anchor_accuracy'])} · "
        f"refusal accuracy {_fmt(report['refusal_accuracy'])} (false refusals {_fmt(report['false_refusals'])} "
        f"of {report['n_answerable']}, false answers {_fmt(report['false_answers'])} of {report['n_refuse']}) · "
        f"tool accuracy {_fmt(report['tool_accuracy'])}\nworst: {worst}"
    )


def guard(
    claims: Annotated[
        Path,
        typer.Option(
            "--claims", "-c", help="Labelled sentences (JSONL: id, kind, sentence, cites, retrieved)."
        ),
    ],
    threshold: Annotated[
        float | None,
        typer.Option(
            "--threshold",
            min=0.0,
            max=1.0,
            help="Support threshold (default: the one in use).",
            show_default=False,
        ),
    ] = None,
    sweep: Annotated[
        bool, typer.Option("--sweep", help="Also score every setting on the dev half and name the best.")
    ] = False,
    misses: Annotated[bool, typer.Option("--misses", help="List the sentences the guard got wrong.")] = False,
    as_json: JsonOption = False,
) -> None:
    """How well the grounding guard's claim check drops invented and contradicting sentences and
    keeps supported ones: precision and recall of "unsupported", by half (dev: odd ids, where the
    thresholds were chosen; report: even ids) and by kind. Needs no index."""
    from zoomqa.agent.compose.claims import SUPPORT_THRESHOLD, bundled_vocabulary
    from zoomqa.agent.evaluation.guard import TARGET, best, by_half, judge, misjudged, prepare, read_claims
    from zoomqa.agent.evaluation.guard import sweep as sweep_settings
    from zoomqa.index.embedding import load_embedder
    from zoomqa.index.records import read_bundled_corpus

    settings = get_settings()
    records = {r.id: r for r in read_bundled_corpus()}
    labelled = read_claims(claims, records)
    with err.status(f"embedding {len(labelled)} sentences and their sources"):
        prepared = prepare(labelled, records, load_embedder(settings.index.embedder))
    in_use = SUPPORT_THRESHOLD if threshold is None else threshold
    outcomes = judge(prepared, in_use, bundled_vocabulary())
    halves = by_half(outcomes)
    report = halves["report"]
    met = (report.precision or 0.0) >= TARGET and (report.recall or 0.0) >= TARGET
    chosen = None
    if sweep:
        with err.status("sweeping the settings on the dev half"):
            rows = sweep_settings(prepared)
        chosen = best(rows)
    if as_json:
        data: dict[str, Any] = {
            "threshold": in_use,
            "halves": {half: asdict(scores) for half, scores in halves.items()},
            "target": TARGET,
            "target_met": met,
            "misses": misjudged(outcomes),
        }
        if sweep:
            data["sweep"] = [{"setting": r.setting, **asdict(r.dev)} for r in rows]
        if chosen is not None:
            data["best"] = {"setting": chosen.setting, **asdict(chosen.dev)}
        typer.echo(json.dumps(data))
        return
    out.print(_guard_table(halves, in_use))
    out.print(
        f"target (report half): precision and recall >= {TARGET}: {'met' if met else 'NOT met'}",
        highlight=False,
    )
    if chosen is not None:
        t, share, burst, contradiction = chosen.setting
        out.print(
            f"best on the dev half: threshold {t}, domain-term share {share}, burst {burst}, "
            f"P(contradicted) {contradiction} "
            f"(F1 {_fmt(chosen.dev.f1)}, supported kept {_fmt(chosen.dev.supported_kept)})",
            highlight=False,
        )
    if misses:
        for miss in misjudged(outcomes):
            verdict = "dropped" if miss["flagged"] else "kept"
            why = ", ".join(miss["missing"]) or (
                "opposite" if miss["opposite"] else f"cosine {miss['similarity']}"
            )
            if miss["contradicted"]:
                why += f", P(contradicted) {miss['contradicted']}"
            out.print(
                f"[dim]{miss['id']} ({miss['kind']}, {verdict}; {why}): {miss['sentence']}[/]",
                highlight=False,
            )


def _guard_table(halves: dict[str, GuardScores], threshold: float) -> Table:
    table = Table(
        title=f"claim check at support threshold {threshold}",
        caption="kept: supported sentences kept; fabr./contra.: the share of them dropped",
    )
    for header in ("half", "n", "precision", "recall", "kept", "fabr.", "contra.", "re-pointed"):
        table.add_column(header, justify="left" if header == "half" else "right")
    for half, scores in halves.items():
        table.add_row(
            half,
            str(scores.n),
            _fmt(scores.precision),
            _fmt(scores.recall),
            _fmt(scores.supported_kept),
            _fmt(scores.flagged_by_kind["fabrication"]),
            _fmt(scores.flagged_by_kind["contradiction"]),
            str(scores.repointed),
        )
    return table

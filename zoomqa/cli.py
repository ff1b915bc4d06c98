"""The ``zoomqa`` command: composes the command groups of index/, tools/ and agent/.

Errors the user can fix (:class:`ZoomqaError`, bad configuration, unreadable files) end here
in one line on stderr and a non-zero exit status, never a traceback.
"""

from __future__ import annotations

from typing import Any

import typer
from pydantic import ValidationError
from rich.console import Console
from typer.core import TyperGroup

from zoomqa import __version__
from zoomqa.agent.doors.ask import ask
from zoomqa.agent.doors.chat.cli import chat
from zoomqa.agent.doors.faq.cli import faq
from zoomqa.agent.doors.slack.cli import slack
from zoomqa.agent.evaluation.cli import answers, fit_anchor, guard, nuggets, train_entailment, train_works
from zoomqa.errors import ZoomqaError
from zoomqa.index.cli import eval_retrieval, index_app, search
from zoomqa.tools import cli as tools_cli

err = Console(stderr=True)


def _config_problem(exc: ValidationError) -> str:
    lines = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]
    return "bad configuration: " + "; ".join(lines)


class _FriendlyErrors(TyperGroup):
    """Turns the errors a user can cause into a clean message and exit status."""

    def invoke(self, ctx: Any) -> Any:  # the click.Context vendored inside typer
        try:
            return super().invoke(ctx)
        except ZoomqaError as exc:
            err.print(f"[bold red]error:[/] {exc}", highlight=False, markup=True, soft_wrap=True)
            raise typer.Exit(code=exc.exit_code) from None
        except ValidationError as exc:
            err.print(f"[bold red]error:[/] {_config_problem(exc)}", highlight=False)
            raise typer.Exit(code=2) from None
        except OSError as exc:
            where = f": {exc.filename}" if exc.filename else ""
            err.print(f"[bold red]error:[/] {exc.strerror or exc}{where}", highlight=False)
            raise typer.Exit(code=2) from None
        except KeyboardInterrupt:
            err.print("interrupted")
            raise typer.Exit(code=130) from None


app = typer.Typer(
    cls=_FriendlyErrors,
    name="zoomqa",
    help="Ask about image super-resolution research; watch the answer work on your own picture.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def _root() -> None:
    """Ask about image super-resolution research; watch the answer work on your own picture."""


@app.command()
def version() -> None:
    """Print the zoomqa version."""
    typer.echo(__version__)


app.add_typer(index_app)
app.command("search")(search)
app.command("upscale")(tools_cli.upscale)
app.command("train")(tools_cli.train)
app.command("export-weights")(tools_cli.export_weights)


# Quality measurements on a question set; each area registers its own command here.
eval_app = typer.Typer(help="Measure retrieval, answer and upscaling quality.", no_args_is_help=True)
app.add_typer(eval_app, name="eval")

app.command("ask")(ask)
app.command("chat")(chat)
app.command("slack")(slack)
app.command("faq")(faq)
eval_app.command("answers")(answers)
eval_app.command("nuggets")(nuggets)
eval_app.command("guard")(guard)
eval_app.command("fit-anchor")(fit_anchor)
eval_app.command("train-entailment")(train_entailment)
eval_app.command("train-works")(train_works)
eval_app.command("retrieval")(eval_retrieval)
eval_app.command("upscale")(tools_cli.eval_upscale)


def main() -> None:
    """Console-script entry point."""
    app(prog_name="zoomqa")


if __name__ == "__main__":  # pragma: no cover
    main()

"""Command-line options the terminal doors share (``ask``, ``chat``, ``faq``, ``eval answers``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from zoomqa.config import Settings, WriterName

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


def here_and_configured(settings: Settings) -> list[Path]:
    """Folders the upscaler may use from the terminal: the current one and the configured ones."""
    return [Path.cwd(), *settings.upscale.allowed_dirs]

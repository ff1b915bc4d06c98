"""The upscaler's front doors: ``zoomqa upscale``.

torch and the engine load inside the command, so ``zoomqa --help`` stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.console import Console
from rich.markup import escape

from zoomqa.config import get_settings

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)

# Jobs this large (output pixels) show a progress bar; smaller ones finish in about a second.
_PROGRESS_FROM_PIXELS = 4_000_000


def upscale(
    image: Annotated[Path, typer.Argument(help="Image to enlarge (PNG, JPEG, WebP, BMP or TIFF).", show_default=False)],
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Where to write; the extension picks the format. Default: <stem>_x<scale>.png beside the input.", show_default=False),
    ] = None,
    scale: Annotated[float | None, typer.Option(help="Enlarge by this factor, e.g. 3.7.")] = None,
    size: Annotated[str | None, typer.Option(help="Exact output size WIDTHxHEIGHT, e.g. 1920x1080.")] = None,
    width: Annotated[int | None, typer.Option(help="Output width; the height keeps the aspect ratio.")] = None,
    height: Annotated[int | None, typer.Option(help="Output height; the width keeps the aspect ratio.")] = None,
    model: Annotated[
        str | None, typer.Option(help="liif-edsr, liif-rdn or a checkpoint path. Default: the upscale.model setting.", show_default=False)
    ] = None,
    precision: Annotated[
        Literal["fast", "exact"] | None,
        typer.Option(help="fast: bfloat16/half precision; exact: float32. Default: the upscale.precision setting.", show_default=False),
    ] = None,
    device: Annotated[
        Literal["auto", "cpu", "cuda"] | None,
        typer.Option(help="Where to compute. Default: the upscale.device setting.", show_default=False),
    ] = None,
    compare: Annotated[bool, typer.Option("--compare", help="Also write <output>_compare.png: bicubic vs LIIF.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing output file.")] = False,
) -> None:
    """Enlarge an image with LIIF, at any scale (also non-integer or to an exact size)."""
    from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn

    from zoomqa.tools.upscale import parse_size, upscale_image

    settings = get_settings()
    if settings.threads:
        import torch

        torch.set_num_threads(settings.threads)
    columns = (TextColumn("upscaling"), BarColumn(), TaskProgressColumn(), TimeRemainingColumn())
    with Progress(*columns, console=err, transient=True, disable=not err.is_terminal) as bar:
        task = bar.add_task("upscaling", total=None, visible=False)

        def advance(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total, visible=total >= _PROGRESS_FROM_PIXELS)

        result = upscale_image(
            image,
            output,
            scale=scale,
            width=width,
            height=height,
            size=parse_size(size) if size else None,
            model=model or settings.upscale.model,
            model_dirs=(settings.home / "models",),
            precision=precision or settings.upscale.precision,
            device=device or settings.upscale.device,
            max_input_pixels=settings.upscale.max_input_pixels,
            max_output_pixels=settings.upscale.max_output_pixels,
            force=force,
            compare=compare,
            progress=advance,
        )
    for note in result.notes:
        err.print(f"[yellow]note:[/] {escape(note)}")
    out.print(escape(result.summary()))

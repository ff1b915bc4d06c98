"""The upscaler's front doors: ``zoomqa upscale``, ``train``, ``export-weights``, ``eval upscale``.

torch and the engine load inside the commands, so ``zoomqa --help`` stays fast.
"""

from __future__ import annotations

import math
import signal
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
from rich.console import Console
from rich.markup import escape

from zoomqa.config import get_settings
from zoomqa.errors import ZoomqaError

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

Device = Literal["auto", "cpu", "cuda"]


def _apply_threads() -> Any:
    """The settings, after giving torch the configured number of CPU threads."""
    settings = get_settings()
    if settings.threads:
        import torch

        torch.set_num_threads(settings.threads)
    return settings


# Jobs this large (output pixels) show a progress bar; smaller ones finish in about a second.
_PROGRESS_FROM_PIXELS = 4_000_000
# The longest side a person may ask for (the agent's tool has the same bound); the output
# pixel limit (upscale.max_output_pixels) then decides what is too large for this machine.
MAX_SIDE = 65536
MODEL_HELP = (
    "liif-edsr, liif-edsr-real (for JPEG-compressed photos), liif-rdn or a checkpoint path. "
    "Default: the upscale.model setting."
)


def _checked_amount(
    image: Path,
    scale: float | None,
    width: int | None,
    height: int | None,
    size: str | None,
    long_side: int | None = None,
) -> tuple[int, int] | None:
    """Refuse, in one line and before any image is read, the numbers no enlargement can have;
    returns the parsed ``--size``."""
    from zoomqa.tools.upscale import parse_size

    if image.is_dir():
        raise ZoomqaError(f"{image} is a folder; give one image file")
    if scale is not None and not (math.isfinite(scale) and scale > 1):
        raise ZoomqaError("scale must be greater than 1")
    for name, side in (("width", width), ("height", height), ("long side", long_side)):
        if side is not None and not 1 <= side <= MAX_SIDE:
            raise ZoomqaError(f"{name} must be from 1 to {MAX_SIDE} pixels, not {side}")
    parsed = parse_size(size) if size else None
    if parsed is not None and not all(1 <= side <= MAX_SIDE for side in parsed):
        raise ZoomqaError(f"each side of --size must be from 1 to {MAX_SIDE} pixels, not {size}")
    return parsed


def upscale(
    image: Annotated[
        Path,
        typer.Argument(
            help="Image to enlarge (PNG, JPEG, WebP, BMP or TIFF; a GIF's first frame).", show_default=False
        ),
    ],
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="Where to write; the extension picks the format. Default: <stem>_x<scale>.png beside the input.",
            show_default=False,
        ),
    ] = None,
    scale: Annotated[
        float | None, typer.Option(help="Enlarge by this factor (greater than 1), e.g. 3.7.")
    ] = None,
    size: Annotated[str | None, typer.Option(help="Exact output size WIDTHxHEIGHT, e.g. 1920x1080.")] = None,
    width: Annotated[
        int | None, typer.Option(help="Output width; the height keeps the aspect ratio.")
    ] = None,
    height: Annotated[
        int | None, typer.Option(help="Output height; the width keeps the aspect ratio.")
    ] = None,
    long_side: Annotated[
        int | None,
        typer.Option(help="Output length of the longer side (width if landscape, height if portrait)."),
    ] = None,
    model: Annotated[str | None, typer.Option(help=MODEL_HELP, show_default=False)] = None,
    precision: Annotated[
        Literal["fast", "exact"] | None,
        typer.Option(
            help="fast: bfloat16/half precision where the hardware has it natively; exact: float32. Default: the upscale.precision setting.",
            show_default=False,
        ),
    ] = None,
    device: Annotated[
        Device | None,
        typer.Option(help="Where to compute. Default: the upscale.device setting.", show_default=False),
    ] = None,
    compare: Annotated[
        bool, typer.Option("--compare", help="Also write <output>_compare.png: bicubic vs LIIF.")
    ] = False,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing output file.")] = False,
) -> None:
    """Enlarge an image with LIIF, at any scale (also non-integer or to an exact size)."""
    from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn

    from zoomqa.tools.upscale import upscale as upscale_file

    exact_size = _checked_amount(image, scale, width, height, size, long_side)
    settings = _apply_threads()
    columns = (TextColumn("upscaling"), BarColumn(), TaskProgressColumn(), TimeRemainingColumn())
    with Progress(*columns, console=err, transient=True, disable=not err.is_terminal) as bar:
        task = bar.add_task("upscaling", total=None, visible=False)

        def advance(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total, visible=total >= _PROGRESS_FROM_PIXELS)

        result = upscale_file(
            image,
            output,
            scale=scale,
            width=width,
            height=height,
            size=exact_size,
            long_side=long_side,
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


class _StopRequest:
    """First Ctrl-C (or SIGTERM) asks training to checkpoint and stop; a second one aborts."""

    def __init__(self) -> None:
        self.requested = False

    def __call__(self) -> bool:
        return self.requested

    def handle(self, signum: int, frame: object) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        err.print("stopping after this step (checkpoint first); press Ctrl-C again to abort without saving")


def train(
    run: Annotated[
        Path,
        typer.Option(help="Run folder: a new run starts there, an existing one resumes.", show_default=False),
    ],
    data: Annotated[
        Path | None,
        typer.Option(help="Folder of high-resolution photos (needed for a new run).", show_default=False),
    ] = None,
    encoder: Annotated[
        Literal["edsr-baseline", "rdn"] | None,
        typer.Option(help="Encoder. (default: edsr-baseline)", show_default=False),
    ] = None,
    skip: Annotated[
        Literal["bilinear", "bicubic"] | None,
        typer.Option(
            help="Image skip: the model learns the residual over this interpolation of the input. (default: none, or as --init has it)",
            show_default=False,
        ),
    ] = None,
    patch: Annotated[
        int | None, typer.Option(help="LR patch side. (default: 48)", show_default=False)
    ] = None,
    batch: Annotated[
        int | None, typer.Option(help="Patches per step. (default: 16)", show_default=False)
    ] = None,
    steps: Annotated[
        int | None,
        typer.Option(
            help="Train until this step; may change on resume. (default: 1000000)", show_default=False
        ),
    ] = None,
    lr: Annotated[
        float | None, typer.Option(help="Adam learning rate. (default: 1e-4)", show_default=False)
    ] = None,
    lr_decay_every: Annotated[
        int | None,
        typer.Option(help="Halve the learning rate every N steps. (default: 200000)", show_default=False),
    ] = None,
    degradation: Annotated[
        bool | None,
        typer.Option(
            "--degradation/--clean",
            help="Degrade LR patches like old photos (JPEG, noise, blur). (default: clean)",
            show_default=False,
        ),
    ] = None,
    val_every: Annotated[
        int | None,
        typer.Option(help="Validate on held-out photos every N steps. (default: 1000)", show_default=False),
    ] = None,
    save_every: Annotated[
        int | None, typer.Option(help="Checkpoint every N steps. (default: 250)", show_default=False)
    ] = None,
    seed: Annotated[
        int | None, typer.Option(help="Seed of every random choice. (default: 0)", show_default=False)
    ] = None,
    curve_data: Annotated[
        Path | None,
        typer.Option(
            help="Benchmark folder (e.g. Set5) scored at x4 at each validation.", show_default=False
        ),
    ] = None,
    init: Annotated[
        Path | None, typer.Option(help="Start from these weights (fine-tuning).", show_default=False)
    ] = None,
    precision: Annotated[
        Literal["auto", "fp32", "bf16"] | None,
        typer.Option(
            help="auto: bfloat16 autocast on CPUs with native bf16 and mixed precision on CUDA, else fp32; fp32: never autocast; bf16: bfloat16 autocast anywhere. Weights stay fp32; may change on resume. (default: auto)",
            show_default=False,
        ),
    ] = None,
    device: Annotated[Device, typer.Option(help="auto: CUDA when present, else CPU.")] = "auto",
) -> None:
    """Train LIIF on a folder of photos with the paper's recipe; Ctrl-C checkpoints, rerunning resumes."""
    import torch
    from pydantic import ValidationError
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from zoomqa.tools.training import TrainConfig, Trainer, saved_config

    _apply_threads()
    given = {
        "data": data,
        "encoder": encoder,
        "skip": skip,
        "patch": patch,
        "batch": batch,
        "steps": steps,
        "lr": lr,
        "lr_decay_every": lr_decay_every,
        "degradation": degradation,
        "val_every": val_every,
        "save_every": save_every,
        "seed": seed,
        "curve_data": curve_data,
        "init": init,
        "precision": precision,
    }
    # Paths are stored absolute so that a resume works from any working directory.
    given = {
        key: value.resolve() if isinstance(value, Path) else value
        for key, value in given.items()
        if value is not None
    }
    previous = saved_config(run)
    if previous is None and "data" not in given:
        raise ZoomqaError(f"{run} holds no run yet: pass --data FOLDER to start one")
    try:
        config = TrainConfig(**{**(previous.model_dump() if previous else {}), **given})
    except ValidationError as exc:
        problems = "; ".join(
            f"--{'.'.join(map(str, e['loc'])).replace('_', '-')}: {e['msg']}" for e in exc.errors()
        )
        raise ZoomqaError(f"bad training option: {problems}") from None
    trainer = Trainer(run, config, device=device)
    if trainer.step >= trainer.config.steps:
        out.print(
            f"{run} is already at step {trainer.step} of {trainer.config.steps}; pass a larger --steps to go on"
        )
        return
    arithmetic = (
        "fp32"
        if trainer.amp_dtype == torch.float32
        else f"{str(trainer.amp_dtype).removeprefix('torch.')} autocast"
    )
    err.print(
        f"{'resuming' if trainer.step else 'starting'} {run} at step {trainer.step} on {trainer.device} ({arithmetic})"
    )

    stop = _StopRequest()
    handlers = {sig: signal.signal(sig, stop.handle) for sig in (signal.SIGINT, signal.SIGTERM)}
    columns = (
        TextColumn("training"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[its]:.2f} it/s"),
        TimeRemainingColumn(),
        TextColumn("loss {task.fields[loss]:.4f}  val x4 {task.fields[val]}"),
    )
    last_val = "–"
    try:
        with Progress(*columns, console=err, disable=not err.is_terminal) as bar:
            task = bar.add_task(
                "training",
                total=trainer.config.steps,
                completed=trainer.step,
                its=0.0,
                loss=0.0,
                val=last_val,
            )

            def report(entry: dict, its: float) -> None:
                nonlocal last_val
                if "val_psnr_x4" in entry:
                    last_val = f"{entry['val_psnr_x4']:.2f} dB"
                bar.update(task, completed=entry["step"], its=its, loss=entry["loss"], val=last_val)
                if not err.is_terminal and (entry["step"] % 50 == 0 or "val_psnr_x4" in entry):
                    err.print(" ".join(f"{k} {v}" for k, v in entry.items()) + f" it/s {its:.2f}")

            trainer.train(report, stop)
    finally:
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
    hours = trainer.seconds / 3600
    verb = "stopped" if stop.requested else "finished"
    out.print(f"{verb} at step {trainer.step} ({hours:.2f} h of training); last validation x4: {last_val}")
    out.print(
        f"weights: {run / 'model.safetensors'}; rerun the same command to resume, "
        f"or `zoomqa export-weights {run} OUT.safetensors` for a compact copy"
    )


def export_weights(
    run: Annotated[Path, typer.Argument(help="Training run folder.", show_default=False)],
    output: Annotated[Path, typer.Argument(help="Where to write the .safetensors file.", show_default=False)],
    precision: Annotated[
        Literal["fp16", "fp32"], typer.Option(help="fp16 halves the file; LIIF loses nothing measurable.")
    ] = "fp16",
    force: Annotated[bool, typer.Option("--force", help="Replace an existing file.")] = False,
) -> None:
    """Write a run's weights as a compact checkpoint for `zoomqa upscale --model`."""
    import torch

    from zoomqa.tools.training import export_weights as export

    if output.suffix != ".safetensors":
        raise ZoomqaError(f"{output}: the weights file must end in .safetensors")
    path = export(run, output, dtype=torch.float16 if precision == "fp16" else torch.float32, force=force)
    out.print(f"wrote {path} ({path.stat().st_size / 2**20:.1f} MiB)")


def _parse_scales(text: str) -> list[int]:
    try:
        scales = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ZoomqaError(
            f"--scales takes whole numbers separated by commas, e.g. 2,3,4; got '{text}'"
        ) from None
    if not scales or any(not 2 <= s <= 32 for s in scales):
        raise ZoomqaError(f"--scales must be whole numbers from 2 to 32; got '{text}'")
    return scales


def _model_label(name: str) -> str:
    path = Path(name)
    if path.suffix:  # a file: its name, or its run folder's name for a run's model.safetensors
        return path.parent.name if path.stem == "model" and path.parent.name else path.stem
    return name


def eval_upscale(
    data: Annotated[
        list[Path],
        typer.Option(
            help="Folder of HR images; repeat for several sets. The folder's name labels it (Set5, B100, ...).",
            show_default=False,
        ),
    ],
    scales: Annotated[str, typer.Option(help="Comma-separated whole scales.")] = "2,3,4,6,8,12",
    model: Annotated[str | None, typer.Option(help=MODEL_HELP, show_default=False)] = None,
    protocol: Annotated[
        Literal["benchmark", "photo"],
        typer.Option(help="benchmark: Y-channel PSNR, shave = scale; photo: RGB PSNR, shave = scale + 6."),
    ] = "benchmark",
    holdout_every: Annotated[
        int | None,
        typer.Option(
            help="Score only the photos `zoomqa train` held out (every Nth, as in the run).",
            show_default=False,
        ),
    ] = None,
    crop: Annotated[
        int | None,
        typer.Option(help="Centre-crop each image to NxN pixels first (large photos).", show_default=False),
    ] = None,
    limit: Annotated[
        int | None, typer.Option(help="Use only the first N images of each set.", show_default=False)
    ] = None,
    jpeg_quality: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=95,
            help="JPEG-compress the LR input at this quality (like a shared photo).",
            show_default=False,
        ),
    ] = None,
    precision: Annotated[
        Literal["fast", "exact"],
        typer.Option(help="fast and exact differ by under 0.001 dB; fast is ~8x quicker."),
    ] = "fast",
    device: Annotated[Device, typer.Option(help="Where to compute.")] = "auto",
    json_output: Annotated[
        bool, typer.Option("--json", help="Print one JSON object instead of the table.")
    ] = False,
) -> None:
    """PSNR/SSIM of bicubic and the model under the LIIF paper's protocol, with the paper's numbers beside ours."""
    import json

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
    from rich.table import Table

    from zoomqa.tools.checkpoints import load_checkpoint, resolve_model
    from zoomqa.tools.engine import resolve_device
    from zoomqa.tools.evaluation import evaluate, load_dataset, paper_reference

    settings = _apply_threads()
    scale_list = _parse_scales(scales)
    name = model or settings.upscale.model
    liif = load_checkpoint(resolve_model(name, (settings.home / "models",)))
    label = _model_label(name)
    datasets: dict[str, list] = {}
    for folder in data:
        key = folder.resolve().name
        if key in datasets:
            raise ZoomqaError(f"two --data folders are both named '{key}'; the name labels the results")
        datasets[key] = load_dataset(folder, holdout_every=holdout_every, crop=crop, limit=limit)
    total = sum(len(images) for images in datasets.values()) * len(scale_list)
    columns = (TextColumn("evaluating"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=err, transient=True, disable=not err.is_terminal) as bar:
        task = bar.add_task("evaluating", total=total)
        results = evaluate(
            liif,
            label,
            datasets,
            scale_list,
            protocol=protocol,
            precision=precision,
            device=str(resolve_device(device)),
            jpeg_quality=jpeg_quality,
            on_image=lambda: bar.advance(task),
        )
    if json_output:
        summary = {
            "model": label,
            "encoder": liif.spec.encoder,
            "protocol": protocol,
            "precision": precision,
            "jpeg_quality": jpeg_quality,
            "results": [r.to_json() for r in results],
        }
        out.print_json(json.dumps(summary))
        return
    measure = "Y-channel PSNR, shave = scale" if protocol == "benchmark" else "RGB PSNR, shave = scale + 6"
    jpeg = f", LR input JPEG quality {jpeg_quality}" if jpeg_quality else ""
    pairs = list(zip(results[::2], results[1::2], strict=True))
    references = [paper_reference(b.dataset, b.scale, liif.spec.encoder, protocol) for b, _ in pairs]
    paper_label = next((ref[0] for ref in references if ref), None)
    caption = f"model: {label}" + (f"; paper: {paper_label}, from the LIIF paper" if paper_label else "")
    table = Table(title=f"PSNR (dB) and SSIM: {measure}{jpeg}", caption=caption)
    headers = ["set", "scale", "n", "bicubic", "SSIM", "model", "SSIM", "gain"]
    for header in headers + (["paper"] if paper_label else []):
        table.add_column(header, justify="left" if header == "set" else "right")
    for (bicubic, ours), reference in zip(pairs, references, strict=True):
        row = [
            bicubic.dataset,
            f"x{bicubic.scale}",
            str(bicubic.images),
            f"{bicubic.psnr:.2f}",
            f"{bicubic.ssim:.4f}",
            f"{ours.psnr:.2f}",
            f"{ours.ssim:.4f}",
            f"{ours.psnr - bicubic.psnr:+.2f}",
        ]
        table.add_row(*row, *([f"{reference[1]:.2f}" if reference else "–"] if paper_label else []))
    out.print(table)

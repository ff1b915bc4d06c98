"""Fidelity report of LIIF weights, as Markdown for a model card: the paper's protocol on the
benchmark sets, a photo set held out from training, JPEG-compressed inputs, and the learning
curve of the run that made the weights.

    .venv/bin/python bench/fidelity_report.py --model liif-edsr --run runs/edsr

Data come from the shared folder (``--shared``, else the ``shared`` setting, else ../shared).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from zoomqa.config import get_settings
from zoomqa.tools.checkpoints import load_checkpoint, read_metadata, resolve_model
from zoomqa.tools.evaluation import EvalResult, evaluate, load_dataset, paper_reference
from zoomqa.tools.training import LOG_FILE

REPO = Path(__file__).resolve().parents[1]


def markdown(results: list[EvalResult], encoder: str, protocol: str) -> str:
    pairs = list(zip(results[::2], results[1::2], strict=True))
    lines = [
        "| set | scale | images | bicubic PSNR / SSIM | ours PSNR / SSIM | gain dB | paper |",
        "|---|---|---|---|---|---|---|",
    ]
    for bicubic, ours in pairs:
        reference = paper_reference(bicubic.dataset, bicubic.scale, encoder, protocol)  # type: ignore[arg-type]
        paper = f"{reference[1]:.2f} ({reference[0]})" if reference else "–"
        lines.append(
            f"| {bicubic.dataset} | x{bicubic.scale} | {bicubic.images} | {bicubic.psnr:.2f} / {bicubic.ssim:.4f} "
            f"| {ours.psnr:.2f} / {ours.ssim:.4f} | {ours.psnr - bicubic.psnr:+.2f} | {paper} |"
        )
    return "\n".join(lines)


def learning_curve(run: Path) -> str:
    entries = [json.loads(line) for line in (run / LOG_FILE).read_text().splitlines()]
    rows = ["| step | train hours | held-out photos x4 (RGB) | Set5 x4 (Y) |", "|---|---|---|---|"]
    for entry in entries:
        if "val_psnr_x4" in entry:
            curve = entry.get("curve_psnr_x4")
            rows.append(
                f"| {entry['step']} | {entry['train_s'] / 3600:.2f} | {entry['val_psnr_x4']:.2f} | "
                f"{'–' if curve is None else f'{curve:.2f}'} |"
            )
    return "\n".join(rows)


def main() -> None:
    settings = get_settings()
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="liif-edsr")
    parser.add_argument(
        "--run",
        type=Path,
        action="append",
        default=[],
        help="training run folder whose learning curve to add (repeat for runs chained with --init)",
    )
    parser.add_argument("--shared", type=Path, default=settings.shared or REPO.parent / "shared")
    parser.add_argument("--scales", default="2,3,4,6,8,12")
    parser.add_argument("--jpeg-quality", type=int, default=40)
    parser.add_argument("--photo-crop", type=int, default=512)
    parser.add_argument("--precision", choices=("fast", "exact"), default="fast")
    parser.add_argument("--parts", default="bench,photos,jpeg,curve")
    parser.add_argument("--sets", default="Set5,Set14,B100", help="benchmark sets to score")
    parser.add_argument(
        "--every",
        type=int,
        default=1,
        help="score every Nth image of each benchmark set (1: all; a subset when CPU time is short)",
    )
    args = parser.parse_args()
    if settings.threads:
        torch.set_num_threads(settings.threads)
    parts = set(args.parts.split(","))
    scales = [int(s) for s in args.scales.split(",")]
    path = resolve_model(args.model, (settings.home / "models",))
    model = load_checkpoint(path)
    encoder = model.spec.encoder
    meta = read_metadata(path) if path.suffix == ".safetensors" else {}
    print(
        f"model {path} ({encoder}, step {meta.get('step', '?')}); precision {args.precision}; "
        f"torch threads {torch.get_num_threads()}\n"
    )
    bench = {
        name: load_dataset(args.shared / "sr-bench" / name)[:: args.every] for name in args.sets.split(",")
    }
    photos = {
        "held-out photos": load_dataset(
            args.shared / "sr-train" / "photos", holdout_every=20, crop=args.photo_crop
        )
    }
    jobs = [
        (
            "bench",
            f"Benchmarks (Y channel, shave = scale{f'; every {args.every}th image' if args.every > 1 else ''})",
            bench,
            scales,
            "benchmark",
            None,
        ),
        (
            "photos",
            f"Photos held out from training ({args.photo_crop}² centre crops, RGB, shave = scale + 6)",
            photos,
            scales,
            "photo",
            None,
        ),
        (
            "jpeg",
            f"LR input JPEG-compressed at quality {args.jpeg_quality} (Y channel)",
            bench,
            [2, 4],
            "benchmark",
            args.jpeg_quality,
        ),
    ]
    for part, title, datasets, job_scales, protocol, quality in jobs:
        if part not in parts:
            continue
        started = time.perf_counter()
        results = evaluate(
            model,
            "ours",
            datasets,
            job_scales,
            protocol=protocol,
            precision=args.precision,
            jpeg_quality=quality,
        )
        print(
            f"### {title}\n\n{markdown(results, encoder, protocol)}\n\n({time.perf_counter() - started:.0f} s)\n"
        )
    for run in args.run if "curve" in parts else ():
        print(f"### Learning curve ({run.name})\n\n{learning_curve(run)}\n")


if __name__ == "__main__":
    main()

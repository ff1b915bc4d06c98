"""Upscaler benchmark: speed and peak memory of LIIF inference against a reference-style baseline.

Prints tables; it is not a test. Each timed variant runs in a fresh subprocess so peak RSS
values do not mix. Variants:

* ``reference``: the authors' per-query evaluation, written out here as the in-run baseline
  (chunks of 30,000 queries; for each ensemble member unfold, nearest sampling, concatenation
  and the full 580-input MLP);
* ``exact``: zoomqa's engine in float32 (must equal the baseline to 1e-5);
* ``fast``: zoomqa's engine in bfloat16 where the CPU has it natively (the default).

It also reports the PSNR change of fast vs exact on Set5 and Set14 at x4, the time and
peak RSS of a 1024^2 -> 8192^2 job, and (part ``train``) seconds per training step of
``zoomqa train`` in fp32 against bf16 autocast, at batch 16 and 8, on 1 and 2 threads, the
same batches for both, alternating so that a busy CPU slows both alike::

    .venv/bin/python bench/bench_upscale.py                     # everything (about 12 minutes on 2 cores)
    .venv/bin/python bench/bench_upscale.py --parts speed,psnr  # without the 8192^2 job
    .venv/bin/python bench/bench_upscale.py --parts psnr --model tools/weights/liif-edsr.safetensors
    .venv/bin/python bench/bench_upscale.py --parts train        # about 6 minutes on 2 cores

The model defaults to the random-weight EDSR conformance checkpoint from the shared folder:
speed does not depend on the weights, and the PSNR change between precisions is what is
compared (trained weights, when available, make the PSNR values themselves meaningful).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from zoomqa.config import get_settings
from zoomqa.tools.checkpoints import load_checkpoint
from zoomqa.tools.engine import upscale_array
from zoomqa.tools.liif_model import LIIF, make_coord
from zoomqa.tools.metrics import psnr
from zoomqa.tools.training import TrainConfig, Trainer
from zoomqa.tools.training_data import list_images, read_rgb, sample_batch

REPO = Path(__file__).resolve().parents[1]
CONFORMANCE_EDSR = Path("liif-conformance/edsr-baseline-liif-random.pth")
SPEED_CASES = {"x4": (256, 1024), "x12": (128, 1536)}  # input side -> output side
LARGE_CASE = (1024, 8192)
REFERENCE_CHUNK = 30_000


# ---------------------------------------------------------------- the in-run baseline


@torch.no_grad()
def reference_query(model: LIIF, feat: torch.Tensor, coord: torch.Tensor, cell: torch.Tensor) -> torch.Tensor:
    """LIIF's query as the paper's code evaluates it: per member, gather 580 inputs, run the MLP."""
    h, w = feat.shape[-2:]
    unfolded = F.unfold(feat, 3, padding=1).view(feat.shape[0], -1, h, w)
    latent_coord = make_coord(h, w).permute(1, 0).view(1, 2, h, w)
    half_y, half_x = 1 / h, 1 / w
    preds, areas = [], []
    for vy in (-1, 1):
        for vx in (-1, 1):
            shifted = coord.clone()
            shifted[..., 0] += vy * half_y + 1e-6
            shifted[..., 1] += vx * half_x + 1e-6
            shifted.clamp_(-1 + 1e-6, 1 - 1e-6)
            grid = shifted.flip(-1).unsqueeze(1)
            q_feat = F.grid_sample(unfolded, grid, mode="nearest", align_corners=False)[:, :, 0].permute(
                0, 2, 1
            )
            q_coord = F.grid_sample(latent_coord, grid, mode="nearest", align_corners=False)[:, :, 0].permute(
                0, 2, 1
            )
            rel = (coord - q_coord) * coord.new_tensor([h, w])
            inputs = torch.cat((q_feat, rel, cell * coord.new_tensor([h, w])), dim=-1)
            preds.append(model.imnet(inputs))
            areas.append((rel[..., 0] * rel[..., 1]).abs() + 1e-9)
    total = torch.stack(areas).sum(0)
    return sum(pred * (area / total).unsqueeze(-1) for pred, area in zip(preds, reversed(areas), strict=True))


@torch.no_grad()
def reference_upscale(model: LIIF, image: np.ndarray, height: int, width: int) -> np.ndarray:
    inp = (torch.from_numpy(image.astype(np.float32) / 255).permute(2, 0, 1).unsqueeze(0) - 0.5) / 0.5
    feat = model.encode(inp)
    coord = make_coord(height, width).unsqueeze(0)
    cell = torch.tensor([2 / height, 2 / width]).expand_as(coord)
    pred = torch.cat(
        [
            reference_query(model, feat, coord[:, i : i + REFERENCE_CHUNK], cell[:, i : i + REFERENCE_CHUNK])
            for i in range(0, coord.shape[1], REFERENCE_CHUNK)
        ],
        dim=1,
    )
    if model.spec.skip is not None:  # our checkpoints' image skip (the authors' LIIF has none)
        pred = pred + model.interpolate(inp, coord)
    return (pred * 0.5 + 0.5).clamp(0, 1).view(height, width, 3).numpy()


# ---------------------------------------------------------------- inputs


def test_image(shared: Path, side: int) -> np.ndarray:
    """A real photograph, centre-cropped and resized to side x side (content does not change speed)."""
    photo = sorted((shared / "sr-train" / "photos").iterdir())[0]
    with Image.open(photo) as im:
        rgb = im.convert("RGB")
        crop = min(rgb.size)
        left, top = (rgb.width - crop) // 2, (rgb.height - crop) // 2
        return np.asarray(rgb.crop((left, top, left + crop, top + crop)).resize((side, side), Image.BICUBIC))


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ---------------------------------------------------------------- one measurement per process


def worker(
    variant: str, in_side: int, out_side: int, model_path: Path, shared: Path, save: Path | None
) -> None:
    model = load_checkpoint(model_path)
    image = test_image(shared, in_side)
    start = time.perf_counter()
    if variant == "reference":
        result = reference_upscale(model, image, out_side, out_side)
    else:
        out_dtype = np.float32 if save else np.uint8
        result = upscale_array(model, image, (out_side, out_side), precision=variant, out_dtype=out_dtype)
    seconds = time.perf_counter() - start
    if save:
        np.save(save, result)
    print(json.dumps({"seconds": seconds, "peak_rss_mib": peak_rss_mib()}))


def measure(
    variant: str, in_side: int, out_side: int, args: argparse.Namespace, save: Path | None = None
) -> dict:
    command = [
        sys.executable,
        __file__,
        "--worker",
        variant,
        str(in_side),
        str(out_side),
        "--model",
        str(args.model),
    ]
    command += ["--shared", str(args.shared)] + (["--save", str(save)] if save else [])
    done = subprocess.run(command, check=True, capture_output=True, text=True, env=os.environ)
    return json.loads(done.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------- the report


def speed_table(args: argparse.Namespace) -> None:
    print("| case | variant | seconds | speed-up vs reference | peak RSS MiB | max abs diff vs reference |")
    print("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for name, (in_side, out_side) in SPEED_CASES.items():
            saved = {v: Path(tmp) / f"{name}-{v}.npy" for v in ("reference", "exact")}
            rows = {
                v: measure(v, in_side, out_side, args, saved.get(v)) for v in ("reference", "exact", "fast")
            }
            reference = np.load(saved["reference"])
            exact_diff = float(np.abs(np.load(saved["exact"]) - reference).max())
            for variant, row in rows.items():
                diff = f"{exact_diff:.1e}" if variant == "exact" else ""
                speedup = rows["reference"]["seconds"] / row["seconds"]
                print(
                    f"| {in_side}^2 -> {out_side}^2 ({name}) | {variant} | {row['seconds']:.2f} | {speedup:.1f}x "
                    f"| {row['peak_rss_mib']:.0f} | {diff} |",
                    flush=True,
                )


def psnr_table(args: argparse.Namespace, scale: int = 4) -> None:
    model = load_checkpoint(args.model)
    print(f"\n| set | x{scale} Y-PSNR exact | fast | change dB | max abs diff (8-bit levels) |")
    print("|---|---|---|---|---|")
    for name in ("Set5", "Set14"):
        values: dict[str, list[float]] = {"exact": [], "fast": []}
        worst = 0.0
        for path in sorted((args.shared / "sr-bench" / name).glob("*.png")):
            with Image.open(path) as im:
                hr = np.asarray(im.convert("RGB"))
            hr = hr[: hr.shape[0] - hr.shape[0] % scale, : hr.shape[1] - hr.shape[1] % scale]
            lr = np.asarray(
                Image.fromarray(hr).resize((hr.shape[1] // scale, hr.shape[0] // scale), Image.BICUBIC)
            )
            preds = {
                p: upscale_array(model, lr, hr.shape[:2], precision=p, out_dtype=np.float32) for p in values
            }
            for p, pred in preds.items():
                values[p].append(psnr(pred, hr / 255.0, shave=scale, y_channel=True))
            worst = max(worst, float(np.abs(preds["fast"] - preds["exact"]).max()) * 255)
        exact, fast = float(np.mean(values["exact"])), float(np.mean(values["fast"]))
        print(f"| {name} | {exact:.3f} | {fast:.3f} | {fast - exact:+.4f} | {worst:.2f} |", flush=True)


def large_table(args: argparse.Namespace) -> None:
    in_side, out_side = LARGE_CASE
    row = measure("fast", in_side, out_side, args)
    print(
        f"\n| {in_side}^2 -> {out_side}^2 fast | {row['seconds']:.1f} s | peak RSS {row['peak_rss_mib']:.0f} MiB |"
    )


def training_table(args: argparse.Namespace, rounds: int = 3, steps_per_round: int = 2) -> None:
    """Seconds per optimizer step, fp32 against bf16 autocast, from the shipped liif-edsr weights."""
    photos_dir = args.shared / "sr-train" / "photos"
    photos = [read_rgb(path) for path in list_images(photos_dir)[1:40:4]]
    init = REPO / "tools" / "weights" / "liif-edsr.safetensors"
    threads_before = torch.get_num_threads()
    print("\n| batch | threads | fp32 s/step | bf16 autocast s/step | bf16 speed-up |")
    print("|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for batch in (16, 8):
            config = TrainConfig(data=photos_dir, init=init, batch=batch, seed=1)
            batches = [
                sample_batch(photos, config, np.random.default_rng(i))
                for i in range(1 + rounds * steps_per_round)
            ]
            for threads in (1, 2):
                torch.set_num_threads(threads)
                trainers = {
                    p: Trainer(
                        Path(tmp) / f"{p}-{batch}-{threads}",
                        config.model_copy(update={"precision": p}),
                        device="cpu",
                    )
                    for p in ("fp32", "bf16")
                }
                times: dict[str, list[float]] = {p: [] for p in trainers}
                for trainer in trainers.values():
                    trainer.train_step(batches[0])  # warm-up: oneDNN picks its kernels on the first call
                for r in range(rounds):
                    for p, trainer in trainers.items():
                        start = time.perf_counter()
                        for b in batches[1 + r * steps_per_round : 1 + (r + 1) * steps_per_round]:
                            trainer.train_step(b)
                        times[p].append((time.perf_counter() - start) / steps_per_round)
                fp32, bf16 = (float(np.median(times[p])) for p in ("fp32", "bf16"))
                print(f"| {batch} | {threads} | {fp32:.2f} | {bf16:.2f} | {fp32 / bf16:.2f}x |", flush=True)
    torch.set_num_threads(threads_before)


def main() -> None:
    settings = get_settings()
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--model", type=Path, default=None, help="checkpoint (default: the EDSR conformance one)"
    )
    parser.add_argument("--shared", type=Path, default=settings.shared or REPO.parent / "shared")
    parser.add_argument(
        "--parts", default="speed,psnr,large", help="comma-separated: speed, psnr, large, train"
    )
    parser.add_argument("--worker", nargs=3, metavar=("VARIANT", "IN", "OUT"), help=argparse.SUPPRESS)
    parser.add_argument("--save", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.model = args.model or args.shared / CONFORMANCE_EDSR
    if settings.threads:
        torch.set_num_threads(settings.threads)
    if args.worker:
        variant, in_side, out_side = args.worker
        worker(variant, int(in_side), int(out_side), args.model, args.shared, args.save)
        return
    load = os.getloadavg()
    print(f"model {args.model}; torch threads {torch.get_num_threads()}; load average before {load[0]:.2f}\n")
    parts = {"speed": speed_table, "psnr": psnr_table, "large": large_table, "train": training_table}
    for name in args.parts.split(","):
        if name not in parts:
            parser.error(f"unknown part '{name}' (known: {', '.join(parts)})")
        parts[name](args)
    print(f"\nload average after: {os.getloadavg()[0]:.2f} (on {os.cpu_count()} cores)")


if __name__ == "__main__":
    main()

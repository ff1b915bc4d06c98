"""Fine-tune liif-edsr on one CUDA GPU within a time budget, then score it and write the tables.

One command for a machine lent a GPU for a few minutes (it runs on a CPU too, slowly)::

    python3 tools/gpu_recipe.py --out "$OUT"                       # 6 min training, then scoring
    python3 tools/gpu_recipe.py --photos DIR/photos --bench DIR/bench --out "$OUT"

It trains from the shipped ``liif-edsr`` weights with the paper's batch (16) under autocast (bf16
where the GPU has it, else fp16 with loss scaling; ``--precision``) for ``--minutes`` of training
time, as many steps as fit, with batches drawn by worker processes so that the GPU does not wait
for them. The learning rate (``--lr``) halves at one half and at three quarters of the budget.
Then it exports the weights (fp16, as shipped) and scores bicubic, the starting weights and the
new ones under the LIIF paper's protocol: the held-out photos (512² centre crops, RGB, shave =
scale + 6) and Set5, Set14 and B100 (Y, shave = scale) at x2, x4 and x8. ``--out`` receives:

* ``liif-edsr.safetensors``: the new weights, a drop-in for ``tools/weights/``;
* ``report.md`` and ``report.json``: device, settings, steps, seconds per step, wall times,
  every table and the learning curve;
* ``log.jsonl``: the run's log (loss every 50 steps, validation every ``--val-every``).

Photos: ``--photos`` holds the training photos; the held-out ones are every 20th by name, as in
``zoomqa train``, unless the folder has a ``split.json`` naming them. ``pack`` writes such a
folder (and the benchmarks, as pixel-identical lossless WebP) within a size budget, for a
machine the full data cannot be copied to (a lent machine receives 64 MiB with the repository;
B100 left behind is scored where the data is)::

    python3 tools/gpu_recipe.py pack --to runs/gpu-pack --mib 37.5 --sets Set5,Set14

The module runs as a file (``python3 tools/gpu_recipe.py``) without zoomqa being installed: it
then needs only torch, numpy, Pillow, safetensors and pydantic.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

if __package__ in (None, ""):  # run as a file: map zoomqa and zoomqa.tools onto this checkout

    def _alias(name: str, folder: Path) -> None:
        spec = importlib.util.spec_from_file_location(
            name, folder / "__init__.py", submodule_search_locations=[str(folder)]
        )
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)

    _REPO = Path(__file__).resolve().parents[1]
    try:
        import zoomqa.tools  # noqa: F401
    except ImportError:
        _alias("zoomqa", _REPO / "zoomqa")
        _alias("zoomqa.tools", _REPO / "tools")

import numpy as np
import torch
from PIL import Image

from zoomqa.tools.checkpoints import BUNDLED_WEIGHTS_DIR, load_checkpoint
from zoomqa.tools.evaluation import EvalResult, Protocol, evaluate
from zoomqa.tools.training import LOG_FILE, TrainConfig, Trainer, export_weights
from zoomqa.tools.training_data import BatchStream, centre_crop, list_images, read_rgb, split_holdout

REPO = Path(__file__).resolve().parents[1]
SPLIT_FILE = "split.json"
HOLDOUT_EVERY = 20  # as zoomqa train's default: the split every model card reports on
PHOTO_CROP = 512
BENCHMARKS = ("Set5", "Set14", "B100")
WEIGHTS_NAME = "liif-edsr.safetensors"


def default_shared() -> Path:
    return Path(os.environ.get("ZOOMQA_SHARED") or REPO.parent / "shared")


# ---------------------------------------------------------------- data


def photo_split(folder: Path) -> tuple[list[Path], list[Path]]:
    """(training photos, held-out photos): a ``split.json`` in the folder names the held-out ones."""
    files = list_images(folder)
    split = folder / SPLIT_FILE
    if not split.is_file():
        return split_holdout(files, HOLDOUT_EVERY)
    held_names = set(json.loads(split.read_text())["held_out"])
    return [f for f in files if f.name not in held_names], [f for f in files if f.name in held_names]


def read_all(paths: Sequence[Path], threads: int) -> list[np.ndarray]:
    """Decode images on several threads (Pillow releases the GIL while decoding)."""
    with ThreadPoolExecutor(max(1, threads)) as pool:
        return list(pool.map(read_rgb, paths))


def pack(shared: Path, to: Path, mib: float, sets: Sequence[str] = BENCHMARKS) -> dict:
    """A copy of the data the recipe reads that fits ``mib``: the benchmarks in ``sets`` as lossless
    WebP, all the held-out photos, and as many training photos (spread evenly over the sorted
    list) as fit. Leaving a large benchmark out (B100) buys training photos; it is then scored
    where the full data is."""
    to.mkdir(parents=True, exist_ok=True)
    budget = mib * 2**20
    for name in sets:
        target = to / "bench" / name
        target.mkdir(parents=True, exist_ok=True)
        for path in list_images(shared / "sr-bench" / name):
            Image.fromarray(read_rgb(path)).save(
                target / f"{path.stem}.webp", lossless=True, quality=80, method=4
            )
    photos = to / "photos"
    photos.mkdir(exist_ok=True)
    train, held = photo_split(shared / "sr-train" / "photos")
    for path in held:
        shutil.copy2(path, photos / path.name)
    used = sum(f.stat().st_size for f in to.rglob("*") if f.is_file())
    # Every k-th photo first, then the ones between, so any budget takes a spread of the set.
    stride = max(1, len(train) // 16)
    order = [p for offset in range(stride) for p in train[offset::stride]]
    kept = 0
    for path in order:
        if used + path.stat().st_size > budget:
            continue
        shutil.copy2(path, photos / path.name)
        used += path.stat().st_size
        kept += 1
    (photos / SPLIT_FILE).write_text(json.dumps({"held_out": [p.name for p in held]}, indent=1))
    return {
        "folder": str(to),
        "mib": round(used / 2**20, 1),
        "training_photos": kept,
        "held_out_photos": len(held),
    }


# ---------------------------------------------------------------- training


class BudgetTrainer(Trainer):
    """A trainer whose learning rate halves at fixed fractions of a training-time budget."""

    def __init__(
        self, *args: object, budget_s: float, halve_at: Sequence[float] = (0.5, 0.75), **kwargs: object
    ) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.budget_s = budget_s
        self.halve_at = tuple(halve_at)

    def learning_rate(self, step: int) -> float:
        passed = sum(self.seconds >= fraction * self.budget_s for fraction in self.halve_at)
        return self.config.lr * self.config.lr_gamma**passed


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"CPU ({os.cpu_count()} cores, {torch.get_num_threads()} torch threads)"


def train(args: argparse.Namespace, run: Path, device: torch.device) -> tuple[BudgetTrainer, dict]:
    photos_dir, bench = args.photos.resolve(), args.bench.resolve()
    train_files, held_files = photo_split(photos_dir)
    if args.train_photos:
        train_files = train_files[: args.train_photos]
    started = time.time()
    photos = read_all(train_files, args.workers or 1)
    held = [centre_crop(image, 240) for image in read_all(held_files[:8], args.workers or 1)]
    curve = read_all(list_images(bench / "Set5"), 4)
    load_s = time.time() - started
    config = TrainConfig(
        data=photos_dir,
        curve_data=bench / "Set5",
        init=args.init.resolve(),
        batch=args.batch,
        lr=args.lr,
        steps=args.steps,
        lr_decay_every=10**9,
        val_every=args.val_every,
        save_every=10**9,
        holdout_every=HOLDOUT_EVERY,
        val_images=len(held),
        precision=args.precision,
        seed=args.seed,
    )
    if run.exists():
        shutil.rmtree(run)  # the recipe starts from --init every time; it is not a resumable run
    trainer = BudgetTrainer(run, config, device=str(device), budget_s=args.minutes * 60)
    stream = BatchStream(photos, config, seed=args.seed)
    loader = torch.utils.data.DataLoader(
        stream,
        batch_size=None,
        num_workers=args.workers,
        pin_memory=device.type == "cuda",
        prefetch_factor=8 if args.workers else None,
        persistent_workers=args.workers > 0,
    )

    def report(entry: dict, its: float) -> None:
        if "val_psnr_x4" in entry or entry["step"] % 200 == 0:
            print(json.dumps({**entry, "its": round(its, 2)}), flush=True)

    trained_from = time.time()
    trainer.train(
        report,
        stop=lambda: trainer.seconds >= trainer.budget_s,
        batches=iter(loader),
        validation=(held, curve),
    )
    wall = time.time() - trained_from
    steps = trainer.step
    info = {
        "device": device_name(device),
        "torch": torch.__version__,
        "autocast_dtype": str(trainer.amp_dtype).removeprefix("torch."),
        "training_photos": len(photos),
        "held_out_photos": len(held_files),
        "load_seconds": round(load_s, 1),
        "steps": steps,
        "train_seconds": round(trainer.seconds, 1),
        "train_wall_seconds": round(wall, 1),
        "seconds_per_step": round(trainer.seconds / max(steps, 1), 4),
        "loader_workers": args.workers,
        "lr": args.lr,
        "lr_halved_at_train_fraction": list(trainer.halve_at),
        "batch": args.batch,
        "config": json.loads(config.model_dump_json()),
    }
    return trainer, info


# ---------------------------------------------------------------- scoring and the report


def score(args: argparse.Namespace, weights: Path, device: torch.device) -> list[dict]:
    """Bicubic, the starting weights and the trained ones on every set and scale: one row each."""
    scales = [int(s) for s in args.scales.split(",")]
    _, held_files = photo_split(args.photos.resolve())
    sets: dict[str, tuple[Protocol, list[np.ndarray]]] = {
        "held-out photos": (
            "photo",
            [centre_crop(i, PHOTO_CROP) for i in read_all(held_files[: args.eval_limit], 8)],
        )
    }
    for name in args.sets.split(","):
        sets[name] = ("benchmark", read_all(list_images(args.bench.resolve() / name)[: args.eval_limit], 8))
    models = {"start": load_checkpoint(args.init), "trained": load_checkpoint(weights)}
    rows = []
    for set_name, (protocol, images) in sets.items():
        results: dict[str, list[EvalResult]] = {
            label: evaluate(
                model,
                label,
                {set_name: images},
                scales,
                protocol=protocol,
                precision="fast",
                device=str(device),
            )
            for label, model in models.items()
        }
        for i, scale in enumerate(scales):
            bicubic, start = results["start"][2 * i], results["start"][2 * i + 1]
            trained = results["trained"][2 * i + 1]
            rows.append(
                {
                    "set": set_name,
                    "scale": scale,
                    "images": len(images),
                    "protocol": protocol,
                    "bicubic": [round(bicubic.psnr, 3), round(bicubic.ssim, 4)],
                    "start": [round(start.psnr, 3), round(start.ssim, 4)],
                    "trained": [round(trained.psnr, 3), round(trained.ssim, 4)],
                }
            )
    return rows


def markdown(info: dict, rows: list[dict], curve: list[dict]) -> str:
    lines = [
        "# liif-edsr GPU recipe",
        "",
        f"{info['device']}, torch {info['torch']}, autocast {info['autocast_dtype']}; {info['steps']} steps at batch "
        f"{info['batch']} in {info['train_seconds']:.0f} s of training ({info['seconds_per_step'] * 1000:.1f} ms per step, "
        f"{info['loader_workers']} loader workers); lr {info['lr']:g}, halved at "
        f"{', '.join(f'{f:.0%}' for f in info['lr_halved_at_train_fraction'])} of the budget; "
        f"{info['training_photos']} training photos; whole command {info['wall_seconds']:.0f} s.",
        "",
        "PSNR (dB) / SSIM. Held-out photos: 512² centre crops, RGB, shave = scale + 6; benchmarks: Y, shave = scale.",
        "",
        "| set | scale | images | bicubic | start | trained | trained − bicubic | trained − start |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        b, s, t = r["bicubic"], r["start"], r["trained"]
        lines.append(
            f"| {r['set']} | x{r['scale']} | {r['images']} | {b[0]:.2f} / {b[1]:.4f} | {s[0]:.2f} / {s[1]:.4f} "
            f"| {t[0]:.2f} / {t[1]:.4f} | {t[0] - b[0]:+.2f} | {t[0] - s[0]:+.2f} |"
        )
    lines += [
        "",
        "Learning curve (8 held-out photos, 240² crops, RGB x4; Set5 x4, Y):",
        "",
        "| step | train s | held-out photos x4 | Set5 x4 |",
        "|---|---|---|---|",
    ]
    for entry in curve:
        lines.append(
            f"| {entry['step']} | {entry['train_s']} | {entry['val_psnr_x4']:.2f} | {entry.get('curve_psnr_x4', float('nan')):.2f} |"
        )
    return "\n".join(lines) + "\n"


def run_recipe(args: argparse.Namespace) -> dict:
    began = time.time()
    device = torch.device(
        args.device if args.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu")
    )
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    run = Path(args.run).resolve() if args.run else out / "run"
    trainer, info = train(args, run, device)
    weights = export_weights(run, out / WEIGHTS_NAME, force=True)
    shutil.copy2(run / LOG_FILE, out / LOG_FILE)
    scored_from = time.time()
    rows = score(args, weights, device)
    info["score_seconds"] = round(time.time() - scored_from, 1)
    info["wall_seconds"] = round(time.time() - began, 1)
    curve = [json.loads(line) for line in (run / LOG_FILE).read_text().splitlines()]
    curve = [entry for entry in curve if "val_psnr_x4" in entry]
    report = {**info, "results": rows, "curve": curve}
    (out / "report.json").write_text(json.dumps(report, indent=1))
    (out / "report.md").write_text(markdown(info, rows, curve))
    if args.run is None:
        shutil.rmtree(run)  # the fp32 run folder (20 MB) stays only when asked for
    print((out / "report.md").read_text(), flush=True)
    return report


def parse(argv: Sequence[str] | None = None) -> argparse.Namespace:
    shared = default_shared()
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["pack"]:
        parser = argparse.ArgumentParser(prog="gpu_recipe.py pack", description=pack.__doc__)
        parser.add_argument("--shared", type=Path, default=shared)
        parser.add_argument("--to", type=Path, required=True)
        parser.add_argument("--mib", type=float, default=48.0, help="size budget of the whole folder")
        parser.add_argument("--sets", default=",".join(BENCHMARKS), help="benchmarks to copy")
        args = parser.parse_args(argv[1:])
        args.command = "pack"
        return args
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--out",
        type=Path,
        default=Path(os.environ.get("OUT") or "runs/gpu-recipe"),
        help="where the weights and the report go (default: $OUT, else runs/gpu-recipe)",
    )
    parser.add_argument("--photos", type=Path, default=shared / "sr-train" / "photos")
    parser.add_argument(
        "--bench", type=Path, default=shared / "sr-bench", help="folder holding Set5, Set14, B100"
    )
    parser.add_argument("--init", type=Path, default=BUNDLED_WEIGHTS_DIR / WEIGHTS_NAME)
    parser.add_argument("--minutes", type=float, default=6.0, help="training time budget")
    parser.add_argument("--steps", type=int, default=1_000_000, help="stop earlier at this step")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--precision", choices=["auto", "fp32", "bf16"], default="auto")
    parser.add_argument("--val-every", type=int, default=1000)
    parser.add_argument(
        "--workers",
        type=int,
        default=max(0, min(10, (os.cpu_count() or 2) - 2)),
        help="batch-drawing processes (0: in the training process)",
    )
    parser.add_argument("--train-photos", type=int, default=None, help="use only the first N training photos")
    parser.add_argument("--scales", default="2,4,8")
    parser.add_argument("--sets", default=",".join(BENCHMARKS))
    parser.add_argument(
        "--eval-limit", type=int, default=None, help="score only the first N images of each set"
    )
    parser.add_argument("--device", choices=["auto", "cuda", "cpu"], default="auto")
    parser.add_argument("--run", type=Path, default=None, help="keep the fp32 run folder here")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    args.command = "train"
    return args


def main(argv: Sequence[str] | None = None) -> dict:
    args = parse(argv)
    if args.command == "pack":
        summary = pack(args.shared, args.to, args.mib, args.sets.split(","))
        print(json.dumps(summary))
        return summary
    return run_recipe(args)


if __name__ == "__main__":
    main()

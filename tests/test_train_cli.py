"""`zoomqa train`, `export-weights`, `eval upscale` and the GPU recipe end to end: real commands, real files."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from zoomqa.cli import app
from zoomqa.tools import gpu_recipe
from zoomqa.tools.checkpoints import BUNDLED_WEIGHTS_DIR, load_checkpoint, read_metadata
from zoomqa.tools.training import TrainConfig
from zoomqa.tools.training_data import read_rgb

TINY = ("--patch", "12", "--batch", "2", "--val-every", "3", "--save-every", "2")


def zoomqa(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "zoomqa.cli", *args], capture_output=True, text=True, timeout=300
    )


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


def log_entries(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]


def train_until(run: Path, photo_dir: Path, *, step: int, save_every: int) -> subprocess.Popen[str]:
    """A long tiny-patch training process, returned once it has logged ``step`` (a line every 50 steps)."""
    args = [
        sys.executable,
        "-m",
        "zoomqa.cli",
        "train",
        "--run",
        str(run),
        "--data",
        str(photo_dir),
        "--steps",
        "100000",
        "--patch",
        "12",
        "--batch",
        "2",
        "--val-every",
        "100000",
        "--save-every",
        str(save_every),
    ]
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stderr is not None
    for line in process.stderr:
        if line.startswith(f"step {step} "):
            return process
    raise AssertionError(f"training ended before step {step}: {process.communicate()}")


@pytest.mark.slow
def test_train_starts_validates_resumes_and_exports(tmp_path: Path, photo_dir: Path) -> None:
    run = tmp_path / "run"
    first = zoomqa("train", "--run", str(run), "--data", str(photo_dir), "--steps", "3", *TINY)
    assert first.returncode == 0, first.stderr
    assert "starting" in first.stderr and "finished at step 3" in first.stdout
    assert "val_psnr_x4" in log_entries(run)[-1]
    assert read_metadata(run / "model.safetensors")["step"] == "3"

    # Resuming needs only the run folder; --steps may grow.
    more = zoomqa("train", "--run", str(run), "--steps", "5")
    assert more.returncode == 0, more.stderr
    assert "resuming" in more.stderr and "at step 3" in more.stderr and "finished at step 5" in more.stdout
    assert json.loads((run / "config.json").read_text())["data"] == str(photo_dir.resolve())

    weights = tmp_path / "mine.safetensors"
    code, output = invoke("export-weights", str(run), str(weights))
    assert code == 0, output
    exported, trained = load_checkpoint(weights), load_checkpoint(run / "model.safetensors")
    assert next(iter(exported.state_dict().values())).dtype == torch.float32  # loads back as float32
    for name, value in trained.state_dict().items():
        torch.testing.assert_close(exported.state_dict()[name], value.half().float())
    assert read_metadata(weights)["step"] == "5"
    assert json.loads(read_metadata(weights)["train_config"])["data"] == photo_dir.name  # no local paths ship
    assert weights.stat().st_size < (run / "model.safetensors").stat().st_size * 0.6

    code, output = invoke("export-weights", str(run), str(weights))
    assert code != 0 and "exists; pass --force" in output
    code, output = invoke("export-weights", str(run), str(tmp_path / "mine.pth"))
    assert code != 0 and "must end in .safetensors" in output


@pytest.mark.slow
def test_sigterm_checkpoints_the_step_in_progress_and_resume_goes_on_from_it(
    tmp_path: Path, photo_dir: Path
) -> None:
    run = tmp_path / "run"
    process = train_until(run, photo_dir, step=50, save_every=100000)
    process.send_signal(signal.SIGTERM)
    stdout, _ = process.communicate(timeout=120)
    assert process.returncode == 0
    step = int(read_metadata(run / "model.safetensors")["step"])
    assert 50 <= step < 100000 and f"stopped at step {step}" in stdout
    assert torch.load(run / "optimizer.pt", weights_only=True)["step"] == step

    resumed = zoomqa("train", "--run", str(run), "--steps", str(step + 1))
    assert resumed.returncode == 0 and f"at step {step}" in resumed.stderr


@pytest.mark.slow
def test_a_killed_run_resumes_from_its_checkpoint_and_its_log_forgets_the_lost_steps(
    tmp_path: Path, photo_dir: Path
) -> None:
    run = tmp_path / "run"
    process = train_until(run, photo_dir, step=100, save_every=60)
    process.kill()  # no chance to checkpoint: the last one is step 60
    process.communicate(timeout=60)
    assert [entry["step"] for entry in log_entries(run)][-1] >= 100

    resumed = zoomqa("train", "--run", str(run), "--steps", "70")
    assert resumed.returncode == 0 and "at step 60" in resumed.stderr, resumed.stderr
    assert [entry["step"] for entry in log_entries(run)] == [50, 70]  # every 50th step and the last


def test_train_refuses_bad_requests_in_one_line(tmp_path: Path, photo_dir: Path) -> None:
    code, output = invoke("train", "--run", str(tmp_path / "new"))
    assert code == 2 and "pass --data FOLDER" in output
    code, output = invoke("train", "--run", str(tmp_path / "new"), "--data", str(photo_dir), "--batch", "0")
    assert code == 2 and "bad training option: --batch" in output
    code, output = invoke(
        "train", "--run", str(tmp_path / "new"), "--data", str(tmp_path / "nowhere"), "--steps", "1"
    )
    assert code == 2 and "training data folder not found" in output

    run = tmp_path / "run"
    code, output = invoke("train", "--run", str(run), "--data", str(photo_dir), "--steps", "1", *TINY)
    assert code == 0, output
    code, output = invoke("train", "--run", str(run), "--steps", "2", "--batch", "4")
    assert code == 2 and "other settings (batch)" in output
    code, output = invoke("train", "--run", str(run), "--steps", "1")
    assert code == 0 and "already at step 1" in output
    (run / "config.json").write_text("{not json")
    code, output = invoke("train", "--run", str(run))
    assert code == 2 and "is not a training configuration" in output
    assert "Traceback" not in output


def test_train_records_the_precision_asked_for_and_says_which_arithmetic_runs(
    tmp_path: Path, photo_dir: Path
) -> None:
    run = tmp_path / "run"
    code, output = invoke(
        "train", "--run", str(run), "--data", str(photo_dir), "--steps", "1", "--precision", "fp32", *TINY
    )
    assert code == 0, output
    assert "on cpu (fp32)" in output
    assert json.loads((run / "config.json").read_text())["precision"] == "fp32"
    code, output = invoke("train", "--run", str(run), "--steps", "2", "--precision", "bf16")
    assert code == 0, output
    assert "resuming" in output and "(bfloat16 autocast)" in output
    assert json.loads((run / "config.json").read_text())["precision"] == "bf16"
    code, output = invoke("train", "--run", str(run), "--steps", "3", "--precision", "fp16")
    assert code == 2 and "--precision" in output


def test_eval_upscale_json_has_bicubic_and_the_model_per_set_and_scale(shared_dir: Path) -> None:
    checkpoint = shared_dir / "liif-conformance" / "edsr-baseline-liif-random.pth"
    code, output = invoke(
        "eval",
        "upscale",
        "--data",
        str(shared_dir / "sr-bench" / "Set5"),
        "--scales",
        "2,3",
        "--model",
        str(checkpoint),
        "--limit",
        "1",
        "--crop",
        "96",
        "--json",
    )
    assert code == 0, output
    report = json.loads(output)
    assert report["protocol"] == "benchmark" and report["encoder"] == "edsr-baseline"
    rows = [(r["dataset"], r["scale"], r["method"]) for r in report["results"]]
    label = "edsr-baseline-liif-random"
    assert rows == [("Set5", 2, "bicubic"), ("Set5", 2, label), ("Set5", 3, "bicubic"), ("Set5", 3, label)]
    assert all({"psnr", "ssim"} <= set(r) for r in report["results"])


def test_eval_upscale_table_shows_the_papers_numbers_and_refuses_bad_scales(shared_dir: Path) -> None:
    checkpoint = str(shared_dir / "liif-conformance" / "edsr-baseline-liif-random.pth")
    set5 = str(shared_dir / "sr-bench" / "Set5")
    code, output = invoke(
        "eval",
        "upscale",
        "--data",
        set5,
        "--scales",
        "4",
        "--model",
        checkpoint,
        "--limit",
        "1",
        "--crop",
        "64",
        "--jpeg-quality",
        "40",
    )
    assert code == 0, output
    assert "paper: RDN-LIIF" in output and "32.50" in output and "JPEG quality 40" in output
    for bad in ("1.5", "0", "x4", ""):
        code, output = invoke("eval", "upscale", "--data", set5, "--scales", bad, "--model", checkpoint)
        assert code == 2 and "--scales" in output, bad
    code, output = invoke("eval", "upscale", "--data", set5, "--data", set5, "--model", checkpoint)
    assert code == 2 and "both named 'Set5'" in output


def _small_benchmarks(shared_dir: Path, folder: Path, names: tuple[str, ...] = ("Set5",)) -> Path:
    """One 96x96 crop of a real benchmark image per set: the recipe's code path at a test's cost."""
    for name in names:
        (folder / name).mkdir(parents=True)
        source = sorted((shared_dir / "sr-bench" / "Set5").iterdir())[0]
        with Image.open(source) as image:
            image.convert("RGB").crop((100, 100, 196, 196)).save(folder / name / "crop.png")
    return folder


def test_gpu_recipe_trains_within_its_budget_exports_scores_and_reports(
    tmp_path: Path, photo_dir: Path, shared_dir: Path
) -> None:
    """The GPU recipe's whole path on the CPU: 2 steps, a worker process drawing the batches, tiny sets."""
    bench = _small_benchmarks(shared_dir, tmp_path / "bench")
    out = tmp_path / "out"
    report = gpu_recipe.main(
        [
            "--photos",
            str(photo_dir),
            "--bench",
            str(bench),
            "--out",
            str(out),
            "--device",
            "cpu",
            "--steps",
            "2",
            "--batch",
            "2",
            "--workers",
            "1",
            "--val-every",
            "2",
            "--scales",
            "2,4",
            "--sets",
            "Set5",
            "--eval-limit",
            "1",
        ]
    )
    assert report["steps"] == 2 and report["autocast_dtype"] in ("bfloat16", "float32")
    weights = out / "liif-edsr.safetensors"
    assert read_metadata(weights)["step"] == "2"
    assert (
        load_checkpoint(weights).spec == load_checkpoint(BUNDLED_WEIGHTS_DIR / "liif-edsr.safetensors").spec
    )
    rows = [(row["set"], row["scale"], row["images"]) for row in report["results"]]
    assert rows == [("held-out photos", 2, 1), ("held-out photos", 4, 1), ("Set5", 2, 1), ("Set5", 4, 1)]
    assert all(len(row[key]) == 2 for row in report["results"] for key in ("bicubic", "start", "trained"))
    assert [entry["step"] for entry in report["curve"]] == [2] and "curve_psnr_x4" in report["curve"][0]
    assert json.loads((out / "report.json").read_text())["results"] == report["results"]
    markdown = (out / "report.md").read_text()
    assert "| Set5 | x4 | 1 |" in markdown and "2 steps at batch 2" in markdown
    assert (out / "log.jsonl").is_file() and not (out / "run").exists()


def test_gpu_recipe_halves_the_learning_rate_at_fractions_of_its_time_budget(
    tmp_path: Path, photo_dir: Path
) -> None:
    config = TrainConfig(data=photo_dir, patch=12, batch=2, lr=1e-4)
    trainer = gpu_recipe.BudgetTrainer(tmp_path / "run", config, device="cpu", budget_s=100.0)
    rates = []
    for seconds in (0.0, 49.9, 50.0, 74.9, 75.0, 99.0):
        trainer.seconds = seconds
        rates.append(trainer.learning_rate(0))
    assert rates == pytest.approx([1e-4, 1e-4, 5e-5, 5e-5, 2.5e-5, 2.5e-5])


def test_gpu_recipe_pack_keeps_the_held_out_split_and_the_benchmark_pixels(
    tmp_path: Path, shared_dir: Path
) -> None:
    shared = tmp_path / "shared"
    photos = shared / "sr-train" / "photos"
    photos.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(41):  # every 20th held out: 00, 20, 40
        Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(photos / f"{i:02d}.png")
    _small_benchmarks(shared_dir, shared / "sr-bench", gpu_recipe.BENCHMARKS)
    size = (photos / "01.png").stat().st_size
    bench_size = sum(f.stat().st_size for f in (shared / "sr-bench").rglob("*.png"))
    budget = (bench_size + 13 * size) / 2**20  # room for the 3 held-out photos and about 10 others
    summary = gpu_recipe.main(
        ["pack", "--shared", str(shared), "--to", str(tmp_path / "pack"), "--mib", str(budget)]
    )

    packed = tmp_path / "pack" / "photos"
    train, held = gpu_recipe.photo_split(packed)
    assert [p.name for p in held] == ["00.png", "20.png", "40.png"]
    assert summary["held_out_photos"] == 3 and 5 <= len(train) == summary["training_photos"] <= 11
    assert not {p.name for p in train} & {"00.png", "20.png", "40.png"}
    assert (
        sum(f.stat().st_size for f in (tmp_path / "pack").rglob("*") if f.is_file()) <= budget * 2**20 + 4096
    )
    for name in gpu_recipe.BENCHMARKS:
        original = read_rgb(shared / "sr-bench" / name / "crop.png")
        assert np.array_equal(read_rgb(tmp_path / "pack" / "bench" / name / "crop.webp"), original)
    # Benchmarks left out (scored where the full data is) leave room for more training photos.
    fewer = gpu_recipe.main(
        [
            "pack",
            "--shared",
            str(shared),
            "--to",
            str(tmp_path / "p2"),
            "--mib",
            str(budget),
            "--sets",
            "Set5",
        ]
    )
    assert sorted(p.name for p in (tmp_path / "p2" / "bench").iterdir()) == ["Set5"]
    assert fewer["training_photos"] > summary["training_photos"]


def test_gpu_recipe_runs_as_a_file_without_zoomqa_installed(tmp_path: Path) -> None:
    """A bare GPU machine has torch but not zoomqa: the file maps the package onto its checkout."""
    recipe = Path(gpu_recipe.__file__).resolve()
    code = (
        "import runpy, sys\n"
        "sys.meta_path[:] = [f for f in sys.meta_path if 'Editable' not in repr(f)]\n"
        f"sys.argv = [{str(recipe)!r}, '--help']\n"
        f"runpy.run_path({str(recipe)!r}, run_name='__main__')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert "--minutes" in done.stdout

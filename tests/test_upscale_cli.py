"""`zoomqa upscale` end to end: the real command, real files, clean errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from zoomqa.cli import app


@pytest.fixture()
def photo(tmp_path: Path) -> Path:
    pixels = np.random.default_rng(0).integers(0, 256, (20, 30, 3), dtype=np.uint8)
    path = tmp_path / "photo.webp"
    Image.fromarray(pixels).save(path, lossless=True)
    return path


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "zoomqa.cli", *args], capture_output=True, text=True, timeout=300
    )


@pytest.mark.slow
def test_the_real_command_upscales_and_compares(photo: Path, edsr_checkpoint: Path) -> None:
    done = run_cli("upscale", str(photo), "--scale", "2.5", "--model", str(edsr_checkpoint), "--compare")
    assert done.returncode == 0, done.stderr
    assert "30x20 -> 75x50" in done.stdout and "on cpu" in done.stdout and edsr_checkpoint.name in done.stdout
    with Image.open(photo.with_name("photo_x2.5.png")) as out:
        assert out.size == (75, 50)
    assert photo.with_name("photo_x2.5_compare.png").is_file()

    again = run_cli("upscale", str(photo), "--scale", "2.5", "--model", str(edsr_checkpoint))
    assert again.returncode == 2
    assert "already exists: pass --force" in again.stderr and "Traceback" not in again.stderr


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


def test_sizes_models_and_outputs_from_the_command_line(photo: Path, edsr_checkpoint: Path) -> None:
    out = photo.with_name("poster.jpg")
    code, text = invoke(
        "upscale",
        str(photo),
        "--size",
        "64x21",
        "-o",
        str(out),
        "--model",
        str(edsr_checkpoint),
        "--precision",
        "exact",
    )
    assert code == 0, text
    with Image.open(out) as image:
        assert image.size == (64, 21) and image.format == "JPEG"
    code, text = invoke(
        "upscale", str(photo), "--height", "40", "-o", str(out), "--force", "--model", str(edsr_checkpoint)
    )
    assert code == 0, text
    with Image.open(out) as image:
        assert image.size == (60, 40)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--scale", "0.5"), "only enlarges"),
        (("--scale", "2", "--width", "90"), "exactly one of --scale, --size, --width or --height"),
        (("--size", "big"), "is not WIDTHxHEIGHT"),
        (
            ("--scale", "2", "--model", "liif-rdn"),
            "no weights installed for model 'liif-rdn': pass --model PATH",
        ),
        (("--scale", "2", "--device", "cuda"), "no CUDA GPU"),
    ],
)
def test_user_mistakes_are_one_line_errors(photo: Path, args: tuple[str, ...], message: str) -> None:
    code, text = invoke("upscale", str(photo), *args)
    assert code == 2
    assert message in " ".join(text.split()) and "Traceback" not in text


def test_missing_input_and_configured_limits(
    photo: Path, edsr_checkpoint: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, text = invoke("upscale", str(photo.with_name("nope.png")), "--scale", "2")
    assert code == 2 and "image not found" in text
    monkeypatch.setenv("ZOOMQA_UPSCALE__MAX_OUTPUT_PIXELS", "1000")
    from zoomqa.config import get_settings

    get_settings.cache_clear()
    code, text = invoke("upscale", str(photo), "--scale", "2", "--model", str(edsr_checkpoint))
    assert code == 2 and "above the output limit of 1,000" in " ".join(text.split())
    assert sorted(p.name for p in photo.parent.iterdir()) == [photo.name]

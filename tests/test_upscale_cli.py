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
from zoomqa.files import FILE_MODE


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
    code, text = invoke(
        "upscale", str(photo), "--long-side", "75", "-o", str(out), "--force", "--model", str(edsr_checkpoint)
    )
    assert code == 0, text
    with Image.open(out) as image:
        assert image.size == (75, 50)  # the photo is 30x20: its longer side is the width


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--size", "20x10"), "only enlarges"),  # the photo is 30x20
        (
            ("--scale", "2", "--width", "90"),
            "exactly one of --scale, --size, --width, --height or --long-side",
        ),
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


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--scale", "nan"), "scale must be greater than 1"),
        (("--scale", "inf"), "scale must be greater than 1"),
        (("--scale", "0.5"), "scale must be greater than 1"),
        (("--scale", "1"), "scale must be greater than 1"),
        (("--scale", "-2"), "scale must be greater than 1"),
        (("--scale", "0"), "scale must be greater than 1"),
        (("--width", "0"), "width must be from 1 to 65536 pixels, not 0"),
        (("--width", "-5"), "width must be from 1 to 65536 pixels, not -5"),
        (("--height", "99999999999999999999"), "height must be from 1 to 65536 pixels"),
        (("--long-side", "0"), "long side must be from 1 to 65536 pixels, not 0"),
        (("--size", "0x100"), "each side of --size must be from 1 to 65536 pixels, not 0x100"),
        (("--size", "70000x70000"), "each side of --size must be from 1 to 65536 pixels"),
    ],
)
def test_every_bad_number_is_one_line_and_a_failure(photo: Path, args: tuple[str, ...], message: str) -> None:
    code, text = invoke("upscale", str(photo), *args)
    assert code == 2 and message in text, text
    assert len(text.strip().splitlines()) == 1 and "Traceback" not in text
    assert sorted(p.name for p in photo.parent.iterdir()) == [photo.name]


def test_a_folder_or_a_file_that_is_no_image_is_named(photo: Path) -> None:
    code, text = invoke("upscale", str(photo.parent), "--scale", "2")
    assert code == 2 and text.strip() == f"error: {photo.parent} is a folder; give one image file"
    notes = photo.with_name("notes.txt")
    notes.write_text("my secret notes")
    code, text = invoke("upscale", str(notes), "--scale", "2")
    assert code == 2 and "my secret" not in text
    assert " ".join(text.split()) == (
        f"error: cannot read {notes}: not an image format zoomqa reads (png, jpg, webp, bmp, tiff, gif)"
    )


def test_a_gif_is_enlarged_from_its_first_frame_with_a_note(photo: Path, edsr_checkpoint: Path) -> None:
    frames = [Image.new("RGB", (10, 8), (shade, 0, 0)) for shade in (0, 120, 240)]
    gif = photo.with_name("wave.gif")
    frames[0].save(gif, save_all=True, append_images=frames[1:], duration=100)
    result = CliRunner().invoke(app, ["upscale", str(gif), "--scale", "2", "--model", str(edsr_checkpoint)])
    assert result.exit_code == 0, result.output
    assert "note: wave.gif is an animated GIF: only the first frame is enlarged" in result.stderr
    output = gif.with_name("wave_x2.png")
    with Image.open(output) as out:
        assert out.size == (20, 16)
    assert output.stat().st_mode & 0o777 == FILE_MODE  # the umask decides, as for any new file

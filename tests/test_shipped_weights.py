"""The LIIF weights zoomqa ships: compact, self-describing, the default, and better than bicubic."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from safetensors import safe_open
from typer.testing import CliRunner

from zoomqa.cli import app
from zoomqa.tools.checkpoints import BUNDLED_WEIGHTS_DIR, load_checkpoint, read_metadata, resolve_model
from zoomqa.tools.evaluation import evaluate, load_dataset


def test_shipped_edsr_weights_are_compact_fp16_and_rebuild_their_model() -> None:
    path = resolve_model("liif-edsr")
    assert path.parent == BUNDLED_WEIGHTS_DIR and path.stat().st_size < 4 * 2**20
    with safe_open(str(path), framework="pt") as handle:
        assert {handle.get_tensor(key).dtype for key in handle.keys()} == {torch.float16}
    assert int(read_metadata(path)["step"]) > 0
    spec = load_checkpoint(path).spec
    assert spec.encoder == "edsr-baseline" and spec.skip == "bicubic"  # the file says how to rebuild it
    assert (BUNDLED_WEIGHTS_DIR / "liif-edsr.md").is_file()  # the model card travels with them


def test_shipped_weights_beat_bicubic_on_set5_at_x4(shared_dir: Path) -> None:
    model = load_checkpoint(resolve_model("liif-edsr"))
    images = load_dataset(shared_dir / "sr-bench" / "Set5")
    bicubic, ours = evaluate(
        model, "liif-edsr", {"Set5": images}, [4], protocol="benchmark", precision="fast"
    )
    assert ours.psnr > bicubic.psnr + 0.3, (bicubic.psnr, ours.psnr)
    assert ours.ssim > bicubic.ssim


def test_shipped_weights_beat_bicubic_on_photos_held_out_from_training(shared_dir: Path) -> None:
    model = load_checkpoint(resolve_model("liif-edsr"))
    photos = load_dataset(shared_dir / "sr-train" / "photos", holdout_every=20, crop=256, limit=6)
    bicubic, ours = evaluate(model, "liif-edsr", {"photos": photos}, [4], protocol="photo", precision="fast")
    assert ours.psnr > bicubic.psnr, (bicubic.psnr, ours.psnr)


def test_the_real_world_variant_ships_beside_the_default() -> None:
    path = resolve_model("liif-edsr-real")
    assert path.parent == BUNDLED_WEIGHTS_DIR and path.stat().st_size < 4 * 2**20
    assert (
        load_checkpoint(path).spec == load_checkpoint(resolve_model("liif-edsr")).spec
    )  # only the weights differ
    assert json.loads(read_metadata(path)["train_config"])["degradation"] is True  # trained on damaged inputs
    assert (BUNDLED_WEIGHTS_DIR / "liif-edsr-real.md").is_file()


def test_the_real_world_variant_beats_the_default_on_jpeg_damaged_photos(shared_dir: Path) -> None:
    photos = load_dataset(shared_dir / "sr-train" / "photos", holdout_every=20, crop=256, limit=6)
    scores = {}
    for name in ("liif-edsr", "liif-edsr-real"):
        model = load_checkpoint(resolve_model(name))
        _, scores[name] = evaluate(
            model, name, {"photos": photos}, [4], protocol="photo", precision="fast", jpeg_quality=40
        )
    assert scores["liif-edsr-real"].psnr > scores["liif-edsr"].psnr, scores


def test_zoomqa_upscale_works_without_naming_a_model(tmp_path: Path) -> None:
    photo = tmp_path / "photo.png"
    Image.fromarray(np.random.default_rng(3).integers(0, 256, (24, 32, 3), dtype=np.uint8)).save(photo)
    result = CliRunner().invoke(app, ["upscale", str(photo), "--scale", "3"])
    assert result.exit_code == 0, result.output
    assert "liif-edsr" in result.output
    with Image.open(tmp_path / "photo_x3.png") as out:
        assert out.size == (96, 72)

"""upscale: sizes as people ask for them, limits, and the user's files kept safe."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageCms

from zoomqa.errors import ZoomqaError
from zoomqa.tools.checkpoints import load_checkpoint, save_safetensors
from zoomqa.tools.upscale import default_output_path, parse_size, target_size, upscale


@pytest.fixture()
def photo(tmp_path: Path) -> Path:
    pixels = np.random.default_rng(0).integers(0, 256, (20, 30, 3), dtype=np.uint8)
    path = tmp_path / "photo.jpg"
    Image.fromarray(pixels).save(path, quality=95)
    return path


def test_target_size_from_each_way_of_asking() -> None:
    assert target_size((30, 20), scale=3.7) == (111, 74)
    assert target_size((30, 20), width=100) == (100, 67)
    assert target_size((30, 20), height=50) == (75, 50)
    assert target_size((30, 20), size=(64, 21)) == (64, 21)  # non-uniform is fine
    assert target_size((30, 20), scale=1) == (30, 20)
    assert target_size((30, 20), long_side=90) == (90, 60)  # landscape: the width
    assert target_size((20, 30), long_side=90) == (60, 90)  # portrait: the height
    assert target_size((25, 25), long_side=50) == (50, 50)


def test_shrinking_and_ambiguous_requests_are_refused() -> None:
    with pytest.raises(ZoomqaError, match="only enlarges.*resizer"):
        target_size((30, 20), scale=0.5)
    with pytest.raises(ZoomqaError, match="would shrink"):
        target_size((30, 20), size=(64, 10))
    with pytest.raises(ZoomqaError, match="would shrink"):
        target_size((30, 20), width=0)
    with pytest.raises(ZoomqaError, match="exactly one"):
        target_size((30, 20), scale=2, width=100)
    with pytest.raises(ZoomqaError, match="exactly one"):
        target_size((30, 20), width=100, long_side=100)
    with pytest.raises(ZoomqaError, match="would shrink"):
        target_size((30, 20), long_side=25)
    with pytest.raises(ZoomqaError, match="exactly one"):
        target_size((30, 20))


def test_sizes_are_written_width_first() -> None:
    assert parse_size("1920x1080") == (1920, 1080)
    assert parse_size(" 640 X 480 ") == (640, 480)
    for bad in ("1920", "1920x", "axb", "-1x5"):
        with pytest.raises(ZoomqaError, match="WIDTHxHEIGHT"):
            parse_size(bad)


def test_default_output_sits_beside_the_input() -> None:
    assert default_output_path(Path("/p/cat.jpg"), scale=3.5, output_size=(7, 7)) == Path("/p/cat_x3.5.png")
    assert default_output_path(Path("/p/cat.jpg"), scale=None, output_size=(1920, 1080)) == Path(
        "/p/cat_1920x1080.png"
    )


def test_upscale_writes_the_requested_size(photo: Path, edsr_checkpoint: Path) -> None:
    result = upscale(photo, scale=2.5, model=str(edsr_checkpoint), precision="exact", device="cpu")
    assert result.output_path == photo.with_name("photo_x2.5.png")
    assert result.input_size == (30, 20) and result.output_size == (75, 50)
    assert result.device == "cpu" and result.model == edsr_checkpoint.name and result.seconds > 0
    with Image.open(result.output_path) as out:
        assert out.size == (75, 50) and out.mode == "RGB"
    assert "30x20 -> 75x50" in result.summary()


def test_existing_outputs_and_the_input_are_never_overwritten(photo: Path, edsr_checkpoint: Path) -> None:
    output = photo.with_name("big.png")
    output.write_bytes(b"keep me")
    with pytest.raises(ZoomqaError, match="already exists: pass --force"):
        upscale(photo, output, scale=2, model=str(edsr_checkpoint))
    assert output.read_bytes() == b"keep me"
    upscale(photo, output, scale=2, model=str(edsr_checkpoint), force=True)
    with Image.open(output) as out:
        assert out.size == (60, 40)
    original = photo.read_bytes()
    for target in (photo, photo.parent / "." / photo.name):
        with pytest.raises(ZoomqaError, match="over the input"):
            upscale(photo, target, scale=2, model=str(edsr_checkpoint), force=True)
    link = photo.with_name("link.jpg")
    link.symlink_to(photo)
    with pytest.raises(ZoomqaError, match="over the input"):
        upscale(photo, link, scale=2, model=str(edsr_checkpoint), force=True)
    assert photo.read_bytes() == original


def test_limits_and_bad_requests_fail_before_anything_is_written(photo: Path, edsr_checkpoint: Path) -> None:
    with pytest.raises(ZoomqaError, match="above the output limit"):
        upscale(photo, scale=10, model=str(edsr_checkpoint), max_output_pixels=10_000)
    with pytest.raises(ZoomqaError, match="above the limit of 100"):
        upscale(photo, scale=2, model=str(edsr_checkpoint), max_input_pixels=100)
    with pytest.raises(ZoomqaError, match="output folder does not exist"):
        upscale(photo, photo.parent / "missing" / "x.png", scale=2, model=str(edsr_checkpoint))
    with pytest.raises(ZoomqaError, match="cannot tell the image format"):
        upscale(photo, photo.with_name("x.gif"), scale=2, model=str(edsr_checkpoint))
    with pytest.raises(ZoomqaError, match="image not found"):
        upscale(photo.with_name("nope.png"), scale=2, model=str(edsr_checkpoint))
    with pytest.raises(ZoomqaError, match="no weights installed for model 'liif-rdn'"):
        upscale(photo, scale=2, model="liif-rdn")
    with pytest.raises(ZoomqaError, match="unknown model 'liif-swin'"):
        upscale(photo, scale=2, model="liif-swin")
    with (
        pytest.raises(ZoomqaError, match="no CUDA GPU")
        if not torch.cuda.is_available()
        else pytest.raises(ZoomqaError)
    ):
        upscale(photo, scale=2, model=str(edsr_checkpoint), device="cuda")
    assert sorted(p.name for p in photo.parent.iterdir()) == ["photo.jpg"]


def test_model_names_are_found_in_the_users_models_folder(
    photo: Path, edsr_checkpoint: Path, tmp_path: Path
) -> None:
    models = tmp_path / "models"
    save_safetensors(load_checkpoint(edsr_checkpoint), models / "liif-edsr.safetensors", dtype=torch.float32)
    result = upscale(photo, width=45, model="liif-edsr", model_dirs=(models,), precision="exact")
    assert result.model == "liif-edsr" and result.output_size == (45, 30)
    assert result.output_path.name == "photo_45x30.png"
    # The user's file wins over any weights shipped under the same name.
    direct = upscale(photo, tmp_path / "direct.png", width=45, model=str(edsr_checkpoint), precision="exact")
    with Image.open(result.output_path) as named, Image.open(direct.output_path) as explicit:
        assert np.array_equal(np.asarray(named), np.asarray(explicit))


def test_transparency_grayscale_depth_and_colour_profile_come_back(
    tmp_path: Path, edsr_checkpoint: Path
) -> None:
    rng = np.random.default_rng(1)
    rgba = rng.integers(0, 256, (12, 10, 4), dtype=np.uint8)
    rgba[:6, :, 3], rgba[6:, :, 3] = 0, 255
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    logo = tmp_path / "logo.png"
    Image.fromarray(rgba).save(logo, icc_profile=profile)
    result = upscale(logo, scale=3, model=str(edsr_checkpoint))
    with Image.open(result.output_path) as out:
        assert out.mode == "RGBA" and out.size == (30, 36)
        assert out.info.get("icc_profile") == profile
        alpha = np.asarray(out)[..., 3]
        assert alpha[:15].max() <= 8 and alpha[-15:].min() >= 247  # transparent top stays transparent

    scan = tmp_path / "scan.png"
    Image.fromarray((rng.integers(0, 65536, (12, 10))).astype(np.uint16)).save(scan)
    result = upscale(scan, size=(25, 30), model=str(edsr_checkpoint))
    with Image.open(result.output_path) as out:
        assert out.mode == "I;16" and out.size == (25, 30)


def test_compare_writes_a_labelled_side_by_side(photo: Path, edsr_checkpoint: Path) -> None:
    result = upscale(photo, scale=4, model=str(edsr_checkpoint), compare=True)
    assert result.compare_path == photo.with_name("photo_x4_compare.png")
    with Image.open(result.compare_path) as picture:
        assert picture.width > 2 * 600 and picture.height > 2 * 600
        pixels = np.asarray(picture.convert("RGB"))
    left, right = pixels[100:600, 20:620], pixels[100:600, 680:1280]
    assert left.std() > 1 and right.std() > 1 and not np.array_equal(left, right)
    assert (pixels == [255, 64, 64]).all(axis=-1).any()  # the zoomed region is framed

"""Image reading and writing: every kind of file a person may have, and nothing lost or half-written."""

from __future__ import annotations

import io
import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageCms

from zoomqa.errors import ZoomqaError
from zoomqa.files import FILE_MODE
from zoomqa.tools.images import image_size, load_image, output_format, resize_alpha, save_image

LIMIT = 10_000_000


def write_png16(path: Path, pixels: np.ndarray) -> Path:
    """A 16-bit PNG (Pillow cannot write 16-bit colour, so the bytes are assembled here)."""
    height, width, channels = pixels.shape
    raw = b"".join(b"\x00" + pixels[y].astype(">u2").tobytes() for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    colour_type = {1: 0, 3: 2, 4: 6}[channels]
    header = struct.pack(">IIBBBBB", width, height, 16, colour_type, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )
    return path


def srgb_profile() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def gradient(width: int = 8, height: int = 6) -> np.ndarray:
    y, x = np.mgrid[0:height, 0:width]
    return np.stack([x * 30, y * 40, (x + y) * 10], axis=-1).astype(np.uint8)


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # stored landscape, displayed rotated 90 degrees clockwise
    path = tmp_path / "phone.jpg"
    Image.fromarray(gradient(8, 6)).save(path, exif=exif.tobytes())
    loaded = load_image(path, max_pixels=LIMIT)
    assert loaded.size == (6, 8)


def test_grayscale_and_palette_images_become_rgb_and_remember_it(tmp_path: Path) -> None:
    gray = tmp_path / "gray.png"
    Image.fromarray(gradient()[..., 0]).save(gray)
    loaded = load_image(gray, max_pixels=LIMIT)
    assert loaded.grayscale and loaded.rgb.shape == (6, 8, 3) and loaded.alpha is None
    assert np.array_equal(loaded.rgb[..., 0], loaded.rgb[..., 2])

    palette = tmp_path / "palette.png"
    Image.fromarray(gradient()).convert("P", palette=Image.Palette.ADAPTIVE, colors=16).save(palette)
    loaded = load_image(palette, max_pixels=LIMIT)
    assert not loaded.grayscale and loaded.alpha is None and loaded.rgb.dtype == np.uint8


def test_transparency_is_kept_apart_and_resized_smoothly(tmp_path: Path) -> None:
    rgba = np.dstack((gradient(), np.tile(np.array([0, 255], dtype=np.uint8), (6, 4))))
    path = tmp_path / "logo.png"
    Image.fromarray(rgba).save(path)
    loaded = load_image(path, max_pixels=LIMIT)
    assert np.array_equal(loaded.alpha, rgba[..., 3]) and np.array_equal(loaded.rgb, rgba[..., :3])
    bigger = resize_alpha(loaded.alpha, (16, 12))
    assert bigger.shape == (12, 16) and bigger.dtype == np.uint8
    assert 0 < len(np.unique(bigger)) > 2  # bicubic: edges get intermediate values

    palette = tmp_path / "sprite.png"
    image = Image.fromarray(gradient()).convert("P", palette=Image.Palette.ADAPTIVE, colors=8)
    image.save(palette, transparency=0)
    assert load_image(palette, max_pixels=LIMIT).alpha is not None


def test_16_bit_grayscale_keeps_its_precision_through_a_round_trip(tmp_path: Path) -> None:
    values = (np.arange(48, dtype=np.uint16).reshape(6, 8, 1) * 1361 + 3).astype(np.uint16)
    loaded = load_image(write_png16(tmp_path / "scan.png", values), max_pixels=LIMIT)
    assert loaded.grayscale and loaded.rgb.dtype == np.uint16
    assert np.array_equal(loaded.rgb[..., 1], values[..., 0])
    out = save_image(tmp_path / "out.png", loaded.rgb, grayscale=True)
    with Image.open(out) as again:
        assert again.mode == "I;16"
        assert np.array_equal(np.asarray(again), values[..., 0])
    eight = save_image(tmp_path / "out.jpg", loaded.rgb, grayscale=True)
    with Image.open(eight) as again:
        assert again.mode == "L"  # JPEG has no 16-bit: reduced, not refused


def test_16_bit_colour_is_read_as_8_bit_and_says_so(tmp_path: Path) -> None:
    values = np.full((4, 5, 3), 40000, dtype=np.uint16)
    loaded = load_image(write_png16(tmp_path / "raw.png", values), max_pixels=LIMIT)
    assert loaded.rgb.dtype == np.uint8
    assert any("16-bit colour" in note for note in loaded.notes)


def test_icc_profile_survives(tmp_path: Path) -> None:
    profile = srgb_profile()
    path = tmp_path / "wide.jpg"
    Image.fromarray(gradient()).save(path, icc_profile=profile)
    loaded = load_image(path, max_pixels=LIMIT)
    assert loaded.icc_profile == profile
    for name in ("a.png", "a.webp", "a.tiff", "a.jpg"):
        out = save_image(tmp_path / name, loaded.rgb, icc_profile=loaded.icc_profile)
        with Image.open(out) as again:
            assert again.info.get("icc_profile") == profile, name


def test_cmyk_is_converted_and_its_profile_dropped(tmp_path: Path) -> None:
    path = tmp_path / "print.jpg"
    Image.fromarray(gradient()).convert("CMYK").save(path)
    loaded = load_image(path, max_pixels=LIMIT)
    assert loaded.rgb.shape == (6, 8, 3) and loaded.icc_profile is None
    assert any("CMYK" in note for note in loaded.notes)


def test_pixel_limit_is_checked_before_decoding(tmp_path: Path) -> None:
    path = tmp_path / "huge.png"
    Image.new("L", (4000, 3000)).save(path)
    assert image_size(path) == (4000, 3000)
    with pytest.raises(ZoomqaError, match="above the limit of 1,000,000"):
        load_image(path, max_pixels=1_000_000)


def ppm() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4)).save(buffer, "PPM")
    return buffer.getvalue()


@pytest.mark.parametrize(
    "content",
    [b"definitely not an image", ppm()],  # text, and an image format zoomqa does not read
)
def test_files_that_are_not_images_are_refused(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "thing.png"
    path.write_bytes(content)
    message = f"cannot read {path}: not an image format zoomqa reads (png, jpg, webp, bmp, tiff, gif)"
    with pytest.raises(ZoomqaError) as refused:
        load_image(path, max_pixels=LIMIT)
    assert str(refused.value) == message


def test_a_gif_is_read_as_its_first_frame(tmp_path: Path) -> None:
    frames = [Image.new("RGB", (8, 6), (shade, shade, shade)) for shade in (200, 40, 90)]
    animated = tmp_path / "wave.gif"
    frames[0].save(animated, save_all=True, append_images=frames[1:], duration=100)
    loaded = load_image(animated, max_pixels=LIMIT)
    assert loaded.size == (8, 6) and int(loaded.rgb.mean()) == 200
    assert loaded.notes == ["wave.gif is an animated GIF: only the first frame is enlarged"]
    still = tmp_path / "still.gif"
    frames[1].save(still)
    assert load_image(still, max_pixels=LIMIT).notes == []


def test_truncated_files_are_a_clear_error(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(
        buffer, "PNG"
    )
    path = tmp_path / "cut.png"
    path.write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    with pytest.raises(ZoomqaError, match="corrupt or truncated"):
        load_image(path, max_pixels=LIMIT)


def test_missing_files_folders_and_float_images(tmp_path: Path) -> None:
    with pytest.raises(ZoomqaError, match="image not found"):
        load_image(tmp_path / "nope.png", max_pixels=LIMIT)
    with pytest.raises(ZoomqaError, match="is a folder; give one image file"):
        load_image(tmp_path, max_pixels=LIMIT)
    floats = tmp_path / "depth.tiff"
    Image.fromarray(np.ones((4, 4), dtype=np.float32)).save(floats)
    with pytest.raises(ZoomqaError, match="floating-point"):
        load_image(floats, max_pixels=LIMIT)


def test_output_format_follows_the_extension(tmp_path: Path) -> None:
    assert output_format(Path("a.JPG")) == "JPEG"
    assert output_format(Path("a.tif")) == "TIFF"
    with pytest.raises(ZoomqaError, match="cannot tell the image format"):
        output_format(Path("a.gif"))
    for name, fmt in (
        ("x.png", "PNG"),
        ("x.jpeg", "JPEG"),
        ("x.webp", "WEBP"),
        ("x.bmp", "BMP"),
        ("x.tiff", "TIFF"),
    ):
        with Image.open(save_image(tmp_path / name, gradient())) as again:
            assert again.format == fmt and again.size == (8, 6)


def test_writing_is_atomic_and_leaves_nothing_behind(tmp_path: Path) -> None:
    target = tmp_path / "out.jpg"
    target.write_bytes(b"the user's old file")
    rgba_alpha = np.full((6, 8), 128, dtype=np.uint8)
    with pytest.raises(ZoomqaError, match="cannot store transparency"):
        save_image(target, gradient(), alpha=rgba_alpha)
    assert target.read_bytes() == b"the user's old file"
    save_image(target, gradient())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.jpg"]
    assert os.stat(target).st_mode & 0o777 == FILE_MODE  # as any new file: 0666 less the umask
    with Image.open(target) as again:
        assert again.size == (8, 6)

"""Reading and writing the user's images safely: formats, orientation, colour, transparency, bit depth.

Reading turns whatever a camera, scanner or editor wrote into what the upscaler needs (RGB
pixels in display orientation, alpha apart) and keeps what must survive the round trip (the
ICC colour profile, grayscale-ness, 16-bit precision). A GIF is read as its first frame, with
a note when it is animated. Limits are checked on the header, before any pixel is decoded, so
a decompression bomb costs nothing. Writing goes to a temporary file in the destination folder
and is renamed into place (``zoomqa.files``), so a crash never leaves a half-written image
behind, and the picture gets the mode the umask gives any new file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from zoomqa.errors import ZoomqaError
from zoomqa.files import temporary_beside

INPUT_FORMATS = ("PNG", "JPEG", "WEBP", "BMP", "TIFF")
# Also read, as their first frame: an animated GIF is a film, not a picture to enlarge.
FIRST_FRAME_FORMATS = ("GIF",)
READABLE = "png, jpg, webp, bmp, tiff, gif"  # what a person is told zoomqa reads
OUTPUT_FORMATS = {
    ".png": "PNG",
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".webp": "WEBP",
    ".bmp": "BMP",
    ".tif": "TIFF",
    ".tiff": "TIFF",
}
# File names the upscaler takes as input: those it writes, and a GIF (read as its first frame).
INPUT_SUFFIXES: dict[str, str] = {**OUTPUT_FORMATS, ".gif": "GIF"}
# Image formats it does not read (phones' HEIC, renders' EXR, cameras' raw files, ...): a person
# who names one is told to convert it, rather than that it is no image.
OTHER_IMAGE_SUFFIXES = frozenset(
    {".heic", ".heif", ".avif", ".jxl", ".exr", ".hdr", ".tga", ".psd", ".svg", ".ico", ".dds", ".jp2"}
    | {".dng", ".cr2", ".cr3", ".nef", ".arw", ".raf", ".orf", ".rw2"}
)
_SIXTEEN_BIT_FORMATS = {"PNG", "TIFF"}
_ALPHA_FORMATS = {"PNG", "WEBP", "TIFF", "BMP"}
_SAVE_OPTIONS: dict[str, dict[str, Any]] = {
    "PNG": {"compress_level": 3},  # level 6 (the default) is several times slower on big images for ~3% size
    "JPEG": {"quality": 95, "subsampling": 0},  # keep full colour resolution: detail is the point
    "WEBP": {"quality": 95, "method": 4},
    "TIFF": {"compression": "tiff_deflate"},
    "BMP": {},
}
_GRAY_MODES = {"1", "L", "LA", "La"}
_SIXTEEN_BIT_GRAY_MODES = {"I;16", "I;16B", "I;16L", "I;16N", "I"}
_LUMA = np.array([0.299, 0.587, 0.114])  # ITU-R BT.601, as Pillow's convert("L")


@dataclass
class LoadedImage:
    """An input image ready for the upscaler."""

    rgb: np.ndarray  # (h, w, 3) uint8, or uint16 for 16-bit grayscale sources
    alpha: np.ndarray | None  # (h, w) uint8, or None when the image is opaque
    grayscale: bool  # the source had no colour: the result is written back as grayscale
    icc_profile: bytes | None
    notes: list[str] = field(default_factory=list)  # things the user should be told

    @property
    def size(self) -> tuple[int, int]:
        """(width, height), as images are described to people."""
        return self.rgb.shape[1], self.rgb.shape[0]


def output_format(path: Path) -> str:
    """The Pillow format an output path's extension asks for."""
    fmt = OUTPUT_FORMATS.get(Path(path).suffix.lower())
    if fmt is None:
        raise ZoomqaError(
            f"cannot tell the image format from '{Path(path).name}': end the output name with "
            f"{', '.join(OUTPUT_FORMATS)}"
        )
    return fmt


def _open(path: Path) -> Image.Image:
    try:
        return Image.open(path, formats=INPUT_FORMATS + FIRST_FRAME_FORMATS)
    except FileNotFoundError:
        raise ZoomqaError(f"image not found: {path}") from None
    except IsADirectoryError:
        raise ZoomqaError(f"{path} is a folder; give one image file") from None
    except UnidentifiedImageError:
        raise ZoomqaError(f"cannot read {path}: not an image format zoomqa reads ({READABLE})") from None
    except Image.DecompressionBombError as exc:
        raise ZoomqaError(f"{path} is refused as a decompression bomb ({exc})") from None


def image_size(path: Path) -> tuple[int, int]:
    """(width, height) from the header alone, for checks before any decoding."""
    with _open(Path(path)) as image:
        return image.size


def _check_pixels(path: Path, size: tuple[int, int], max_pixels: int) -> None:
    width, height = size
    if width * height > max_pixels:
        raise ZoomqaError(
            f"{path.name} is {width}x{height} = {width * height:,} pixels, above the limit of {max_pixels:,} "
            "(upscale.max_input_pixels): shrink or crop it first"
        )


def _has_16_bit_colour(image: Image.Image) -> bool:
    # Pillow decodes 16-bit RGB(A) and LA into 8-bit modes; only the tile's raw mode still tells.
    for tile in getattr(image, "tile", ()):  # decoders' tiles: only files opened from disk have them
        rawmode = tile.args if isinstance(tile.args, str) else (tile.args[0] if tile.args else "")
        if isinstance(rawmode, str) and ";16" in rawmode and image.mode in ("RGB", "RGBA", "LA"):
            return True
    return False


def load_image(path: Path, *, max_pixels: int) -> LoadedImage:
    """Decode an image in display orientation, refusing anything larger than ``max_pixels``."""
    path = Path(path)
    notes: list[str] = []
    with _open(path) as image:
        _check_pixels(path, image.size, max_pixels)
        frames = getattr(image, "n_frames", 1)
        if frames > 1 and image.format == "GIF":
            notes.append(f"{path.name} is an animated GIF: only the first frame is enlarged")
        elif frames > 1:
            notes.append(f"{path.name} has {frames} frames; only the first is upscaled")
        if _has_16_bit_colour(image):
            notes.append(
                "16-bit colour or transparency is read as 8-bit (Pillow decodes it that way); "
                "only 16-bit grayscale keeps its depth"
            )
        try:
            image.load()
            image = ImageOps.exif_transpose(image)
        except (OSError, SyntaxError, ValueError) as exc:
            raise ZoomqaError(f"{path} is corrupt or truncated ({exc})") from None
        icc_profile = image.info.get("icc_profile")
        return _to_arrays(image, icc_profile, notes)


def _to_arrays(image: Image.Image, icc_profile: bytes | None, notes: list[str]) -> LoadedImage:
    mode = image.mode
    if mode in _SIXTEEN_BIT_GRAY_MODES:
        gray = np.clip(np.asarray(image), 0, 65535).astype(np.uint16)
        return LoadedImage(np.repeat(gray[..., None], 3, axis=2), None, True, icc_profile, notes)
    if mode == "F":
        raise ZoomqaError(
            "32-bit floating-point images are not supported: save it as 16-bit PNG or TIFF first"
        )
    if mode == "CMYK":
        notes.append("CMYK was converted to RGB; its colour profile no longer applies and was dropped")
        icc_profile = None
    has_alpha = mode in ("RGBA", "RGBa", "LA", "La", "PA") or "transparency" in image.info
    grayscale = mode in _GRAY_MODES or (mode == "P" and _palette_is_gray(image))
    rgba = np.asarray(image.convert("RGBA" if has_alpha else "RGB"))
    alpha = rgba[..., 3].copy() if has_alpha else None
    return LoadedImage(np.ascontiguousarray(rgba[..., :3]), alpha, grayscale, icc_profile, notes)


def _palette_is_gray(image: Image.Image) -> bool:
    colours = image.convert("RGB").getcolors(maxcolors=256) or []
    return bool(colours) and all(isinstance(c, tuple) and c[0] == c[1] == c[2] for _, c in colours)


def resize_alpha(alpha: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Bicubic resize of a transparency mask to (width, height): edges stay smooth, values clamp."""
    return np.asarray(Image.fromarray(alpha).resize(size, Image.Resampling.BICUBIC))


def _to_gray(rgb: np.ndarray) -> np.ndarray:
    peak = np.iinfo(rgb.dtype).max
    return np.clip(np.rint(rgb @ _LUMA), 0, peak).astype(rgb.dtype)


def _to_pillow(rgb: np.ndarray, alpha: np.ndarray | None, grayscale: bool, fmt: str) -> Image.Image:
    if rgb.dtype == np.uint16:
        gray = _to_gray(rgb) if grayscale else None
        if gray is not None and fmt in _SIXTEEN_BIT_FORMATS and alpha is None:
            return Image.fromarray(gray)
        rgb = np.rint(rgb / 257.0).astype(np.uint8)
    if alpha is not None:
        check_can_store(fmt, has_alpha=True)
        if grayscale and fmt == "PNG":
            return Image.fromarray(np.dstack((_to_gray(rgb), alpha)))
        return Image.fromarray(np.dstack((rgb, alpha)))
    if grayscale:
        return Image.fromarray(_to_gray(rgb))
    return Image.fromarray(rgb)


def check_can_store(fmt: str, has_alpha: bool) -> None:
    """Fail before any work when the output format cannot hold the result."""
    if has_alpha and fmt not in _ALPHA_FORMATS:
        raise ZoomqaError(f"{fmt} cannot store transparency: choose a .png or .webp output")


def save_image(
    path: Path,
    rgb: np.ndarray,
    *,
    alpha: np.ndarray | None = None,
    grayscale: bool = False,
    icc_profile: bytes | None = None,
) -> Path:
    """Write atomically: a temporary file in the same folder (already with the umask's mode),
    renamed over ``path`` when complete."""
    path = Path(path)
    fmt = output_format(path)
    image = _to_pillow(rgb, alpha, grayscale, fmt)
    options: dict[str, Any] = dict(_SAVE_OPTIONS[fmt])
    if icc_profile and fmt != "BMP":
        options["icc_profile"] = icc_profile
    handle, temporary = temporary_beside(path)
    try:
        with os.fdopen(handle, "wb") as file:
            image.save(file, format=fmt, **options)
        os.replace(temporary, path)
    finally:
        Path(temporary).unlink(missing_ok=True)
    return path

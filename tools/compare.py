"""A comparison picture a person wants to look at: bicubic vs LIIF, the whole image and a zoomed detail.

Two labelled columns (Pillow's bicubic resize, then LIIF) show the whole output and, below,
the same small region of each enlarged with visible pixels. The region is picked where the
input has the most local detail (edges, texture), because flat sky looks the same either way.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from zoomqa.tools.images import save_image

PANEL = 640  # width and height of each picture in a column, in pixels
ZOOM_REGION = 160  # side of the zoomed region in output pixels (smaller outputs use less)
_HEADER, _FOOTER, _GAP = 40, 34, 12
_BACKGROUND, _TEXT, _MARK = (24, 24, 24), (235, 235, 235), (255, 64, 64)


def detail_region(image: np.ndarray, window: int) -> tuple[int, int]:
    """Top-left (x, y) of the ``window`` x ``window`` square with the most gradient energy."""
    gray = image[..., :3].astype(np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    energy = np.zeros_like(gray)
    energy[:, 1:] += np.abs(np.diff(gray, axis=1))
    energy[1:, :] += np.abs(np.diff(gray, axis=0))
    integral = np.pad(energy.cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    win_y, win_x = min(window, gray.shape[0]), min(window, gray.shape[1])
    sums = (
        integral[win_y:, win_x:]
        - integral[:-win_y, win_x:]
        - integral[win_y:, :-win_x]
        + integral[:-win_y, :-win_x]
    )
    y, x = np.unravel_index(int(np.argmax(sums)), sums.shape)
    return int(x), int(y)


def _box_shrink(image: np.ndarray, factor: int) -> np.ndarray:
    """Average factor x factor blocks, a band of rows at a time (no full-size float copy)."""
    height, width = (image.shape[0] // factor) * factor, (image.shape[1] // factor) * factor
    bands = [
        image[y : y + factor, :width].reshape(1, factor, width // factor, factor, 3).mean(axis=(1, 3))
        for y in range(0, height, factor)
    ]
    return np.rint(np.concatenate(bands)).astype(np.uint8)


def _overview(image: Image.Image | np.ndarray, size: tuple[int, int]) -> Image.Image:
    if isinstance(image, np.ndarray):
        factor = max(1, min(image.shape[1] // (2 * size[0]), image.shape[0] // (2 * size[1])))
        image = Image.fromarray(_box_shrink(image, factor) if factor > 1 else image)
    return image.resize(size, Image.Resampling.LANCZOS)


def comparison_image(low_res: np.ndarray, upscaled: np.ndarray, *, model_label: str) -> Image.Image:
    """The side-by-side picture for an 8-bit (h, w, 3) input and its (H, W, 3) enlargement."""
    h, w = low_res.shape[:2]
    height, width = upscaled.shape[:2]
    side = min(ZOOM_REGION, width, height)
    window = max(2, round(side * w / width))
    x_in, y_in = detail_region(low_res, window)
    x0, y0 = min(round(x_in * width / w), width - side), min(round(y_in * height / h), height - side)
    box_in = (x0 * w / width, y0 * h / height, (x0 + side) * w / width, (y0 + side) * h / height)

    fit = min(PANEL / width, PANEL / height)
    view = (max(1, round(width * fit)), max(1, round(height * fit)))
    source = Image.fromarray(low_res)
    columns = [
        (
            "Bicubic (Pillow)",
            _overview(source, view),
            source.resize((side, side), Image.Resampling.BICUBIC, box=box_in),
        ),
        (
            f"LIIF ({model_label})",
            _overview(upscaled, view),
            Image.fromarray(np.ascontiguousarray(upscaled[y0 : y0 + side, x0 : x0 + side])),
        ),
    ]

    canvas = Image.new("RGB", (2 * PANEL + 3 * _GAP, _HEADER + 2 * PANEL + _GAP + _FOOTER), _BACKGROUND)
    draw = ImageDraw.Draw(canvas)
    font = ImageFont.load_default(size=20)
    small = ImageFont.load_default(size=15)
    mark = [round(v * fit) for v in (x0, y0, x0 + side, y0 + side)]
    for i, (label, overview, detail) in enumerate(columns):
        left = _GAP + i * (PANEL + _GAP)
        draw.text((left, 10), label, fill=_TEXT, font=font)
        top = _HEADER + (PANEL - view[1]) // 2
        canvas.paste(overview, (left + (PANEL - view[0]) // 2, top))
        corner = (left + (PANEL - view[0]) // 2, top)
        draw.rectangle(
            [corner[0] + mark[0], corner[1] + mark[1], corner[0] + mark[2], corner[1] + mark[3]],
            outline=_MARK,
            width=2,
        )
        canvas.paste(detail.resize((PANEL, PANEL), Image.Resampling.NEAREST), (left, _HEADER + PANEL + _GAP))
    zoom = PANEL / side
    caption = (
        f"input {w}x{h} -> output {width}x{height}.  Bottom: the red-framed {side}x{side} output pixels "
        f"at ({x0}, {y0}), shown {zoom:.0f}x with pixels left square."
    )
    draw.text((_GAP, canvas.height - _FOOTER + 8), caption, fill=_TEXT, font=small)
    return canvas


def save_comparison(path: Path, low_res: np.ndarray, upscaled: np.ndarray, *, model_label: str) -> Path:
    """Write the comparison picture as PNG (atomically). 16-bit images are shown at 8 bits."""
    if upscaled.dtype == np.uint16:
        low_res, upscaled = (np.rint(a / 257.0).astype(np.uint8) for a in (low_res, upscaled))
    picture = comparison_image(low_res, upscaled, model_label=model_label)
    return save_image(path, np.asarray(picture))

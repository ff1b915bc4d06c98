"""Enlarge an image file with LIIF: the Python API behind ``zoomqa upscale`` and the agent's tool.

This is where the user's intent (a scale, a width, a height or an exact size) becomes pixels,
where limits are enforced, and where files are protected: the input is never written, an
existing output is replaced only when asked, and every file is written atomically.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from zoomqa.errors import ZoomqaError
from zoomqa.tools.checkpoints import MODEL_NAMES, load_checkpoint, resolve_model
from zoomqa.tools.compare import save_comparison
from zoomqa.tools.engine import Precision, Progress, resolve_device, upscale_array
from zoomqa.tools.images import check_can_store, load_image, output_format, resize_alpha, save_image

_SIZE = re.compile(r"^\s*(\d+)\s*[xX×]\s*(\d+)\s*$")


@dataclass(frozen=True)
class UpscaleResult:
    """What was done, for a summary line or the agent's reply."""

    output_path: Path
    input_size: tuple[int, int]  # (width, height)
    output_size: tuple[int, int]
    seconds: float
    device: str
    model: str
    precision: str = "fast"
    compare_path: Path | None = None
    notes: tuple[str, ...] = field(default=())

    def summary(self) -> str:
        (w, h), (ow, oh) = self.input_size, self.output_size
        line = (
            f"{w}x{h} -> {ow}x{oh} ({ow / w:.3g}x) in {self.seconds:.1f} s on {self.device} "
            f"with {self.model} ({self.precision}): {self.output_path}"
        )
        return line + (f"; comparison: {self.compare_path}" if self.compare_path else "")


def parse_size(text: str) -> tuple[int, int]:
    """'1920x1080' -> (1920, 1080): width first, as people write it."""
    match = _SIZE.match(text)
    if not match:
        raise ZoomqaError(f"size '{text}' is not WIDTHxHEIGHT, e.g. 1920x1080")
    return int(match[1]), int(match[2])


def target_size(
    input_size: tuple[int, int],
    *,
    scale: float | None = None,
    width: int | None = None,
    height: int | None = None,
    size: tuple[int, int] | None = None,
    long_side: int | None = None,
) -> tuple[int, int]:
    """The output (width, height) from exactly one of scale, width, height, size or long side.

    A width, a height or the longer side alone keeps the aspect ratio (a photo exported "3000
    px on the long edge" is 3000 wide if landscape, 3000 tall if portrait). Shrinking is
    refused: LIIF enlarges.
    """
    given = [
        name
        for name, value in (
            ("scale", scale),
            ("width", width),
            ("height", height),
            ("size", size),
            ("long_side", long_side),
        )
        if value is not None
    ]
    if len(given) != 1:
        raise ZoomqaError("give exactly one of --scale, --size, --width, --height or --long-side")
    w, h = input_size
    if long_side is not None:
        width, height = (long_side, None) if w >= h else (None, long_side)
    if scale is not None:
        out = (max(1, round(w * scale)), max(1, round(h * scale)))
    elif width is not None:
        out = (width, max(1, round(h * width / w)))
    elif height is not None:
        out = (max(1, round(w * height / h)), height)
    else:
        assert size is not None  # exactly one of the four was given
        out = size
    if out[0] < w or out[1] < h or (scale is not None and scale < 1):
        raise ZoomqaError(
            f"{out[0]}x{out[1]} would shrink the {w}x{h} image: the upscaler only enlarges "
            "(use a resizer such as Pillow's Image.resize or ImageMagick's `magick in.png -resize 50% out.png`)"
        )
    return out


def default_output_path(input_path: Path, *, scale: float | None, output_size: tuple[int, int]) -> Path:
    """``<stem>_x<scale>.png`` (or ``<stem>_<W>x<H>.png`` for sizes) beside the input."""
    tag = f"x{scale:g}" if scale else f"{output_size[0]}x{output_size[1]}"
    return input_path.with_name(f"{input_path.stem}_{tag}.png")


def compare_path_for(output_path: Path) -> Path:
    return output_path.with_name(f"{output_path.stem}_compare.png")


def _same_file(a: Path, b: Path) -> bool:
    return a.resolve() == b.resolve() or (a.exists() and b.exists() and a.samefile(b))


def _check_writable(path: Path, input_path: Path, force: bool) -> None:
    if _same_file(path, input_path):
        raise ZoomqaError(f"refusing to write over the input image {input_path}: choose another output name")
    if not path.parent.is_dir():
        raise ZoomqaError(f"output folder does not exist: {path.parent}")
    if (path.exists() or path.is_symlink()) and not force:
        raise ZoomqaError(
            f"{path} already exists: pass --force to replace it, or choose another name with -o"
        )


def upscale(
    path: Path,
    output: Path | None = None,
    *,
    scale: float | None = None,
    width: int | None = None,
    height: int | None = None,
    size: tuple[int, int] | None = None,
    long_side: int | None = None,
    model: str = "liif-edsr",
    model_dirs: tuple[Path, ...] = (),
    precision: Precision = "fast",
    device: str = "auto",
    max_input_pixels: int = 36_000_000,
    max_output_pixels: int = 8192 * 8192,
    force: bool = False,
    compare: bool = False,
    progress: Progress | None = None,
) -> UpscaleResult:
    """Enlarge the image at ``path`` and write it to ``output`` (default: beside the input).

    ``model`` is a name ('liif-edsr', 'liif-edsr-real', 'liif-rdn', looked up in ``model_dirs``
    then the bundled weights) or a checkpoint path. Everything a user can get wrong raises
    ZoomqaError before any output file is touched.
    """
    start = time.perf_counter()
    path = Path(path).expanduser()
    if not path.is_file():
        raise ZoomqaError(f"image not found: {path}")
    image = load_image(path, max_pixels=max_input_pixels)
    out_w, out_h = target_size(
        image.size, scale=scale, width=width, height=height, size=size, long_side=long_side
    )
    if out_w * out_h > max_output_pixels:
        raise ZoomqaError(
            f"{out_w}x{out_h} = {out_w * out_h:,} pixels is above the output limit of {max_output_pixels:,} "
            "(upscale.max_output_pixels): ask for a smaller size"
        )
    output = (
        Path(output).expanduser()
        if output
        else default_output_path(path, scale=scale, output_size=(out_w, out_h))
    )
    check_can_store(output_format(output), image.alpha is not None)
    _check_writable(output, path, force)
    compare_to = compare_path_for(output) if compare else None
    if compare_to is not None:
        _check_writable(compare_to, path, force)
    torch_device = resolve_device(device)
    weights = resolve_model(model, model_dirs)

    network = load_checkpoint(weights)
    rgb = upscale_array(
        network,
        image.rgb,
        (out_h, out_w),
        precision=precision,
        device=torch_device,
        out_dtype=image.rgb.dtype.type,
        progress=progress,
    )
    alpha = resize_alpha(image.alpha, (out_w, out_h)) if image.alpha is not None else None
    save_image(output, rgb, alpha=alpha, grayscale=image.grayscale, icc_profile=image.icc_profile)
    label = model if model in MODEL_NAMES else weights.name
    if compare_to is not None:
        save_comparison(compare_to, image.rgb, rgb, model_label=label)
    return UpscaleResult(
        output_path=output,
        input_size=image.size,
        output_size=(out_w, out_h),
        seconds=time.perf_counter() - start,
        device=torch_device.type,
        model=label,
        precision=precision,
        compare_path=compare_to,
        notes=tuple(image.notes),
    )

"""The upscaler as a LangChain tool the agent can call on a user's picture.

Arguments come from a language model reading a chat or Slack message, so nothing is trusted:
the image must resolve (symlinks followed) to a file inside one of the allowed folders, the
result is written beside it under a plain file name, nothing existing is overwritten, and
the size limits of the settings apply. Refusals come back to the agent as one-line text it
can pass on, never as exceptions. The tool's artifact is the :class:`UpscaleResult` (None
when refused), so a program gets the files and sizes without reading the text.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from langchain_core.tools import BaseTool, ToolException, tool
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import PydanticCustomError

from zoomqa.config import UpscaleSettings
from zoomqa.errors import ZoomqaError
from zoomqa.tools.images import INPUT_SUFFIXES, OTHER_IMAGE_SUFFIXES, OUTPUT_FORMATS

if TYPE_CHECKING:  # the upscaler (torch) is imported when the tool first runs
    from zoomqa.tools.engine import Progress

_OUTPUT_NAME = re.compile(r"^[\w][\w .()+-]{0,200}$")


class UpscaleRequest(BaseModel):
    """Enlarge one image: give ``path`` and one way to size it: ``scale``, ``long_side``, or
    ``width`` and/or ``height``."""

    model_config = ConfigDict(extra="forbid")

    path: str = Field(
        min_length=1,
        max_length=1024,
        description="The image: a file name or path inside the user's allowed folders.",
    )
    scale: float | None = Field(None, gt=1, le=64, description="Enlarge by this factor, e.g. 2, 3.5 or 4.")
    width: int | None = Field(
        None, gt=0, le=65536, description="Output width in pixels (alone: keeps the aspect ratio)."
    )
    height: int | None = Field(
        None, gt=0, le=65536, description="Output height in pixels (alone: keeps the aspect ratio)."
    )
    long_side: int | None = Field(
        None,
        gt=0,
        le=65536,
        description="Output length of the longer side in pixels, e.g. '3000 px on the long edge' "
        "(keeps the aspect ratio).",
    )
    output_name: str | None = Field(
        None,
        max_length=200,
        description="File name for the result (no folder), e.g. cat_big.png; default <name>_x<scale>.png.",
    )
    damaged: bool = Field(
        False,
        description="True when the user says the picture is JPEG-compressed (blocky, from a messaging app or "
        "the web): it is then enlarged with the model trained on damaged pictures.",
    )

    @field_validator("scale", mode="before")
    @classmethod
    def _enlarges(cls, value: object) -> object:
        """A factor of 1 or less would keep or shrink the picture: say so in the person's terms
        (the schema's bound, gt=1, stays what a model reads)."""
        try:
            factor = float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return value  # the field's own check says what is wrong with it
        if factor <= 1:
            raise PydanticCustomError(
                "not_an_enlargement",
                "must be greater than 1: this tool only enlarges, and {factor}x would {effect} the picture",
                {"factor": f"{factor:g}", "effect": "keep" if factor == 1 else "shrink"},
            )
        return value

    @model_validator(mode="after")
    def _one_way_to_size(self) -> UpscaleRequest:
        ways = (
            (self.scale is not None)
            + (self.long_side is not None)
            + (self.width is not None or self.height is not None)
        )
        if ways != 1:
            raise ValueError("give one of scale, long_side, or width and/or height (not several, not none)")
        return self


def _refuse_validation(error: ValidationError) -> str:
    problems = "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'request'}: {e['msg']}" for e in error.errors()
    )
    return f"upscale refused: {problems}"


IMAGE_KINDS = ", ".join(suffix.lstrip(".") for suffix in INPUT_SUFFIXES)


def is_image_name(path_text: str) -> bool:
    """Does the name end in an image extension the upscaler reads?"""
    return Path(path_text).suffix.lower() in INPUT_SUFFIXES


def resolve_allowed_image(path_text: str, allowed_dirs: Sequence[Path]) -> Path:
    """The real path of an image inside an allowed folder, or ZoomqaError saying why not.

    A name without an image extension is refused first, before any file is looked at.
    Relative paths are looked up in each allowed folder in turn; every candidate is resolved
    (symlinks and ``..`` included) before the containment check.
    """
    if not is_image_name(path_text):  # refused by its name alone: nothing is opened or resolved
        suffix = Path(path_text).suffix.lower()
        if suffix in OTHER_IMAGE_SUFFIXES:
            raise ZoomqaError(
                f"I cannot read {suffix} images ({path_text}); I enlarge {IMAGE_KINDS}: "
                "save it as PNG first (most photo apps export it)"
            )
        raise ZoomqaError(f"I can only enlarge image files ({IMAGE_KINDS}): {path_text} is not one")
    roots = [Path(d).expanduser().resolve() for d in allowed_dirs]
    if not roots:
        raise ZoomqaError("no folder is allowed for upscaling: the user must set upscale.allowed_dirs first")
    requested = Path(path_text).expanduser()
    candidates = [requested] if requested.is_absolute() else [root / requested for root in roots]
    outside = False
    for candidate in candidates:
        real = candidate.resolve()
        if not any(real.is_relative_to(root) for root in roots):
            outside = True
            continue
        if real.is_file():
            if not is_image_name(real.name):  # a link named cat.png to notes.txt
                raise ZoomqaError(f"I can only enlarge image files ({IMAGE_KINDS}): {path_text} is not one")
            return real
    if outside:
        raise ZoomqaError(f"{path_text} is outside the folders the upscaler may use")
    raise ZoomqaError(f"no image named {path_text} in the allowed folders")


def _taken(path: Path) -> bool:
    return path.exists() or path.is_symlink()


def _comparison_of(output: Path) -> Path:
    from zoomqa.tools.upscale import compare_path_for

    return compare_path_for(output)


def _output_path(image: Path, output_name: str | None, tag: str, folder: Path) -> Path:
    """A new file in ``folder``: the requested plain name, or the first default name that is
    free together with its comparison picture."""
    if output_name is not None:
        if not _OUTPUT_NAME.match(output_name) or Path(output_name).suffix.lower() not in OUTPUT_FORMATS:
            raise ZoomqaError(
                f"output name '{output_name}' must be a plain file name ending in {', '.join(OUTPUT_FORMATS)}"
            )
        target = folder / output_name
        if _taken(target) or _taken(_comparison_of(target)):
            raise ZoomqaError(f"{output_name} already exists; choose another output name")
        return target
    for attempt in range(1, 1000):
        target = folder / f"{image.stem}_{tag}{'' if attempt == 1 else f'-{attempt}'}.png"
        if not (_taken(target) or _taken(_comparison_of(target))):
            return target
    raise ZoomqaError(f"too many earlier results beside {image.name}; give an output name")


def _size_tag(scale: float | None, width: int | None, height: int | None, long_side: int | None) -> str:
    """How a result's default name says its size: x2.5, l3000, 1920x1080, w800, h600."""
    if scale:
        return f"x{scale:g}"
    if long_side:
        return f"l{long_side}"
    if width and height:
        return f"{width}x{height}"
    return f"w{width}" if width else f"h{height}"


def make_upscale_tool(
    settings: UpscaleSettings,
    *,
    model_dirs: tuple[Path, ...] = (),
    output_dir: Path | None = None,
    progress: Progress | None = None,
) -> BaseTool:
    """The ``upscale_image`` tool, bound to the user's allowed folders, model and limits.

    Results (and the bicubic-vs-LIIF comparison picture) go beside the image, or into
    ``output_dir`` when the front door keeps them apart (Slack downloads); ``progress``
    receives (done, total) while a large image renders.
    """

    @tool("upscale_image", args_schema=UpscaleRequest, response_format="content_and_artifact")
    def upscale_image_tool(
        path: str,
        scale: float | None = None,
        width: int | None = None,
        height: int | None = None,
        long_side: int | None = None,
        output_name: str | None = None,
        damaged: bool = False,
    ) -> tuple[str, object]:  # (the text for the model, the UpscaleResult): hints are read at run time
        """Enlarge one of the user's own images with the local LIIF upscaler (any scale, e.g. 3.5x, to
        an exact width/height, or to a length of the longer side) and save the result next to it.
        Use only when the user asks to enlarge, upscale or super-resolve a specific image file."""
        from zoomqa.tools.upscale import upscale

        try:
            image = resolve_allowed_image(path, settings.allowed_dirs)
            sized = width is not None and height is not None
            tag = _size_tag(scale, width, height, long_side)
            result = upscale(
                image,
                _output_path(image, output_name, tag, output_dir or image.parent),
                scale=scale,
                width=None if sized else width,
                height=None if sized else height,
                size=(width, height) if width is not None and height is not None else None,
                long_side=long_side,
                model=settings.damaged_model if damaged else settings.model,
                model_dirs=model_dirs,
                precision=settings.precision,
                device=settings.device,
                max_input_pixels=settings.max_input_pixels,
                max_output_pixels=settings.max_output_pixels,
                compare=True,
                progress=progress,
            )
        except ZoomqaError as exc:
            raise ToolException(f"upscale refused: {exc}") from None
        (w, h), (ow, oh) = result.input_size, result.output_size
        text = (
            f"Enlarged {image.name} from {w}x{h} to {ow}x{oh} with {result.model} in {result.seconds:.1f} s; "
            f"saved as {result.output_path}; bicubic-vs-LIIF comparison: {result.compare_path}"
        )
        return text, result

    upscale_image_tool.handle_tool_error = True
    # langchain types this hook for pydantic v1's ValidationError too; ours is the v2 one it passes
    upscale_image_tool.handle_validation_error = _refuse_validation  # type: ignore[assignment]
    return upscale_image_tool

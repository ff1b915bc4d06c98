"""The agent's upscale tool: works inside the allowed folders, refuses everything else in plain words."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from langchain_core.tools import BaseTool
from PIL import Image

from zoomqa.config import UpscaleSettings
from zoomqa.tools.langchain_tool import UpscaleRequest, make_upscale_tool


@pytest.fixture()
def pictures(tmp_path: Path) -> Path:
    folder = tmp_path / "Pictures"
    (folder / "trips").mkdir(parents=True)
    pixels = np.random.default_rng(0).integers(0, 256, (12, 16, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(folder / "cat.png")
    Image.fromarray(pixels).save(folder / "trips" / "holiday.jpg")
    return folder


@pytest.fixture()
def upscale_tool(pictures: Path, shared_dir: Path) -> BaseTool:
    checkpoint = shared_dir / "liif-conformance" / "edsr-baseline-liif-random.pth"
    settings = UpscaleSettings(model=str(checkpoint), allowed_dirs=[pictures], max_output_pixels=200_000)
    return make_upscale_tool(settings)


def files_in(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def test_upscales_by_name_path_scale_or_size(upscale_tool: BaseTool, pictures: Path) -> None:
    reply = upscale_tool.invoke({"path": "cat.png", "scale": 3.5})
    assert (
        reply.startswith("Enlarged cat.png from 16x12 to 56x42") and str(pictures / "cat_x3.5.png") in reply
    )
    again = upscale_tool.invoke({"path": "cat.png", "scale": 3.5})  # never overwrites: a new name
    assert str(pictures / "cat_x3.5-2.png") in again
    reply = upscale_tool.invoke(
        {"path": "trips/holiday.jpg", "width": 40, "height": 20, "output_name": "wide.webp"}
    )
    assert "to 40x20" in reply
    with Image.open(pictures / "trips" / "wide.webp") as out:
        assert out.size == (40, 20)
    reply = upscale_tool.invoke({"path": str(pictures / "cat.png"), "height": 30})
    assert "to 40x30" in reply and (pictures / "cat_h30.png").is_file()
    reply = upscale_tool.invoke({"path": "cat.png", "long_side": 48})  # landscape 16x12: the width
    assert "to 48x36" in reply and (pictures / "cat_l48.png").is_file()


def test_a_damaged_picture_is_enlarged_with_the_damaged_model(pictures: Path, shared_dir: Path) -> None:
    checkpoint = shared_dir / "liif-conformance" / "edsr-baseline-liif-random.pth"
    settings = UpscaleSettings(model="liif-edsr", damaged_model=str(checkpoint), allowed_dirs=[pictures])
    tool = make_upscale_tool(settings)
    assert "with liif-edsr in" in tool.invoke({"path": "cat.png", "scale": 2})
    assert f"with {checkpoint.name} in" in tool.invoke({"path": "cat.png", "scale": 2, "damaged": True})


def test_the_schema_is_strict() -> None:
    schema = UpscaleRequest.model_json_schema()
    assert set(schema["properties"]) == {
        "path", "scale", "width", "height", "long_side", "output_name", "damaged"
    }  # fmt: skip
    assert schema["required"] == ["path"] and schema["additionalProperties"] is False


@pytest.mark.parametrize(
    ("request_args", "message"),
    [
        ({"path": "cat.png"}, "give one of scale, long_side, or width and/or height"),
        (
            {"path": "cat.png", "scale": 2, "width": 30},
            "give one of scale, long_side, or width and/or height",
        ),
        ({"path": "cat.png", "long_side": 40, "height": 30}, "give one of scale, long_side"),
        ({"path": "cat.png", "long_side": 0}, "long_side: Input should be greater than 0"),
        ({"path": "cat.png", "scale": 0.5}, "greater than 1: this tool only enlarges, and 0.5x would shrink"),
        ({"path": "cat.png", "scale": "1"}, "and 1x would keep the picture"),
        ({"path": "cat.png", "scale": "big"}, "scale: Input should be a valid number"),
        ({"path": "cat.png", "scale": 100}, "less than or equal to 64"),
        ({"path": "cat.png", "scale": 2, "overwrite": True}, "Extra inputs are not permitted"),
        ({"path": "", "scale": 2}, "at least 1 character"),
    ],
)
def test_malformed_requests_come_back_as_text(
    upscale_tool: BaseTool, request_args: dict, message: str
) -> None:
    reply = upscale_tool.invoke(request_args)
    assert reply.startswith("upscale refused:") and message in reply


def test_refuses_paths_outside_the_allowed_folders(
    upscale_tool: BaseTool, pictures: Path, tmp_path: Path
) -> None:
    secret = tmp_path / "secret.png"
    Image.new("RGB", (4, 4)).save(secret)
    (pictures / "escape.png").symlink_to(secret)
    before = files_in(tmp_path)
    for path in ("../secret.png", str(secret), "escape.png", "trips/../../secret.png", "~/../../etc/x.png"):
        reply = upscale_tool.invoke({"path": path, "scale": 2})
        assert reply.startswith("upscale refused:") and "outside the folders" in reply, path
    assert files_in(tmp_path) == before


KINDS = "png, jpg, jpeg, webp, bmp, tif, tiff, gif"


def test_refuses_non_images_missing_files_bad_names_and_big_requests(
    upscale_tool: BaseTool, pictures: Path
) -> None:
    (pictures / "notes.txt").write_text("hello")
    (pictures / "fake.png").write_text("not really a picture")
    (pictures / "linked.png").symlink_to(pictures / "notes.txt")
    (pictures / "cat_big.png").write_bytes(b"an earlier result")
    before = files_in(pictures)
    cases = [
        (
            {"path": "notes.txt", "scale": 2},
            f"I can only enlarge image files ({KINDS}): notes.txt is not one",
        ),
        ({"path": "../../etc/passwd", "scale": 2}, "../../etc/passwd is not one"),  # never opened
        ({"path": "linked.png", "scale": 2}, "linked.png is not one"),  # a link to notes.txt
        ({"path": "fake.png", "scale": 2}, "not an image format zoomqa reads"),
        ({"path": "dog.png", "scale": 2}, "no image named dog.png"),
        ({"path": "trips", "scale": 2}, "trips is not one"),
        (
            {"path": "IMG_2031.HEIC", "scale": 2},
            f"I cannot read .heic images (IMG_2031.HEIC); I enlarge {KINDS}",
        ),
        ({"path": "cat.png", "scale": 2, "output_name": "../cat.png"}, "must be a plain file name"),
        ({"path": "cat.png", "scale": 2, "output_name": "/tmp/x.png"}, "must be a plain file name"),
        ({"path": "cat.png", "scale": 2, "output_name": "cat.exe"}, "must be a plain file name"),
        ({"path": "cat.png", "scale": 2, "output_name": "cat_big.png"}, "already exists"),
        ({"path": "cat.png", "scale": 60}, "above the output limit"),
    ]
    for request_args, message in cases:
        reply = upscale_tool.invoke(request_args)
        assert reply.startswith("upscale refused:") and message in reply, (request_args, reply)
    assert files_in(pictures) == before
    assert (pictures / "cat_big.png").read_bytes() == b"an earlier result"


def test_no_allowed_folder_means_no_upscaling(pictures: Path) -> None:
    reply = make_upscale_tool(UpscaleSettings()).invoke({"path": str(pictures / "cat.png"), "scale": 2})
    assert "no folder is allowed" in reply and "upscale.allowed_dirs" in reply


def test_a_gif_is_enlarged_from_its_first_frame(upscale_tool: BaseTool, pictures: Path) -> None:
    frames = [Image.new("RGB", (16, 12), colour) for colour in ("red", "blue")]
    frames[0].save(pictures / "anim.gif", save_all=True, append_images=frames[1:])
    with Image.open(pictures / "anim.gif") as gif:
        gif.convert("RGB").save(pictures / "first.png")  # the first frame, as the GIF decodes it
    reply = upscale_tool.invoke({"path": "anim.gif", "scale": 2})
    assert reply.startswith("Enlarged anim.gif from 16x12 to 32x24"), reply
    upscale_tool.invoke({"path": "first.png", "scale": 2})
    with Image.open(pictures / "anim_x2.png") as out, Image.open(pictures / "first_x2.png") as first:
        assert np.array_equal(np.asarray(out), np.asarray(first))

"""The inference engine computes the reference function, whatever the tiling, scale or output type."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from zoomqa.tools.checkpoints import load_checkpoint
from zoomqa.tools.engine import QueryAxis, compute_dtype, receptive_radius, upscale_array
from zoomqa.tools.liif_model import LIIF, LiifSpec, make_coord


@pytest.fixture(scope="module")
def conformance_dir(shared_dir: Path) -> Path:
    return shared_dir / "liif-conformance"


@pytest.fixture(scope="module")
def edsr(conformance_dir: Path) -> LIIF:
    return load_checkpoint(conformance_dir / "edsr-baseline-liif-random.pth")


@pytest.fixture(scope="module")
def rdn(conformance_dir: Path) -> LIIF:
    return load_checkpoint(conformance_dir / "rdn-liif-random.pth")


def _query_everything(model: LIIF, image: np.ndarray, height: int, width: int) -> np.ndarray:
    """The model's own per-query path over every output pixel centre: the ground truth here."""
    inp = (torch.from_numpy(image.astype(np.float32) / 255).permute(2, 0, 1).unsqueeze(0) - 0.5) / 0.5
    coord = make_coord(height, width).unsqueeze(0)
    cell = torch.tensor([2 / height, 2 / width]).expand_as(coord)
    with torch.no_grad():
        pred = model.query(model.encode(inp), coord, cell, image=inp)
    return (pred * 0.5 + 0.5).clamp(0, 1).view(height, width, 3).numpy()


def _conformance_case(
    conformance_dir: Path, index: int
) -> tuple[LIIF, np.ndarray, tuple[int, int], np.ndarray]:
    case = json.loads((conformance_dir / "manifest.json").read_text())["cases"][index]
    model = load_checkpoint(conformance_dir / case["checkpoint"])
    image = np.asarray(Image.open(conformance_dir / case["input"]).convert("RGB"))
    expected = np.load(conformance_dir / case["expected"], allow_pickle=False).transpose(1, 2, 0)
    return model, image, tuple(case["output_hw"]), expected


# Case 4 (x12, 480x576) is left to bench/bench_upscale.py, which checks exact mode against the
# reference at x4 and x12 on far larger images; here it would add ~10 s of float32 decoding.
@pytest.mark.parametrize("case_index", [0, 1, 2, 3, 5, 6, 7])
def test_exact_mode_reproduces_the_reference_outputs(conformance_dir: Path, case_index: int) -> None:
    model, image, size, expected = _conformance_case(conformance_dir, case_index)
    exact = upscale_array(model, image, size, precision="exact", out_dtype=np.float32)
    assert exact.shape == expected.shape
    assert np.abs(exact - expected).max() <= 1e-5


@pytest.mark.parametrize("case_index", [2, 6])
def test_fast_mode_stays_close_to_the_reference(conformance_dir: Path, case_index: int) -> None:
    model, image, size, expected = _conformance_case(conformance_dir, case_index)
    fast = upscale_array(model, image, size, precision="fast", out_dtype=np.float32)
    assert np.abs(fast - expected).max() <= 2e-3  # about half an 8-bit level
    if compute_dtype("fast", torch.device("cpu")) == torch.bfloat16:
        assert np.abs(fast - expected).max() > 1e-6  # and really the reduced-precision path
    else:  # no native bf16 on this CPU: fast mode is the float32 engine
        assert np.abs(fast - expected).max() <= 1e-5


def test_receptive_radius_counts_every_3x3_convolution(edsr: LIIF, rdn: LIIF) -> None:
    assert receptive_radius(edsr.encoder) == 34  # head + 16 x 2 + body tail
    assert receptive_radius(rdn.encoder) == 131  # SFENet1, SFENet2, 16 x 8 dense layers, GFF


def test_small_forced_tiles_equal_one_tile_edsr(edsr: LIIF) -> None:
    # 150 rows -> 2 tiles, 230 columns -> 3 tiles (the middle one has a halo on both sides).
    image = np.random.default_rng(0).integers(0, 256, (150, 230, 3), dtype=np.uint8)
    whole = upscale_array(edsr, image, (181, 263), precision="exact", out_dtype=np.float32)
    tiled = upscale_array(edsr, image, (181, 263), precision="exact", out_dtype=np.float32, tile=77)
    assert np.abs(tiled - whole).max() <= 1e-5


def test_small_forced_tiles_equal_one_tile_rdn(rdn: LIIF) -> None:
    # RDN sees 131 pixels each way: a one-row strip 400 wide splits into 4 column tiles of
    # 100, the middle ones with a full halo on both sides.
    image = np.random.default_rng(1).integers(0, 256, (1, 400, 3), dtype=np.uint8)
    whole = upscale_array(rdn, image, (2, 520), precision="exact", out_dtype=np.float32)
    tiled = upscale_array(rdn, image, (2, 520), precision="exact", out_dtype=np.float32, tile=100)
    assert np.abs(tiled - whole).max() <= 1e-5


def test_output_tiles_cover_every_pixel_once() -> None:
    for n_out, n_latent, tile in ((1000, 97, 10), (97, 97, 5), (8192, 1024, 440), (13, 3, 1)):
        ranges = QueryAxis(n_out, n_latent).tiles(tile)
        assert ranges[0][0] == 0 and ranges[-1][1] == n_out
        assert all(a[1] == b[0] for a, b in zip(ranges, ranges[1:]))
        assert len(ranges) == -(-n_latent // tile)


@pytest.mark.parametrize("size", [(37, 101), (96, 80), (70, 41)])
def test_any_scale_matches_the_per_query_model(edsr: LIIF, size: tuple[int, int]) -> None:
    """Non-integer and non-uniform scales, and output sizes that are not multiples of the input."""
    image = np.random.default_rng(2).integers(0, 256, (20, 24, 3), dtype=np.uint8)
    ours = upscale_array(edsr, image, size, precision="exact", out_dtype=np.float32, tile=8)
    assert np.abs(ours - _query_everything(edsr, image, *size)).max() <= 1e-5


def test_integer_outputs_are_the_rounded_float_output(edsr: LIIF) -> None:
    image = np.random.default_rng(3).integers(0, 256, (16, 12, 3), dtype=np.uint8)
    unit = upscale_array(edsr, image, (40, 30), precision="exact", out_dtype=np.float32)
    eight = upscale_array(edsr, image, (40, 30), precision="exact", out_dtype=np.uint8)
    sixteen = upscale_array(
        edsr, image.astype(np.uint16) * 257, (40, 30), precision="exact", out_dtype=np.uint16
    )
    assert eight.dtype == np.uint8 and sixteen.dtype == np.uint16
    assert np.array_equal(eight, np.rint(unit * 255).astype(np.uint8))
    assert np.abs(sixteen.astype(np.float64) - unit * 65535).max() <= 0.5 + 65535 * 1e-6


def test_progress_reaches_the_total_and_the_model_is_left_alone(edsr: LIIF) -> None:
    before = {k: v.clone() for k, v in edsr.state_dict().items()}
    seen: list[tuple[int, int]] = []
    image = np.zeros((16, 16, 3), dtype=np.uint8)
    upscale_array(
        edsr, image, (64, 64), precision="fast", progress=lambda done, total: seen.append((done, total))
    )
    assert seen[-1] == (64 * 64, 64 * 64)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    for key, value in edsr.state_dict().items():
        assert value.dtype == torch.float32 and torch.equal(value, before[key]), key


@pytest.fixture(scope="module", params=["bilinear", "bicubic"])
def with_skip(request: pytest.FixtureRequest) -> LIIF:
    """A random EDSR LIIF that adds an image skip (its residual is not zero, so both parts count)."""
    torch.manual_seed(5)
    return LIIF(LiifSpec(skip=request.param)).eval()


@pytest.mark.parametrize("size", [(181, 263), (37, 101)])
def test_a_skip_model_matches_its_per_query_path_tiled_or_not(with_skip: LIIF, size: tuple[int, int]) -> None:
    image = np.random.default_rng(4).integers(0, 256, (120, 110, 3), dtype=np.uint8)
    whole = upscale_array(with_skip, image, size, precision="exact", out_dtype=np.float32)
    tiled = upscale_array(with_skip, image, size, precision="exact", out_dtype=np.float32, tile=30)
    assert np.abs(tiled - whole).max() <= 1e-5
    assert np.abs(whole - _query_everything(with_skip, image, *size)).max() <= 1e-5


@pytest.mark.parametrize("mode", ["bilinear", "bicubic"])
def test_a_zero_residual_is_pils_resize(mode: str) -> None:
    """The skip is PIL's interpolation, borders included: the baseline every fidelity table shows."""
    model = LIIF(LiifSpec(skip=mode)).eval()
    nn.init.zeros_(model.imnet.layers[-1].weight)
    nn.init.zeros_(model.imnet.layers[-1].bias)
    image = np.random.default_rng(6).integers(0, 256, (10, 13, 3), dtype=np.uint8)
    ours = upscale_array(model, image, (47, 61), precision="exact", out_dtype=np.float32)
    resample = Image.BICUBIC if mode == "bicubic" else Image.BILINEAR
    pil = (
        np.stack(
            [
                np.asarray(Image.fromarray(image[..., c]).convert("F").resize((61, 47), resample))
                for c in range(3)
            ],
            axis=-1,
        )
        / 255
    )
    assert np.abs(ours - pil.clip(0, 1)).max() <= 1e-5

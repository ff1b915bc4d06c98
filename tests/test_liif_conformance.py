"""Our LIIF computes exactly the reference function and loads the authors' checkpoint format.

The vectors in ../shared/liif-conformance were produced by the authors' code with seeded random
weights; every case must match to 1e-5 in float32.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from zoomqa.errors import ZoomqaError
from zoomqa.tools.checkpoints import load_checkpoint, read_metadata, save_safetensors
from zoomqa.tools.liif_model import LIIF, LiifSpec, make_coord


def reference_style_output(model: LIIF, image_path: Path, height: int, width: int) -> np.ndarray:
    """Query every output pixel centre, as the reference test harness does."""
    rgb = np.asarray(Image.open(image_path).convert("RGB"), dtype=np.float32) / 255
    image = (torch.from_numpy(rgb).permute(2, 0, 1).unsqueeze(0) - 0.5) / 0.5
    coord = make_coord(height, width).unsqueeze(0)
    cell = torch.ones_like(coord)
    cell[..., 0] *= 2 / height
    cell[..., 1] *= 2 / width
    with torch.no_grad():
        feat = model.encode(image)
        pred = torch.cat(
            [
                model.query(feat, coord[:, i : i + 30000], cell[:, i : i + 30000])
                for i in range(0, coord.shape[1], 30000)
            ],
            dim=1,
        )
    out = (pred * 0.5 + 0.5).clamp(0, 1).view(height, width, 3).permute(2, 0, 1)
    return out.numpy()


def conformance_cases(shared: Path) -> list[dict]:
    return json.loads((shared / "liif-conformance" / "manifest.json").read_text())["cases"]


@pytest.fixture(scope="module")
def conformance_dir(shared_dir: Path) -> Path:
    return shared_dir / "liif-conformance"


@pytest.mark.parametrize("case_index", range(8))
def test_matches_reference_outputs(conformance_dir: Path, case_index: int) -> None:
    cases = conformance_cases(conformance_dir.parent)
    assert len(cases) == 8
    case = cases[case_index]
    model = load_checkpoint(conformance_dir / case["checkpoint"])
    height, width = case["output_hw"]
    ours = reference_style_output(model, conformance_dir / case["input"], height, width)
    expected = np.load(conformance_dir / case["expected"], allow_pickle=False)
    assert ours.shape == expected.shape
    assert np.abs(ours - expected).max() <= 1e-5


def test_official_keys_are_exactly_our_parameters(conformance_dir: Path) -> None:
    official = json.loads((conformance_dir / "official_keys.json").read_text())
    for name, entry in official.items():
        model = LIIF(LiifSpec.from_args(entry["args"]))
        ours = {k: list(v.shape) for k, v in model.state_dict().items()}
        theirs = {
            k: v for k, v in entry["state_dict"].items() if ".sub_mean." not in k and ".add_mean." not in k
        }
        assert ours == theirs, name


def test_safetensors_round_trip_rebuilds_the_same_network(conformance_dir: Path, tmp_path: Path) -> None:
    model = load_checkpoint(conformance_dir / "rdn-liif-random.pth")
    path = save_safetensors(model, tmp_path / "rdn.safetensors", dtype=torch.float32, metadata={"note": "x"})
    again = load_checkpoint(path)
    assert again.spec == model.spec == LiifSpec(encoder="rdn")
    assert read_metadata(path)["note"] == "x"
    for key, value in model.state_dict().items():
        assert torch.equal(value, again.state_dict()[key]), key


def test_the_authors_checkpoints_have_no_skip_and_ours_keep_theirs(
    conformance_dir: Path, tmp_path: Path
) -> None:
    official = json.loads((conformance_dir / "official_keys.json").read_text())
    assert all(LiifSpec.from_args(entry["args"]).skip is None for entry in official.values())
    model = LIIF(LiifSpec(skip="bicubic"))
    again = load_checkpoint(save_safetensors(model, tmp_path / "skip.safetensors"))
    assert again.spec == LiifSpec(skip="bicubic")
    with pytest.raises(ValueError, match="unknown skip"):
        LiifSpec.from_args({**model.spec.to_args(), "skip": "lanczos"})


def test_bad_checkpoints_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(ZoomqaError, match="checkpoint not found"):
        load_checkpoint(tmp_path / "missing.pth")
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"not a checkpoint")
    with pytest.raises(ZoomqaError, match="not a readable PyTorch checkpoint"):
        load_checkpoint(garbage)
    wrong = tmp_path / "wrong.pth"
    torch.save({"model": {"args": LiifSpec().to_args(), "sd": {"x": torch.zeros(1)}}}, wrong)
    with pytest.raises(ZoomqaError, match="does not match a LIIF edsr-baseline network"):
        load_checkpoint(wrong)
    not_ours = tmp_path / "other.safetensors"
    from safetensors.torch import save_file

    save_file({"x": torch.zeros(1)}, str(not_ours))
    with pytest.raises(ZoomqaError, match="not a zoomqa LIIF checkpoint"):
        load_checkpoint(not_ours)


def test_pickled_code_in_a_checkpoint_is_refused(tmp_path: Path) -> None:
    class Payload:
        def __reduce__(self):  # would run code if unpickled without weights_only
            return (print, ("owned",))

    evil = tmp_path / "evil.pth"
    torch.save({"model": Payload()}, evil)
    with pytest.raises(ZoomqaError, match="not a readable PyTorch checkpoint"):
        load_checkpoint(evil)

"""Training runs are reproducible, resumable to the bit, refuse to mix settings, and train fp32 weights under autocast."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from zoomqa.errors import ZoomqaError
from zoomqa.hardware import cpu_has_native_bf16
from zoomqa.tools.checkpoints import load_checkpoint, read_metadata, save_safetensors
from zoomqa.tools.liif_model import LIIF
from zoomqa.tools.training import TrainConfig, Trainer, predict, training_dtype
from zoomqa.tools.training_data import sample_batch, split_holdout


def tiny_config(data: Path, **changes: object) -> TrainConfig:
    base = dict(
        data=data,
        patch=12,
        batch=2,
        steps=4,
        queries=32,
        holdout_every=3,
        val_images=1,
        val_every=2,
        save_every=2,
        lr_decay_every=3,
    )
    return TrainConfig(**{**base, **changes})


def test_batches_have_the_recipe_shapes_and_ranges(photo_dir: Path) -> None:
    photos = [np.asarray(Image.open(p).convert("RGB")) for p in sorted(photo_dir.iterdir())]
    batch = sample_batch(photos, tiny_config(photo_dir), np.random.default_rng(0))
    assert batch.inp.shape == (2, 3, 12, 12)
    assert batch.coord.shape == batch.cell.shape == (2, 32, 2)
    assert batch.target.shape == (2, 32, 3)
    for tensor in (batch.inp, batch.target, batch.coord):
        assert tensor.min() >= -1 and tensor.max() <= 1
    # cell = 2 / HR side, and the HR side is round(12 s) with s in [1, 4]
    sides = 2 / batch.cell[:, 0, 0]
    assert torch.all((sides >= 12 - 1e-3) & (sides <= 48 + 1e-3))


def test_constant_photo_gives_constant_targets(tmp_path: Path) -> None:
    grey = np.full((64, 64, 3), 51, dtype=np.uint8)
    batch = sample_batch([grey], tiny_config(tmp_path), np.random.default_rng(0))
    expected = (51 / 255 - 0.5) / 0.5
    assert torch.allclose(batch.target, torch.full_like(batch.target, expected))
    assert torch.allclose(batch.inp, torch.full_like(batch.inp, expected), atol=1e-6)


def test_holdout_split_is_deterministic_and_disjoint(photo_dir: Path) -> None:
    files = sorted(photo_dir.iterdir())
    train, held = split_holdout(files, 3)
    assert held == [files[0], files[3]]
    assert not set(train) & set(held) and len(train) + len(held) == len(files)


@pytest.fixture
def one_thread() -> Iterator[None]:
    """Multi-threaded float32 convolution backward sums in a varying order: bit-equality needs one thread."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.usefixtures("one_thread")
def test_resume_continues_exactly_where_the_checkpoint_left(photo_dir: Path, tmp_path: Path) -> None:
    straight = Trainer(tmp_path / "straight", tiny_config(photo_dir), device="cpu")
    straight.train()
    assert straight.step == 4

    interrupted = Trainer(tmp_path / "resumed", tiny_config(photo_dir, steps=2), device="cpu")
    interrupted.train()
    resumed = Trainer(tmp_path / "resumed", tiny_config(photo_dir, steps=4), device="cpu")
    assert resumed.step == 2
    resumed.train()
    for key, value in straight.model.state_dict().items():
        assert torch.equal(value, resumed.model.state_dict()[key]), key

    checkpoint = tmp_path / "resumed" / "model.safetensors"
    assert read_metadata(checkpoint)["step"] == "4"
    assert load_checkpoint(checkpoint).spec.encoder == "edsr-baseline"
    log = (tmp_path / "resumed" / "log.jsonl").read_text().splitlines()
    assert any('"val_psnr_x4"' in line for line in log)


def test_a_run_folder_refuses_other_settings(photo_dir: Path, tmp_path: Path) -> None:
    Trainer(tmp_path / "run", tiny_config(photo_dir, steps=1), device="cpu").train()
    with pytest.raises(ZoomqaError, match="other settings"):
        Trainer(tmp_path / "run", tiny_config(photo_dir, lr=1e-3), device="cpu")
    with pytest.raises(ZoomqaError, match="no training run"):
        Trainer(tmp_path / "empty", None, device="cpu")


def test_adding_a_skip_to_init_weights_starts_exactly_at_bicubic_and_is_saved(
    photo_dir: Path, tmp_path: Path
) -> None:
    torch.manual_seed(1)
    init = save_safetensors(LIIF(), tmp_path / "no-skip.safetensors", dtype=torch.float32)
    trainer = Trainer(
        tmp_path / "run", tiny_config(photo_dir, init=init, skip="bicubic", steps=1), device="cpu"
    )
    before = load_checkpoint(init).state_dict()
    kept = {k: v for k, v in trainer.model.state_dict().items() if not k.startswith("imnet.layers.8.")}
    assert all(torch.equal(v, before[k]) for k, v in kept.items())  # all but the last layer carried over
    lr = np.random.default_rng(2).integers(0, 256, (9, 11, 3), dtype=np.uint8)
    trainer.model.eval()
    start = predict(trainer.model, lr, 27, 33)
    pil = (
        np.stack(
            [
                np.asarray(Image.fromarray(lr[..., c]).convert("F").resize((33, 27), Image.BICUBIC))
                for c in range(3)
            ],
            axis=-1,
        )
        / 255
    )
    assert np.abs(start - pil.clip(0, 1)).max() <= 1e-5
    trainer.model.train()
    trainer.train()
    assert load_checkpoint(tmp_path / "run" / "model.safetensors").spec.skip == "bicubic"
    # Fine-tuning those weights again keeps their skip (and their trained last layer) without --skip.
    again = Trainer(
        tmp_path / "again", tiny_config(photo_dir, init=tmp_path / "run" / "model.safetensors"), device="cpu"
    )
    assert again.model.spec.skip == "bicubic"
    assert torch.equal(again.model.imnet.layers[-1].weight, trainer.model.imnet.layers[-1].weight.detach())


def test_a_bf16_autocast_run_trains_fp32_master_weights_and_records_its_arithmetic(
    photo_dir: Path, tmp_path: Path
) -> None:
    trainer = Trainer(
        tmp_path / "run", tiny_config(photo_dir, precision="bf16", steps=3, val_every=3), device="cpu"
    )
    assert trainer.amp_dtype == torch.bfloat16
    before = {name: value.clone() for name, value in trainer.model.state_dict().items()}
    computed_in: set[torch.dtype] = set()
    for conv in (trainer.model.encoder.head[0], trainer.model.encoder.body[-1]):
        conv.register_forward_hook(
            lambda module, args, out: computed_in.add(out.dtype) if module.training else None
        )
    losses: list[float] = []
    trainer.train(lambda entry, its: losses.append(entry["loss"]))

    assert computed_in == {torch.bfloat16}  # the forward pass really ran under bf16 autocast
    assert len(losses) == 3 and all(np.isfinite(losses)) and all(loss > 0 for loss in losses)
    for name, value in trainer.model.state_dict().items():
        assert value.dtype == torch.float32, name  # master weights stay fp32 ...
        assert not torch.equal(value, before[name]), name  # ... and every tensor of them moved
    for state in trainer.optimizer.state.values():
        assert state["exp_avg"].dtype == state["exp_avg_sq"].dtype == torch.float32
    assert json.loads((tmp_path / "run" / "config.json").read_text())["precision"] == "bf16"
    assert read_metadata(tmp_path / "run" / "model.safetensors")["train_dtype"] == "bfloat16"


def test_precision_auto_follows_the_hardware_and_fp32_turns_autocast_off(
    photo_dir: Path, tmp_path: Path
) -> None:
    cpu = torch.device("cpu")
    assert training_dtype("fp32", cpu) == torch.float32
    assert training_dtype("auto", cpu) == (torch.bfloat16 if cpu_has_native_bf16() else torch.float32)
    assert (
        Trainer(tmp_path / "fp32", tiny_config(photo_dir, precision="fp32"), device="cpu").amp_dtype
        == torch.float32
    )


@pytest.mark.usefixtures("one_thread")
def test_a_run_saved_without_a_precision_resumes_and_may_change_its_precision(
    photo_dir: Path, tmp_path: Path
) -> None:
    run = tmp_path / "run"
    Trainer(run, tiny_config(photo_dir, steps=2, precision="fp32"), device="cpu").train()
    saved = json.loads((run / "config.json").read_text())
    del saved["precision"]  # as runs were saved before the setting existed
    (run / "config.json").write_text(json.dumps(saved))

    resumed = Trainer(run, None, device="cpu")
    assert resumed.config.precision == "auto" and resumed.step == 2
    switched = Trainer(run, tiny_config(photo_dir, steps=3, precision="bf16"), device="cpu")
    assert switched.step == 2 and switched.amp_dtype == torch.bfloat16
    switched.train()
    assert switched.step == 3 and json.loads((run / "config.json").read_text())["precision"] == "bf16"
    with pytest.raises(ZoomqaError, match="only --steps and --precision may change"):
        Trainer(run, tiny_config(photo_dir, steps=4, batch=3), device="cpu")

"""Training LIIF on a folder of photos, following the paper's recipe by default.

Each step draws a batch from :mod:`zoomqa.tools.training_data` (random HR patches, their
bicubic LR, optionally degraded like an old compressed photo) and regresses the queried HR
pixels with an L1 loss. Runs live in a folder:
``config.json`` (what was asked), ``model.safetensors`` (fp32 weights + progress in the header),
``optimizer.pt`` (Adam state and RNG states, read back with weights_only=True), ``log.jsonl``
(the learning curve). A run resumes exactly where its last checkpoint left it.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from PIL import Image
from pydantic import BaseModel, ConfigDict, Field

from zoomqa.errors import ZoomqaError
from zoomqa.tools.checkpoints import load_checkpoint, read_metadata, save_safetensors
from zoomqa.tools.engine import compute_dtype, resolve_device
from zoomqa.tools.liif_model import LIIF, LiifSpec, Skip, make_coord
from zoomqa.tools.metrics import psnr
from zoomqa.tools.training_data import (
    Batch,
    centre_crop,
    list_images,
    read_rgb,
    sample_batch,
    split_holdout,
    to_unit,
)

MODEL_FILE = "model.safetensors"
OPTIMIZER_FILE = "optimizer.pt"
CONFIG_FILE = "config.json"
LOG_FILE = "log.jsonl"
# Settings a resumed run may change: how long it runs, and the arithmetic (the weights stay fp32).
RESUMABLE_CHANGES = ("steps", "precision")
TrainPrecision = Literal["auto", "fp32", "bf16"]


class TrainConfig(BaseModel):
    """What a run was asked to do; saved with the run so a resume needs no flags."""

    model_config = ConfigDict(extra="forbid")

    data: Path
    encoder: Literal["edsr-baseline", "rdn"] = "edsr-baseline"
    skip: Skip | None = Field(
        None,
        description="image skip: learn the residual over this interpolation of the LR (None: as --init has it)",
    )
    patch: int = Field(48, ge=8, le=256, description="LR patch side")
    batch: int = Field(16, ge=1, le=256)
    steps: int = Field(1_000_000, ge=1)
    lr: float = Field(1e-4, gt=0)
    lr_decay_every: int = Field(200_000, ge=1, description="halve the learning rate every N steps")
    lr_gamma: float = Field(0.5, gt=0, le=1)
    scale_min: float = Field(1.0, ge=1)
    scale_max: float = Field(4.0, ge=1)
    queries: int = Field(2304, ge=1, description="random HR pixels regressed per patch")
    degradation: bool = Field(False, description="JPEG, noise and blur on the LR, like old photos")
    holdout_every: int = Field(20, ge=2, description="every Nth photo (sorted) is held out")
    val_images: int = Field(8, ge=1)
    val_every: int = Field(1000, ge=1)
    save_every: int = Field(250, ge=1)
    seed: int = 0
    curve_data: Path | None = Field(
        None, description="benchmark folder (e.g. Set5) whose x4 Y-PSNR is logged at each validation"
    )
    init: Path | None = Field(None, description="start from these weights (e.g. to fine-tune)")
    precision: TrainPrecision = Field(
        "auto",
        description="auto: bf16 autocast on CPUs with native bf16, autocast on CUDA (bf16, else fp16 with loss "
        "scaling), fp32 elsewhere; fp32: no autocast; bf16: bf16 autocast on any device. Master weights stay fp32.",
    )


def training_dtype(precision: TrainPrecision, device: torch.device) -> torch.dtype:
    """The dtype the forward and backward passes run in under autocast (float32: no autocast)."""
    if precision == "fp32":
        return torch.float32
    if precision == "bf16":
        return torch.bfloat16
    return compute_dtype("fast", device)  # the upscaler's fast dtype: native bf16, or half precision on CUDA


@torch.no_grad()
def predict(model: LIIF, lr: np.ndarray, height: int, width: int, chunk: int = 65536) -> np.ndarray:
    """(height, width, 3) float prediction in [0, 1] for a small LR image (validation only)."""
    device = next(model.parameters()).device
    inp = ((to_unit(lr).permute(2, 0, 1).unsqueeze(0) - 0.5) / 0.5).to(device)
    feat = model.encode(inp)
    table = model.latent_table(feat)
    coord = make_coord(height, width, device).unsqueeze(0)
    cell = torch.tensor([2.0 / height, 2.0 / width], device=device).expand_as(coord)
    out = torch.cat(
        [
            model.query(feat, coord[:, i : i + chunk], cell[:, i : i + chunk], table, inp)
            for i in range(0, coord.shape[1], chunk)
        ],
        dim=1,
    )
    return (out * 0.5 + 0.5).clamp(0, 1).view(height, width, 3).float().cpu().numpy()


def mean_psnr(model: LIIF, images: list[np.ndarray], *, scale: int, benchmark: bool) -> float:
    """Mean PSNR at one integer scale under the paper's protocol.

    Benchmark sets: Y channel, shave = scale; photos: RGB, shave = scale + 6.
    """
    values = []
    for image in images:
        height, width = image.shape[0] - image.shape[0] % scale, image.shape[1] - image.shape[1] % scale
        hr = image[:height, :width]
        lr = np.asarray(
            Image.fromarray(hr).resize((width // scale, height // scale), Image.Resampling.BICUBIC)
        )
        pred = predict(model, lr, height, width)
        shave = scale if benchmark else scale + 6
        values.append(psnr(pred, hr / 255.0, shave=shave, y_channel=benchmark))
    return float(np.mean(values))


def saved_config(run_dir: Path) -> TrainConfig | None:
    """The settings a run folder was started with, or None when it holds no run."""
    path = Path(run_dir) / CONFIG_FILE
    if not path.is_file():
        return None
    try:
        return TrainConfig.model_validate_json(path.read_text())
    except ValueError as exc:
        raise ZoomqaError(
            f"{path} is not a training configuration ({exc.__class__.__name__}); use a new run folder"
        ) from None


def _save_atomic_torch(obj: dict, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def _write_json_atomic(data: dict, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str))
    os.replace(tmp, path)


class Trainer:
    """Owns one run folder: starts it, resumes it, checkpoints it."""

    def __init__(self, run_dir: Path, config: TrainConfig | None = None, device: str = "auto") -> None:
        self.run_dir = Path(run_dir)
        self.device = resolve_device(device)
        saved = self.run_dir / CONFIG_FILE
        previous = saved_config(self.run_dir)
        if previous is not None:
            # A resume may extend or shorten the run or change its arithmetic; nothing else.
            update = {key: getattr(config, key) for key in RESUMABLE_CHANGES} if config else {}
            self.config = previous.model_copy(update=update)
            changed = [
                key
                for key, value in (
                    config.model_dump(exclude=set(RESUMABLE_CHANGES)).items() if config else ()
                )
                if value != getattr(previous, key)
            ]
            if changed:
                raise ZoomqaError(
                    f"{self.run_dir} holds a run with other settings ({', '.join(changed)}); "
                    "only --steps and --precision may change on resume: use a new run folder"
                )
        elif config is None:
            raise ZoomqaError(f"no training run in {self.run_dir} to resume")
        else:
            self.config = config
        self.run_dir.mkdir(parents=True, exist_ok=True)
        _write_json_atomic(json.loads(self.config.model_dump_json()), saved)

        torch.manual_seed(self.config.seed)
        self.model = self._initial_model().to(self.device).to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=self.config.lr)
        # Autocast runs convolutions and matrix products in amp_dtype; the parameters, Adam's state
        # and the loss stay float32. fp16 gradients underflow without loss scaling; bf16 needs none
        # (the scaler is then a no-op).
        self.amp_dtype = training_dtype(self.config.precision, self.device)
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=self.amp_dtype == torch.float16)
        self.rng = np.random.default_rng(self.config.seed)
        self.step = 0
        self.seconds = 0.0  # training wall time, summed over every resume
        if (self.run_dir / MODEL_FILE).exists():
            self._resume()

    def _initial_model(self) -> LIIF:
        """New or --init weights; a skip the weights did not have starts with a zeroed last layer,
        so the model starts exactly at the interpolation and learns the residual from there."""
        if self.config.init:
            model = load_checkpoint(self.config.init)
            if model.spec.encoder != self.config.encoder:
                raise ZoomqaError(
                    f"--init weights use the {model.spec.encoder} encoder, not {self.config.encoder}"
                )
            if self.config.skip in (None, model.spec.skip):
                return model.train()
            state = model.state_dict()
            model = LIIF(replace(model.spec, skip=self.config.skip))
            model.load_state_dict(state)
        else:
            model = LIIF(LiifSpec(encoder=self.config.encoder, skip=self.config.skip))
        if self.config.skip is not None:
            last = model.imnet.layers[-1]
            assert isinstance(last, torch.nn.Linear)
            torch.nn.init.zeros_(last.weight)
            torch.nn.init.zeros_(last.bias)
        return model.train()

    def _resume(self) -> None:
        weights = load_checkpoint(self.run_dir / MODEL_FILE)
        self.model.load_state_dict(weights.state_dict())
        state = torch.load(self.run_dir / OPTIMIZER_FILE, map_location=self.device, weights_only=True)
        self.optimizer.load_state_dict(state["optimizer"])
        if state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
        self.step = int(state["step"])
        self.seconds = float(state["seconds"])
        torch.set_rng_state(state["torch_rng"])
        self.rng.bit_generator.state = json.loads(state["numpy_rng"])
        self._forget_log_after(self.step)

    def _forget_log_after(self, step: int) -> None:
        """Steps a killed run logged past its last checkpoint are redone, so their lines must go."""
        log = self.run_dir / LOG_FILE
        if not log.exists():
            return
        lines = log.read_text(encoding="utf-8").splitlines(keepends=True)
        kept = [line for line in lines if line.strip() and json.loads(line)["step"] <= step]
        if len(kept) != len(lines):
            tmp = log.with_name(f".{log.name}.tmp")
            tmp.write_text("".join(kept), encoding="utf-8")
            os.replace(tmp, log)

    def learning_rate(self, step: int) -> float:
        return self.config.lr * self.config.lr_gamma ** (step // self.config.lr_decay_every)

    def save(self) -> None:
        """Weights first, then optimizer state: a crash in between resumes from the older step."""
        meta = {
            "step": str(self.step),
            "train_seconds": f"{self.seconds:.0f}",
            "train_config": self.config.model_dump_json(),
            "device": str(self.device),
            "train_dtype": str(self.amp_dtype).removeprefix("torch."),
        }
        save_safetensors(self.model, self.run_dir / MODEL_FILE, dtype=torch.float32, metadata=meta)
        _save_atomic_torch(
            {
                "optimizer": self.optimizer.state_dict(),
                "scaler": self.scaler.state_dict(),
                "step": self.step,
                "seconds": self.seconds,
                "torch_rng": torch.get_rng_state(),
                "numpy_rng": json.dumps(self.rng.bit_generator.state),
            },
            self.run_dir / OPTIMIZER_FILE,
        )

    def _log(self, entry: dict) -> None:
        with open(self.run_dir / LOG_FILE, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(entry) + "\n")

    def train_step(self, batch: Batch) -> float:
        """One optimizer step on ``batch`` (autocast in ``amp_dtype``); returns the L1 loss."""
        inp = batch.inp.to(self.device, non_blocking=True).contiguous(memory_format=torch.channels_last)
        coord = batch.coord.to(self.device, non_blocking=True)
        cell = batch.cell.to(self.device, non_blocking=True)
        target = batch.target.to(self.device, non_blocking=True)
        with torch.autocast(self.device.type, dtype=self.amp_dtype, enabled=self.amp_dtype != torch.float32):
            pred = self.model(inp, coord, cell)
        loss = (pred.float() - target).abs().mean()
        value = loss.item()
        if not math.isfinite(value):
            raise ZoomqaError(f"training diverged at step {self.step} (loss {value}); lower --lr")
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        return value

    def train(
        self,
        on_step: Callable[[dict, float], None] | None = None,
        stop: Callable[[], bool] | None = None,
        batches: Iterator[Batch] | None = None,
        validation: tuple[list[np.ndarray], list[np.ndarray]] | None = None,
    ) -> None:
        """Run until ``config.steps`` or until ``stop()`` says so between two steps.

        ``on_step(entry, its_per_s)`` gets each step's log entry (step, loss, lr, train_s and,
        on validation steps, val_psnr_x4 / curve_psnr_x4). A stop saves a checkpoint at the
        step just finished, so the run resumes exactly there. ``batches`` replaces the
        trainer's own sampling (e.g. with a parallel loader); a run resumed without it then
        draws other batches than an uninterrupted one would. ``validation`` = (held-out
        crops, benchmark images) replaces the ones read from ``config.data`` and ``curve_data``.
        """
        config = self.config
        photos: list[np.ndarray] = []
        if batches is None or validation is None:
            train_files, held_files = split_holdout(list_images(config.data), config.holdout_every)
            photos = [read_rgb(f) for f in train_files] if batches is None else []
        if validation is None:
            held = [centre_crop(read_rgb(f), 240) for f in held_files[: config.val_images]]
            curve = [read_rgb(f) for f in list_images(config.curve_data)] if config.curve_data else []
        else:
            held, curve = validation
        last = time.time()
        while self.step < config.steps:
            lr = self.learning_rate(self.step)
            for group in self.optimizer.param_groups:
                group["lr"] = lr
            batch = next(batches) if batches is not None else sample_batch(photos, config, self.rng)
            loss = self.train_step(batch)
            self.step += 1
            now = time.time()
            its = 1.0 / max(now - last, 1e-9)
            self.seconds += now - last
            entry = {"step": self.step, "loss": round(loss, 5), "lr": lr, "train_s": round(self.seconds)}
            if self.step % config.val_every == 0 or self.step == config.steps:
                self.model.eval()
                entry["val_psnr_x4"] = round(mean_psnr(self.model, held, scale=4, benchmark=False), 3)
                if curve:
                    entry["curve_psnr_x4"] = round(mean_psnr(self.model, curve, scale=4, benchmark=True), 3)
                self.model.train()
            stopping = stop is not None and stop()
            if stopping or self.step % config.save_every == 0 or self.step == config.steps:
                self.save()
            if "val_psnr_x4" in entry or self.step % 50 == 0:
                self._log(entry)
            if on_step:
                on_step(entry, its)
            if stopping:
                return
            last = time.time()


def _without_local_paths(config_json: str) -> str:
    """A training config fit to ship: folder names stay, the trainer's absolute paths do not."""
    config = json.loads(config_json)
    for key in ("data", "curve_data", "init"):
        if config.get(key):
            config[key] = Path(config[key]).name
    return json.dumps(config)


_SHIPPED_METADATA = ("step", "train_seconds", "train_config", "device", "train_dtype")


def export_weights(
    run_dir: Path, output: Path, *, dtype: torch.dtype = torch.float16, force: bool = False
) -> Path:
    """A run's latest weights as a compact file for ``zoomqa upscale --model`` (fp16: ~3 MB for EDSR)."""
    source = Path(run_dir) / MODEL_FILE
    if not source.is_file():
        raise ZoomqaError(f"no trained weights in {run_dir} (expected {MODEL_FILE})")
    if Path(output).exists() and not force:
        raise ZoomqaError(f"{output} exists; pass --force to replace it")
    metadata = {k: v for k, v in read_metadata(source).items() if k in _SHIPPED_METADATA}
    if "train_config" in metadata:
        metadata["train_config"] = _without_local_paths(metadata["train_config"])
    return save_safetensors(load_checkpoint(source), output, dtype=dtype, metadata=metadata)

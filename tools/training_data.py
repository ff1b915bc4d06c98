"""The training and evaluation data pipeline: photos in a folder to LR/HR batches.

Lists and reads the photos, splits off the held-out ones (every Nth by name, the same on every
machine), centre-crops them for evaluation, and draws training batches with the LIIF paper's
recipe: a random HR patch of side round(patch * s), s ~ U(scale_min, scale_max), flips and a
transpose, its patch x patch LR counterpart by PIL bicubic (optionally degraded like an old
compressed photo: blur, noise, JPEG), and ``queries`` random HR pixels as targets. Inputs and
targets are normalised as (x - 0.5) / 0.5. Every random choice comes from one numpy generator,
so a run's batches are reproducible and resume exactly.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import torch
import torch.utils.data
from PIL import Image, ImageFilter, ImageOps

from zoomqa.errors import ZoomqaError
from zoomqa.tools.images import OUTPUT_FORMATS
from zoomqa.tools.liif_model import make_coord

# Files a data folder may hold: the extensions the upscaler reads and writes.
IMAGE_SUFFIXES = frozenset(OUTPUT_FORMATS)


class BatchRecipe(Protocol):
    """What :func:`sample_batch` reads of a training configuration."""

    patch: int
    batch: int
    queries: int
    scale_min: float
    scale_max: float
    degradation: bool


def list_images(folder: Path) -> list[Path]:
    """The images of a folder, sorted by name."""
    if not folder.is_dir():
        raise ZoomqaError(f"training data folder not found: {folder}")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise ZoomqaError(f"no images ({', '.join(sorted(IMAGE_SUFFIXES))}) in {folder}")
    return files


def split_holdout(files: list[Path], every: int) -> tuple[list[Path], list[Path]]:
    """(train, held-out): every Nth file of the sorted list is held out, the same on every machine."""
    held = files[::every]
    return [f for i, f in enumerate(files) if i % every], held


def read_rgb(path: Path) -> np.ndarray:
    """(h, w, 3) uint8 RGB in display orientation."""
    with Image.open(path) as image:
        return np.asarray(ImageOps.exif_transpose(image).convert("RGB"))


def centre_crop(image: np.ndarray, side: int) -> np.ndarray:
    top, left = max((image.shape[0] - side) // 2, 0), max((image.shape[1] - side) // 2, 0)
    return image[top : top + side, left : left + side]


def degrade(lr: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Mild blur, sensor-like noise and JPEG at a random quality, each with some probability."""
    if rng.random() < 0.5:
        lr = lr.filter(ImageFilter.GaussianBlur(radius=float(rng.uniform(0.2, 1.0))))
    if rng.random() < 0.5:
        noisy = np.asarray(lr, dtype=np.float32) + rng.normal(0, rng.uniform(1, 6), (lr.height, lr.width, 3))
        lr = Image.fromarray(np.clip(noisy + 0.5, 0, 255).astype(np.uint8))
    if rng.random() < 0.8:
        buffer = io.BytesIO()
        lr.save(buffer, format="JPEG", quality=int(rng.integers(30, 96)))
        buffer.seek(0)
        lr = Image.open(buffer).convert("RGB")
    return lr


@dataclass
class Batch:
    inp: torch.Tensor  # (B, 3, p, p), normalised
    coord: torch.Tensor  # (B, Q, 2)
    cell: torch.Tensor  # (B, Q, 2)
    target: torch.Tensor  # (B, Q, 3), normalised

    def pin_memory(self) -> Batch:
        """The same batch in page-locked memory (DataLoader's ``pin_memory`` calls this)."""
        return Batch(*(t.pin_memory() for t in (self.inp, self.coord, self.cell, self.target)))


def to_unit(image: np.ndarray) -> torch.Tensor:
    """uint8 pixels as float32 in [0, 1], same layout."""
    return torch.from_numpy(np.asarray(image, dtype=np.float32) / 255)


def sample_batch(photos: list[np.ndarray], recipe: BatchRecipe, rng: np.random.Generator) -> Batch:
    """One training batch, drawn only from ``rng`` so that runs are reproducible."""
    inputs, coords, cells, targets = [], [], [], []
    queries = min(recipe.queries, recipe.patch**2)  # every patch has at least patch^2 HR pixels
    for _ in range(recipe.batch):
        photo = photos[int(rng.integers(len(photos)))]
        scale = float(rng.uniform(recipe.scale_min, recipe.scale_max))
        side = min(round(recipe.patch * scale), *photo.shape[:2])
        y, x = int(rng.integers(photo.shape[0] - side + 1)), int(rng.integers(photo.shape[1] - side + 1))
        hr = photo[y : y + side, x : x + side]
        if rng.random() < 0.5:
            hr = hr[:, ::-1]
        if rng.random() < 0.5:
            hr = hr[::-1]
        if rng.random() < 0.5:
            hr = hr.transpose(1, 0, 2)
        hr = np.ascontiguousarray(hr)
        lr = Image.fromarray(hr).resize((recipe.patch, recipe.patch), Image.Resampling.BICUBIC)
        if recipe.degradation:
            lr = degrade(lr, rng)
        picked = torch.from_numpy(rng.choice(side * side, size=queries, replace=False))
        inputs.append(to_unit(np.asarray(lr)).permute(2, 0, 1))
        coords.append(make_coord(side, side)[picked])
        cells.append(torch.tensor([2.0 / side, 2.0 / side]).expand(len(picked), 2))
        targets.append(to_unit(hr).view(-1, 3)[picked])
    return Batch(
        inp=(torch.stack(inputs) - 0.5) / 0.5,
        coord=torch.stack(coords),
        cell=torch.stack(cells),
        target=(torch.stack(targets) - 0.5) / 0.5,
    )


class BatchStream(torch.utils.data.IterableDataset):
    """Endless training batches for a ``DataLoader`` with worker processes (``batch_size=None``).

    Each worker draws from its own generator, seeded by (seed, worker id), so a run with the same
    number of workers sees the same batches (their order between workers aside); the photos are
    shared with the workers, not copied, where processes fork.
    """

    def __init__(self, photos: list[np.ndarray], recipe: BatchRecipe, seed: int = 0) -> None:
        super().__init__()
        self.photos, self.recipe, self.seed = photos, recipe, seed

    def __iter__(self) -> Iterator[Batch]:
        info = torch.utils.data.get_worker_info()
        rng = np.random.default_rng([self.seed, 0 if info is None else info.id])
        while True:
            yield sample_batch(self.photos, self.recipe, rng)

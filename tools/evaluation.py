"""Fidelity of an upscaler under the LIIF paper's protocol, with bicubic beside it.

Protocol: crop the HR image to a multiple of the scale, make the LR input with PIL bicubic,
upscale back, and compare. Benchmark sets (Set5, Set14, B100, Urban100) are scored on the Y
channel with ``shave = scale``; photo sets (DIV2K-like) on RGB with ``shave = scale + 6``.
An optional JPEG step on the LR input shows how a model copes with compressed photos.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from PIL import Image

from zoomqa.tools.engine import Precision, upscale_array
from zoomqa.tools.liif_model import LIIF
from zoomqa.tools.metrics import psnr, ssim
from zoomqa.tools.training_data import centre_crop, list_images, read_rgb, split_holdout

Protocol = Literal["benchmark", "photo"]

# LIIF paper (CVPR 2021), PSNR in dB. Benchmarks: RDN-LIIF, Y channel. DIV2K validation: RGB.
PAPER_BENCHMARK_RDN = {
    "Set5": {2: 38.17, 3: 34.68, 4: 32.50, 6: 29.15, 8: 27.14},
    "Set14": {2: 33.97, 3: 30.53, 4: 28.80, 6: 26.64, 8: 25.15},
    "B100": {2: 32.32, 3: 29.26, 4: 27.74, 6: 25.98, 8: 24.91},
    "Urban100": {2: 32.87, 3: 28.82, 4: 26.68, 6: 24.20, 8: 22.79},
}
PAPER_DIV2K = {
    "bicubic": {2: 31.01, 3: 28.22, 4: 26.66, 6: 24.82, 12: 22.27, 18: 21.00, 24: 20.19, 30: 19.59},
    "edsr-baseline": {2: 34.67, 3: 30.96, 4: 29.00, 6: 26.75, 12: 23.71, 18: 22.17, 24: 21.18, 30: 20.48},
    "rdn": {2: 34.99, 3: 31.26, 4: 29.27, 6: 26.99, 12: 23.89, 18: 22.34, 24: 21.31, 30: 20.59},
}


@dataclass(frozen=True)
class EvalResult:
    dataset: str
    scale: int
    method: str
    psnr: float
    ssim: float
    images: int

    def to_json(self) -> dict:
        data = asdict(self)
        data["psnr"], data["ssim"] = round(self.psnr, 4), round(self.ssim, 5)
        return data


def paper_reference(dataset: str, scale: int, encoder: str, protocol: Protocol) -> tuple[str, float] | None:
    """The paper's number to print beside ours, labelled with what it is, if the paper has one."""
    if protocol == "benchmark" and scale in PAPER_BENCHMARK_RDN.get(dataset, {}):
        return "RDN-LIIF", PAPER_BENCHMARK_RDN[dataset][scale]
    if protocol == "photo" and scale in PAPER_DIV2K[encoder]:
        return f"{encoder}-LIIF on DIV2K", PAPER_DIV2K[encoder][scale]
    return None


def load_dataset(
    folder: Path, *, holdout_every: int | None = None, crop: int | None = None, limit: int | None = None
) -> list[np.ndarray]:
    """HR images of a folder; ``holdout_every`` keeps only training's held-out photos."""
    files = list_images(folder)
    if holdout_every:
        files = split_holdout(files, holdout_every)[1]
    images = [read_rgb(f) for f in files[:limit]]
    return [centre_crop(image, crop) for image in images] if crop else images


def make_lr(hr: np.ndarray, scale: int, jpeg_quality: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(HR cropped to a multiple of the scale, its bicubic LR), the LR optionally JPEG-compressed."""
    height, width = hr.shape[0] - hr.shape[0] % scale, hr.shape[1] - hr.shape[1] % scale
    hr = hr[:height, :width]
    lr = Image.fromarray(hr).resize((width // scale, height // scale), Image.Resampling.BICUBIC)
    if jpeg_quality is not None:
        buffer = io.BytesIO()
        lr.save(buffer, format="JPEG", quality=jpeg_quality)
        buffer.seek(0)
        lr = Image.open(buffer).convert("RGB")
    return hr, np.asarray(lr)


def bicubic_upscale(lr: np.ndarray, height: int, width: int) -> np.ndarray:
    """PIL bicubic enlargement as float in [0, 1] (the baseline every table shows)."""
    channels = [
        np.asarray(Image.fromarray(lr[..., c]).convert("F").resize((width, height), Image.Resampling.BICUBIC))
        for c in range(3)
    ]
    return np.stack(channels, axis=-1) / 255.0


def evaluate(
    model: LIIF,
    method: str,
    datasets: dict[str, list[np.ndarray]],
    scales: Iterable[int],
    *,
    protocol: Protocol,
    precision: Precision = "exact",
    device: str = "cpu",
    jpeg_quality: int | None = None,
    on_image: Callable[[], None] | None = None,
) -> list[EvalResult]:
    """Bicubic and ``model`` on every dataset at every scale, averaged over images."""
    benchmark = protocol == "benchmark"
    results = []
    for name, images in datasets.items():
        for scale in scales:
            shave = scale if benchmark else scale + 6
            scores: dict[str, list[tuple[float, float]]] = {"bicubic": [], method: []}
            for image in images:
                hr, lr = make_lr(image, scale, jpeg_quality)
                target = hr / 255.0
                height, width = hr.shape[:2]
                predictions = {
                    "bicubic": bicubic_upscale(lr, height, width),
                    method: upscale_array(
                        model, lr, (height, width), precision=precision, device=device, out_dtype=np.float32
                    ),
                }
                for key, pred in predictions.items():
                    scores[key].append(
                        (
                            psnr(pred, target, shave=shave, y_channel=benchmark),
                            ssim(pred, target, shave=shave, y_channel=benchmark),
                        )
                    )
                if on_image:
                    on_image()
            for key, values in scores.items():
                mean_psnr, mean_ssim = np.mean(values, axis=0)
                results.append(EvalResult(name, scale, key, float(mean_psnr), float(mean_ssim), len(images)))
    return results

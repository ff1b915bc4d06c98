"""Image fidelity metrics with the super-resolution literature's conventions made explicit.

Both metrics take float arrays in [0, 1] shaped (H, W, 3) and say exactly what they compare:
``shave`` pixels are cut from every border, and ``y_channel`` compares the ITU-R BT.601 luma
that benchmark tables (Set5, Set14, B100) report instead of RGB.
"""

from __future__ import annotations

import numpy as np

# ITU-R BT.601 luma of RGB in [0, 1], on the [0, 1] scale: Y = 16/255 + RGB @ weights.
_Y_WEIGHTS = np.array([65.738, 129.057, 25.064], dtype=np.float64) / 256.0
_Y_OFFSET = 16.0 / 255.0  # cancels in PSNR; SSIM's luminance term depends on it


def _prepare(
    pred: np.ndarray, target: np.ndarray, shave: int, y_channel: bool
) -> tuple[np.ndarray, np.ndarray]:
    if pred.shape != target.shape:
        raise ValueError(f"shape mismatch: prediction {pred.shape} vs target {target.shape}")
    if pred.ndim != 3 or pred.shape[2] != 3:
        raise ValueError(f"expected (H, W, 3) arrays, got {pred.shape}")
    if shave < 0 or 2 * shave >= min(pred.shape[:2]):
        raise ValueError(f"shave {shave} leaves nothing of a {pred.shape[1]}x{pred.shape[0]} image")
    crop = (slice(shave, pred.shape[0] - shave), slice(shave, pred.shape[1] - shave))
    a = np.clip(pred.astype(np.float64), 0.0, 1.0)[crop]
    b = target.astype(np.float64)[crop]
    if y_channel:
        return a @ _Y_WEIGHTS + _Y_OFFSET, b @ _Y_WEIGHTS + _Y_OFFSET
    return a, b


def psnr(pred: np.ndarray, target: np.ndarray, *, shave: int, y_channel: bool) -> float:
    """Peak signal-to-noise ratio in dB (peak 1.0); the prediction is clamped, not rounded."""
    a, b = _prepare(pred, target, shave, y_channel)
    mse = float(np.mean((a - b) ** 2))
    return float("inf") if mse == 0 else -10.0 * np.log10(mse)


def _gaussian_window(size: int = 11, sigma: float = 1.5) -> np.ndarray:
    x = np.arange(size) - (size - 1) / 2
    g = np.exp(-(x**2) / (2 * sigma**2))
    return g / g.sum()


def _filter(image: np.ndarray, window: np.ndarray) -> np.ndarray:
    """Separable 'valid' Gaussian filtering along both axes of a 2-D array."""
    from numpy.lib.stride_tricks import sliding_window_view

    rows = sliding_window_view(image, window.size, axis=0) @ window
    return sliding_window_view(rows, window.size, axis=1) @ window


def ssim(pred: np.ndarray, target: np.ndarray, *, shave: int, y_channel: bool) -> float:
    """Structural similarity (Wang et al. 2004: 11x11 Gaussian window, sigma 1.5, K1=0.01, K2=0.03).

    On RGB the score is the mean over channels.
    """
    a, b = _prepare(pred, target, shave, y_channel)
    if a.ndim == 2:
        a, b = a[..., None], b[..., None]
    window = _gaussian_window()
    c1, c2 = 0.01**2, 0.03**2
    scores = []
    for channel in range(a.shape[2]):
        x, y = a[..., channel], b[..., channel]
        mu_x, mu_y = _filter(x, window), _filter(y, window)
        var_x = _filter(x * x, window) - mu_x**2
        var_y = _filter(y * y, window) - mu_y**2
        cov = _filter(x * y, window) - mu_x * mu_y
        ssim_map = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / (
            (mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2)
        )
        scores.append(ssim_map.mean())
    return float(np.mean(scores))

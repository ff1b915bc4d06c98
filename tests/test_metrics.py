"""PSNR and SSIM follow the stated conventions (shave, Y channel, clamping)."""

from __future__ import annotations

import numpy as np
import pytest

from zoomqa.tools.metrics import psnr, ssim


def test_psnr_of_a_known_error() -> None:
    target = np.full((20, 20, 3), 0.5)
    pred = target + 0.01
    assert psnr(pred, target, shave=0, y_channel=False) == pytest.approx(40.0)
    # On luma the error is 0.01 * sum(weights) = 0.01 * 219.859 / 256.
    expected = -10 * np.log10((0.01 * 219.859 / 256) ** 2)
    assert psnr(pred, target, shave=0, y_channel=True) == pytest.approx(expected)


def test_shave_ignores_borders_and_prediction_is_clamped() -> None:
    target = np.full((20, 20, 3), 0.5)
    pred = target.copy()
    pred[:2] = 0.0  # wrong only in the top 2 rows
    assert psnr(pred, target, shave=2, y_channel=True) == float("inf")
    assert psnr(pred, target, shave=1, y_channel=True) < 40
    over = np.full((20, 20, 3), 1.7)
    assert psnr(over, np.ones((20, 20, 3)), shave=0, y_channel=False) == float("inf")


def test_ssim_is_one_for_identical_images_and_drops_with_noise() -> None:
    rng = np.random.default_rng(0)
    image = rng.random((48, 40, 3))
    assert ssim(image, image, shave=4, y_channel=True) == pytest.approx(1.0)
    slightly = np.clip(image + rng.normal(0, 0.02, image.shape), 0, 1)
    badly = np.clip(image + rng.normal(0, 0.2, image.shape), 0, 1)
    a = ssim(slightly, image, shave=4, y_channel=False)
    b = ssim(badly, image, shave=4, y_channel=False)
    assert 1.0 > a > b > 0.0
    assert ssim(image, slightly, shave=4, y_channel=False) == pytest.approx(a)


def test_mismatched_shapes_and_excessive_shave_are_refused() -> None:
    with pytest.raises(ValueError, match="shape mismatch"):
        psnr(np.zeros((4, 4, 3)), np.zeros((4, 5, 3)), shave=0, y_channel=False)
    with pytest.raises(ValueError, match="leaves nothing"):
        ssim(np.zeros((8, 8, 3)), np.zeros((8, 8, 3)), shave=4, y_channel=False)

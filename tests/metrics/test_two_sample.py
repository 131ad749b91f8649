"""Classifier two-sample tests against independent computations, and on cases whose answer is known."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import minimize

from dynamiccity.metrics.two_sample import (
    classifier_two_sample,
    logistic_regression,
    scene_statistics,
    wilson_interval,
)


def test_logistic_regression_reaches_the_penalised_optimum():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 5))
    y = (x[:, 0] + 0.5 * rng.normal(size=60) > 0).astype(float)
    w = logistic_regression(x, y, l2=2.0)

    def loss(v):
        z = np.concatenate([x, np.ones((60, 1))], axis=1) @ v
        return np.mean(np.logaddexp(0, z) - y * z) + 2.0 / (2 * 60) * np.sum(v[:-1] ** 2)

    best = minimize(loss, np.zeros(6), method="BFGS", options={"gtol": 1e-10})
    np.testing.assert_allclose(w, best.x, atol=1e-5)


def test_wilson_interval_is_the_textbook_one():
    # 45 of 60 at 95%: p = 0.75, z = 1.959964
    z, n, p = 1.959963984540054, 60, 0.75
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    assert wilson_interval(45, 60) == pytest.approx((centre - half, centre + half), abs=1e-12)


def test_two_samples_of_one_distribution_cannot_be_told_apart():
    rng = np.random.default_rng(1)
    result = classifier_two_sample(rng.normal(size=(200, 8)), rng.normal(size=(200, 8)))
    assert result["low"] < 0.5 < result["high"]
    assert result["p_value"] > 0.05 and result["windows"] == 200


def test_separated_samples_are_told_apart_every_time():
    rng = np.random.default_rng(2)
    real, fake = rng.normal(size=(100, 8)), rng.normal(size=(80, 8)) + 3.0
    result = classifier_two_sample(real, fake)
    assert result["accuracy"] == 1.0 and result["windows"] == 80
    assert result["p_value"] < 1e-40


def test_windows_of_one_scene_stay_in_one_half():
    """Two sets of scenes from one distribution, two near-copies of a window per scene: dealt by window, the
    classifier recognises scenes it saw; dealt by scene, it is at chance."""
    rng = np.random.default_rng(3)
    scenes = [
        np.repeat(rng.normal(size=(30, 64)), 2, axis=0) + 0.01 * rng.normal(size=(60, 64)) for _ in "rf"
    ]
    ids = np.repeat(np.arange(30), 2)
    assert classifier_two_sample(*scenes)["accuracy"] > 0.7
    grouped = classifier_two_sample(*scenes, groups=(ids, ids))
    assert grouped["low"] < 0.5 < grouped["high"] and grouped["windows"] == 60


def test_too_few_windows_are_refused():
    with pytest.raises(ValueError, match="at least 2 windows a side, got 1 and 10"):
        classifier_two_sample(np.zeros((1, 2)), np.zeros((10, 2)))


def test_scene_statistics_of_a_constructed_window():
    window = np.zeros((2, 4, 4, 2), np.uint8)
    window[0, :, :, 0] = 1  # a ground layer in frame 0 ...
    window[1, :, :, 0] = 1
    window[1, 0, 0, 0] = 2  # ... where one voxel turns to class 2 in frame 1
    window[:, 1, 1, 1] = 3  # a one-voxel pole top, in both frames
    stats = scene_statistics(window[None], num_classes=4)[0]
    size = window.size
    np.testing.assert_allclose(stats[:4], [(64 - 34) / size, 31 / size, 1 / size, 2 / size])
    np.testing.assert_allclose(stats[4:8], [stats[4], 0.0, 0.0, 1.0])  # mean heights of 1, 2, 3
    np.testing.assert_allclose(stats[9], 1 / 16)  # of class 1 in frame 0, one voxel changes
    assert stats[10] == 0.0 and stats[11] == 0.0  # class 2 has no next frame; the pole stays
    # class 1's neighbours: frame 0 all 16 keep four class-1 neighbours; frame 1 the 4 next to (0, 0) do not
    np.testing.assert_allclose(stats[13], (16 + 15 - 4) / 31)
    assert stats[15] == 0.0  # a single voxel has no neighbour of its class
    np.testing.assert_allclose(stats[16:], [1.0, 1 / 16])  # occupied share of each height

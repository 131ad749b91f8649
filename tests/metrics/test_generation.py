"""Generation metrics against independent numpy/scipy computations on random features."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
import torch
from scipy.stats import chi2
from scipy.stats import f as f_dist

from dynamiccity.metrics.generation import (
    frechet_distance,
    gaussian_precision_recall,
    inception_score,
    kernel_distance,
    kernel_distance_subsets,
    knn_precision_recall,
    prediction_threshold,
)


def _features(seed: int, n: int, d: int, shift: float = 0.0) -> np.ndarray:
    """n samples of one correlated Gaussian in d dimensions (the same for every seed), shifted by `shift`."""
    mix = np.random.default_rng(d).normal(size=(d, d)) / np.sqrt(d)
    return np.random.default_rng(seed).normal(size=(n, d)) @ mix + shift


def _t(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(a)


@pytest.mark.parametrize(
    ("m", "n", "d", "shift"), [(200, 150, 8, 0.0), (300, 300, 16, 0.5), (64, 40, 4, 2.0)]
)
def test_frechet_distance_against_scipy(m, n, d, shift):
    x, y = _features(0, m, d), _features(1, n, d, shift)
    mu_x, mu_y = x.mean(0), y.mean(0)
    s_x, s_y = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
    root = scipy.linalg.sqrtm(s_x @ s_y).real
    expected = np.sum((mu_x - mu_y) ** 2) + np.trace(s_x + s_y - 2 * root)
    assert frechet_distance(_t(x), _t(y)) == pytest.approx(expected, rel=1e-6, abs=1e-8)


@pytest.mark.parametrize(("n", "d"), [(100, 6), (6, 32)])  # the second: singular covariances
def test_frechet_distance_of_a_set_to_itself_is_zero(n, d):
    x = _t(_features(0, n, d))
    # square roots of eigenvalues near zero carry their rounding up to ~1e-6 (the trace is ~d)
    assert abs(frechet_distance(x, x)) < 1e-5


def test_frechet_distance_with_fewer_samples_than_dimensions_against_scipy():
    x, y = _features(0, 10, 24), _features(1, 12, 24, 0.3)
    s_x, s_y = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
    root_x = scipy.linalg.sqrtm(s_x).real
    cross = np.sqrt(np.clip(np.linalg.eigvalsh(root_x @ s_y @ root_x), 0, None)).sum()
    expected = np.sum((x.mean(0) - y.mean(0)) ** 2) + np.trace(s_x) + np.trace(s_y) - 2 * cross
    assert frechet_distance(_t(x), _t(y)) == pytest.approx(expected, rel=1e-4)  # zero eigenvalues, as above


@pytest.mark.parametrize(("m", "n", "d"), [(30, 20, 5), (25, 25, 12), (10, 40, 3)])
def test_kernel_distance_is_equation_9_with_loops(m, n, d):
    x, y = _features(2, m, d), _features(3, n, d, 0.3)

    def k(a, b):
        return (a @ b / d + 1.0) ** 3

    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(k(y[i], y[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(n)) / (m * n)
    assert kernel_distance(_t(x), _t(y)) == pytest.approx(xx + yy - 2 * xy, rel=1e-9, abs=1e-12)


def test_kernel_distance_separates_distributions():
    same = kernel_distance(_t(_features(4, 200, 8)), _t(_features(5, 200, 8)))
    apart = kernel_distance(_t(_features(4, 200, 8)), _t(_features(5, 200, 8, 1.0)))
    assert abs(same) < 0.05 * apart
    mean, std = kernel_distance_subsets(_t(_features(4, 200, 8)), _t(_features(5, 200, 8, 1.0)), 20, 50)
    assert mean == pytest.approx(apart, rel=0.3) and std > 0


def test_inception_score_against_numpy():
    rng = np.random.default_rng(6)
    logits = rng.normal(size=(50, 7)) * 3
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    marginal = p.mean(0)
    expected = np.exp(np.mean(np.sum(p * (np.log(p) - np.log(marginal)), axis=1)))
    assert inception_score(_t(logits)) == pytest.approx(expected, rel=1e-9)
    assert inception_score(_t(np.zeros((10, 7)))) == pytest.approx(1.0)
    assert inception_score(_t(np.eye(7) * 50)) == pytest.approx(7.0, rel=1e-6)


def _inside_numpy(points: np.ndarray, ref: np.ndarray, quantile: float = 0.95) -> float:
    """Share of `points` in the prediction region of the Gaussian fitted to `ref` (independent of torch)."""
    m, d = ref.shape
    mu, cov = ref.mean(0), np.cov(ref, rowvar=False).reshape(d, d)
    diff = points - mu
    distance = np.einsum("ij,jk,ik->i", diff, np.linalg.inv(cov), diff)
    return float(np.mean(distance <= d * (m + 1) * (m - 1) / (m * (m - d)) * f_dist.ppf(quantile, d, m - d)))


def test_gaussian_precision_recall_against_numpy():
    x, y = _features(7, 400, 5), _features(8, 300, 5, 0.8)
    p, r = gaussian_precision_recall(_t(x), _t(y))  # 5 <= 300 // 4 dims: all of them, no projection
    assert (p, r) == (pytest.approx(_inside_numpy(y, x)), pytest.approx(_inside_numpy(x, y)))
    assert p < 0.9 and r < 0.9

    x, y = _features(1, 120, 40), _features(2, 100, 40, 0.3)  # 100 // 4 = 25 principal axes
    both = np.concatenate([x, y])
    axes = np.linalg.svd(both - both.mean(0), full_matrices=False)[2][:25].T
    px, py = (x - both.mean(0)) @ axes, (y - both.mean(0)) @ axes
    p, r = gaussian_precision_recall(_t(x), _t(y))
    assert (p, r) == (pytest.approx(_inside_numpy(py, px)), pytest.approx(_inside_numpy(px, py)))


@pytest.mark.parametrize(("n", "d"), [(2000, 5), (128, 256)])  # the second: fewer samples than features
def test_gaussian_precision_recall_is_calibrated(n, d):
    """Two sets from one distribution score about the quantile, also with fewer samples than features
    (where the paper's chi^2 region on the raw features puts nothing inside)."""
    p, r = gaussian_precision_recall(_t(_features(9, n, d)), _t(_features(10, n, d)))
    assert (p, r) == (pytest.approx(0.95, abs=0.05), pytest.approx(0.95, abs=0.05))
    assert chi2.ppf(0.95, df=5) == pytest.approx(prediction_threshold(0.95, 5, 10**7), rel=1e-4)


def test_knn_precision_recall_against_numpy():
    x, y = _features(11, 60, 3), _features(12, 50, 3, 1.5)

    def covered(points, centres, k=3):
        dist = np.linalg.norm(centres[:, None] - centres[None], axis=2)
        radius = np.sort(dist, axis=1)[:, k]
        to = np.linalg.norm(points[:, None] - centres[None], axis=2)
        return np.mean((to <= radius[None]).any(axis=1))

    assert knn_precision_recall(_t(x), _t(y)) == (pytest.approx(covered(y, x)), pytest.approx(covered(x, y)))
    full = knn_precision_recall(_t(x), _t(x))
    assert full == (1.0, 1.0)


@pytest.mark.parametrize(
    "bad", [np.zeros((1, 4)), np.zeros(5), np.full((3, 2), np.nan), np.zeros((4, 2), dtype=np.int64)]
)
def test_bad_features_are_refused(bad):
    with pytest.raises(ValueError, match="x "):
        frechet_distance(_t(bad), _t(_features(0, 10, 4)))

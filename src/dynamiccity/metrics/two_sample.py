"""Classifier two-sample tests (Lopez-Paz & Oquab, 2017): can a small classifier tell generated windows from
real ones? Accuracy 0.5 says it cannot; 1.0 says every window gives itself away.

A logistic regression (L2-penalised, fitted by Newton's method) learns real against generated on one half of
the windows and is scored on the other half (halves dealt by scene, balanced), then the halves swap; the accuracy counts every held-out
prediction, with its 95% Wilson interval and the one-sided binomial p-value against chance. It runs on any
features: the evaluator's, or `scene_statistics`, which need no trained network and so cannot be blind to
what an evaluator never learned to see."""

from __future__ import annotations

import numpy as np
from scipy.stats import binomtest, norm


def scene_statistics(labels: np.ndarray, num_classes: int) -> np.ndarray:
    """Simple statistics of windows (N, T, X, Y, Z) -> (N, 4K + Z) float64, per window: each class's share
    of the voxels; its mean height (z index over Z - 1; 0 where absent); the share of its voxels that change
    class in the next frame; the share of its voxels whose four x and y neighbours in the frame (wrapping at
    the grid's edge) are of the class too (thin walls and poles score low, blobs high); and the occupied share of each height."""
    seq = np.asarray(labels)
    if seq.ndim != 5:
        raise ValueError(f"labels must be (N, T, X, Y, Z), got shape {seq.shape}.")
    n, _, _, _, z = seq.shape
    out = np.zeros((n, 4 * num_classes + z))
    height = np.arange(z) / max(z - 1, 1)
    for i, window in enumerate(seq):
        same = np.ones(window.shape, bool)
        for axis in (1, 2):  # x, y inside each frame
            for step in (1, -1):
                same &= window == np.roll(window, step, axis=axis)
        changes = np.zeros(window.shape, bool)
        changes[:-1] = window[:-1] != window[1:]
        for k in range(num_classes):
            mask = window == k
            count = mask.sum()
            out[i, k] = count / window.size
            if count:
                out[i, num_classes + k] = (mask * height).sum() / count
                before = mask[:-1].sum()
                out[i, 2 * num_classes + k] = (mask & changes)[:-1].sum() / before if before else 0.0
                out[i, 3 * num_classes + k] = (mask & same).sum() / count
        out[i, 4 * num_classes :] = (window != 0).mean(axis=(0, 1, 2))
    return out


def logistic_regression(x: np.ndarray, y: np.ndarray, l2: float = 1.0, iterations: int = 50) -> np.ndarray:
    """Weights (D + 1,) (the bias last, not penalised) minimising the mean logistic loss of labels y (N,) in
    {0, 1} on rows x (N, D) plus l2 / (2N) |w|^2, by Newton's method."""
    a = np.concatenate([x, np.ones((len(x), 1))], axis=1)
    w = np.zeros(a.shape[1])
    penalty = np.full(a.shape[1], l2 / len(x))
    penalty[-1] = 0.0
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-(a @ w)))
        grad = a.T @ (p - y) / len(x) + penalty * w
        hess = (a.T * (p * (1 - p))) @ a / len(x) + np.diag(penalty) + 1e-10 * np.eye(len(w))
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-10:
            break
    return w


def wilson_interval(successes: int, trials: int, level: float = 0.95) -> tuple[float, float]:
    """The Wilson score interval of a binomial proportion."""
    zq = norm.ppf(0.5 + level / 2)
    p = successes / trials
    centre = (p + zq**2 / (2 * trials)) / (1 + zq**2 / trials)
    half = zq * np.sqrt(p * (1 - p) / trials + zq**2 / (4 * trials**2)) / (1 + zq**2 / trials)
    return float(centre - half), float(centre + half)


def classifier_two_sample(
    real: np.ndarray,
    fake: np.ndarray,
    seed: int = 0,
    l2: float = 1.0,
    groups: tuple[np.ndarray, np.ndarray] | None = None,
) -> dict:
    """Classifier two-sample test of rows `real` (m, D) against `fake` (n, D): {"accuracy", "low", "high"
    (95% Wilson interval), "p_value" (one-sided, against 0.5), "windows" (scored rows per side)}.

    The rows are dealt into two halves, standardised on the fitting half; each half is scored by the
    classifier fitted on the other, with as many real as fake rows in each (drawn with `seed`). `groups`
    (one id per row of each side) keeps rows of one group in one half: windows of one scene share the
    scene, and a classifier that saw a scene's other window would be scored on recognising the scene."""
    real, fake = np.asarray(real, np.float64), np.asarray(fake, np.float64)
    if min(len(real), len(fake)) < 2:
        raise ValueError(
            f"a two-sample test needs at least 2 windows a side, got {len(real)} and {len(fake)}."
        )
    rng = np.random.default_rng(seed)
    ids = (np.arange(len(real)), np.arange(len(fake))) if groups is None else groups
    halves = [_halves(rows, ids[i], rng) for i, rows in enumerate((real, fake))]
    right = total = 0
    for fit, test in ((0, 1), (1, 0)):
        fit_x, fit_y = _balanced(halves[0][fit], halves[1][fit], rng)
        test_x, test_y = _balanced(halves[0][test], halves[1][test], rng)
        mean, std = fit_x.mean(0), fit_x.std(0)
        std[std == 0] = 1.0
        w = logistic_regression((fit_x - mean) / std, fit_y, l2)
        guess = np.concatenate([(test_x - mean) / std, np.ones((len(test_x), 1))], axis=1) @ w > 0
        right += int((guess == (test_y == 1)).sum())
        total += len(test_y)
    low, high = wilson_interval(right, total)
    return {
        "accuracy": right / total,
        "low": low,
        "high": high,
        "p_value": float(binomtest(right, total, 0.5, alternative="greater").pvalue),
        "windows": total // 2,
    }


def _halves(rows: np.ndarray, ids: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """`rows` dealt into two halves by group: the groups shuffled, then alternately to each half."""
    order = rng.permutation(np.unique(ids))
    half = np.isin(ids, order[1::2])
    return rows[~half], rows[half]


def _balanced(real: np.ndarray, fake: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """As many real rows as fake ones (a random subset of the larger side), stacked, and their labels (1:
    real)."""
    size = min(len(real), len(fake))
    if size == 0:
        raise ValueError("a two-sample test needs windows of both sides in each half (more groups).")
    real, fake = real[rng.permutation(len(real))[:size]], fake[rng.permutation(len(fake))[:size]]
    return np.concatenate([real, fake]), np.repeat([1.0, 0.0], size)

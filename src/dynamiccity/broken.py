"""Deliberately broken generators: copies of real windows that are wrong in one known way. They are the
reference points of the generation metrics (`dynamiccity eval-gen --references` or `--break`): a metric that
cannot tell them from real data is wrong. Only numpy here, so a command line lists them without torch."""

from __future__ import annotations

import numpy as np

BROKEN = ("time_shuffled", "classes_permuted", "frames_mixed")
"""Frames in random order; class ids permuted (free stays free); every frame from another window."""


def broken(labels: np.ndarray, kind: str, seed: int = 0) -> np.ndarray:
    """A deliberately broken copy of windows (N, T, X, Y, Z) (see `BROKEN`)."""
    rng = np.random.default_rng(seed)
    n, t = labels.shape[:2]
    if kind == "time_shuffled":
        return np.stack([w[rng.permutation(t)] for w in labels])
    if kind == "classes_permuted":
        k = int(labels.max()) + 1
        table = np.concatenate([[0], 1 + rng.permutation(k - 1)]).astype(np.uint8)  # free stays free
        return table[labels]
    if kind == "frames_mixed":
        return np.stack([np.stack([labels[(i + 1 + f) % n, f] for f in range(t)]) for i in range(n)])
    raise ValueError(f"unknown broken generator {kind!r}; choose one of {', '.join(BROKEN)}.")

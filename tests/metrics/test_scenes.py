"""Statistics of scene sets: the drift of a long scene's windows from real ones."""

from __future__ import annotations

import numpy as np
import pytest

from dynamiccity.metrics.scenes import HistogramDrift


def _window(*classes: int) -> np.ndarray:
    """A one-frame window of 2 x 2 x 1 voxels holding `classes`."""
    return np.array(classes).reshape(1, 2, 2, 1)


def test_drift_counts_each_window_in_real_windows_spread_by_hand():
    cars, mixed = _window(1, 1, 1, 1), _window(1, 1, 2, 2)  # histograms [0, 1, 0] and [0, .5, .5]
    drift = HistogramDrift.fit(np.stack([cars, mixed]), np.stack([mixed, cars]), 3)
    np.testing.assert_allclose(drift.mean, [0, 0.75, 0.25])
    assert drift.real_distance == pytest.approx(0.25)  # each real window lies 0.25 from the mean
    scene = np.concatenate([_window(1, 1, 1, 2), _window(0, 0, 0, 0), cars])  # the mean, emptied, a real one
    np.testing.assert_allclose(drift.ratios(scene, 1), [0.0, 4.0, 1.0])  # emptied: distance 1 = 4 x 0.25
    report = drift.report(scene, 1)
    assert report["worst"] == 4.0 and not report["within_limit"] and report["limit"] == 2.0
    assert drift.report(scene[[0, 2]], 1)["within_limit"]
    assert drift.ratios(np.concatenate([scene, scene[:1]]), 2) == pytest.approx(
        [2.0, 0.5]
    )  # whole windows only
    with pytest.raises(ValueError, match="must be \\(T >= 4, X, Y, Z\\)"):
        drift.ratios(scene, 4)

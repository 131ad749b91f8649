"""Forecasting baselines and per-frame scores."""

from __future__ import annotations

import numpy as np
import pytest

from dynamiccity.metrics.forecast import PerFrameScores, copy_last, ego_copy_last, observed_kept, voted

EXTENT = (-8.0, -8.0, -1.0, 8.0, 8.0, 1.0)  # 16 x 16 x 2 voxels of 1 m


def pose(x: float, y: float, yaw: float = 0.0) -> np.ndarray:
    c, s = np.cos(yaw), np.sin(yaw)
    out = np.eye(4)
    out[:2, :2] = [[c, -s], [s, c]]
    out[:2, 3] = x, y
    return out


def test_copy_last_repeats_the_last_frame():
    past = np.random.default_rng(0).integers(0, 5, (3, 4, 4, 2)).astype(np.uint8)
    out = copy_last(past, 2)
    assert out.shape == (2, 4, 4, 2) and (out == past[-1]).all()


def test_ego_copy_last_moves_the_static_world_with_the_ego():
    last = np.zeros((16, 16, 2), np.uint8)
    last[10, 3, 0] = 7  # a pole 2.5 m ahead and 4.5 m right of the ego
    out = ego_copy_last(
        last, pose(5.0, 0.0), np.stack([pose(5.0, 0.0), pose(7.0, 0.0), pose(5.0, 0.0, np.pi / 2)]), EXTENT
    )
    assert out[0, 10, 3, 0] == 7 and out[0].sum() == 7  # no motion: unchanged
    assert out[1, 8, 3, 0] == 7 and out[1].sum() == 7  # 2 m further on: the pole is 2 voxels nearer
    # turned left by 90 degrees: ahead (+x) becomes right (-y), right (-y) becomes behind (-x)
    assert out[2, 3, 5, 0] == 7 and out[2].sum() == 7
    with pytest.raises(ValueError, match="finite poses"):
        ego_copy_last(last, np.full((4, 4), np.nan), np.stack([pose(0, 0)]), EXTENT)


def test_observed_kept_fills_only_what_the_last_frame_did_not_see():
    last = np.random.default_rng(1).integers(1, 5, (16, 16, 2)).astype(np.uint8)
    forecast = np.full((2, 16, 16, 2), 9, np.uint8)
    out = observed_kept(forecast, last, pose(0.0, 0.0), np.stack([pose(0.0, 0.0), pose(3.0, 0.0)]), EXTENT)
    assert (out[0] == last).all()  # standing still: everything was seen
    assert (out[1, :13] == last[3:]).all()  # 3 m on: what was ahead comes 3 voxels nearer
    assert (out[1, 13:] == 9).all()  # the 3 voxels that came into view are the forecast's
    with pytest.raises(ValueError, match=r"\(F, X, Y, Z\)"):
        observed_kept(forecast[:1], last, pose(0, 0), np.stack([pose(0, 0), pose(1, 0)]), EXTENT)


def test_per_frame_scores_score_each_future_frame_apart():
    truth = np.zeros((2, 4, 4, 1), np.uint8)
    truth[:, :2] = 3
    guess = truth.copy()
    guess[1] = 0  # the second frame is empty
    scores = PerFrameScores(2, 5)
    scores.update(guess, truth)
    result = scores.compute()
    assert result["miou"] == [1.0, 0.0] and result["iou"] == [1.0, 0.0]


def test_voted_takes_the_class_most_forecasts_agree_on_and_ties_to_the_lowest_id():
    drawn = np.zeros((3, 1, 1, 4, 1), dtype=np.uint8)
    drawn[:, 0, 0, :, 0] = [[5, 5, 3, 0], [5, 7, 7, 9], [2, 7, 8, 9]]
    #                   voxel:  5 twice  7 twice  3/7/8 tie  0/9/9
    np.testing.assert_array_equal(voted(drawn, 12)[0, 0, :, 0], [5, 7, 3, 9])
    assert voted(drawn[:2], 12)[0, 0, 3, 0] == 0  # free and 9 once each: free
    np.testing.assert_array_equal(voted(drawn[:1], 12), drawn[0])
    with pytest.raises(ValueError, match="K >= 1"):
        voted(drawn[:0], 12)

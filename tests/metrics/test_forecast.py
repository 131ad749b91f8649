"""Forecasting baselines and per-frame scores."""

from __future__ import annotations

import numpy as np
import pytest

from dynamiccity.metrics.forecast import (
    PerFrameScores,
    aligned_copy,
    changed_from,
    copy_last,
    ego_copy_last,
    observed_kept,
    voted,
)

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


def test_aligned_copy_reads_each_voxel_from_the_best_aligned_past_frame():
    # kerbs 0.5 m wide every 3 m along x, recorded at the centres of 1 m voxels by an ego moving 0.5 m a frame
    past_x, future_x = np.array([0.5, 1.0, 1.5, 2.0]), 2.5
    past = np.stack([_recorded(x) for x in past_x])
    truth = _recorded(future_x)
    assert truth.any() and not past[-1].any()  # the last frame's voxel centres all fall between the kerbs
    nearest = ego_copy_last(past[-1], pose(2.0, 0.0), np.stack([pose(future_x, 0.0)]), EXTENT)[0]
    aligned, unseen = aligned_copy(past, np.stack([pose(x, 0.0) for x in past_x]),
                                   np.stack([pose(future_x, 0.0)]), EXTENT)  # fmt: skip
    # x = 0.5 and 1.5 are whole voxels behind: their centres are the future's; the last frame is half off
    np.testing.assert_array_equal(aligned[0, :13], truth[:13])
    assert not nearest[:13].any()
    assert not unseen[0, :15].any() and unseen[0, 15].all()  # what lies beyond x = 2.0's view: 0.5 m
    with pytest.raises(ValueError, match="finite poses"):
        aligned_copy(past, np.full((4, 4, 4), np.nan), np.stack([pose(0, 0)]), EXTENT)


def _recorded(x: float) -> np.ndarray:
    """The 16 x 16 x 2 grid of 1 m voxels around an ego at (x, 0): a voxel is kerb (8) where its centre's
    world x lies on one."""
    centres = np.arange(16) - 8 + 0.5 + x
    kerb = np.mod(centres, 3.0) < 0.5
    out = np.zeros((16, 16, 2), np.uint8)
    out[kerb, :, 0] = 8
    return out


def test_observed_kept_fills_only_what_was_not_seen():
    observed = np.random.default_rng(1).integers(1, 5, (2, 16, 16, 2)).astype(np.uint8)
    unseen = np.zeros(observed.shape, bool)
    unseen[1, 13:] = True
    forecast = np.full(observed.shape, 9, np.uint8)
    out = observed_kept(forecast, observed, unseen)
    assert (out[~unseen] == observed[~unseen]).all() and (out[unseen] == 9).all()
    with pytest.raises(ValueError, match=r"\(F, X, Y, Z\)"):
        observed_kept(forecast[:1], observed, unseen)


def test_per_frame_scores_score_each_future_frame_apart():
    truth = np.zeros((2, 4, 4, 1), np.uint8)
    truth[:, :2] = 3
    guess = truth.copy()
    guess[1] = 0  # the second frame is empty
    scores = PerFrameScores(2, 5)
    scores.update(guess, truth)
    result = scores.compute()
    assert result["miou"] == [1.0, 0.0] and result["iou"] == [1.0, 0.0]


def test_per_frame_scores_give_each_class_and_the_changing_voxels():
    truth = np.zeros((2, 4, 4, 1), np.uint8)
    truth[:, :2] = 6  # road in both frames
    truth[1, 3, 3] = 10  # a vehicle comes into view in the second frame
    copied = np.repeat(truth[:1], 2, axis=0)  # the past copied: the road, not the vehicle
    changing = changed_from(copied, truth)
    assert changing.sum() == 1 and changing[1, 3, 3, 0]
    scores = PerFrameScores(2, 12)
    scores.update(copied, truth, changing)
    result = scores.compute()
    assert result["class_iou"]["road"] == [1.0, 1.0]
    assert result["class_iou"]["vehicle"] == [None, 0.0]  # absent from the first frame's truth
    assert "free" not in result["class_iou"]
    assert result["changing_miou"][1] == 0.0  # copying scores nothing where the scene changed
    foreseen = PerFrameScores(2, 12)
    foreseen.update(truth, truth, changing)
    assert foreseen.compute()["changing_miou"][1] == 1.0
    assert "changing_miou" not in PerFrameScores(2, 12).compute()


def test_voted_takes_the_class_most_forecasts_agree_on_and_ties_to_the_lowest_id():
    drawn = np.zeros((3, 1, 1, 4, 1), dtype=np.uint8)
    drawn[:, 0, 0, :, 0] = [[5, 5, 3, 0], [5, 7, 7, 9], [2, 7, 8, 9]]
    #                   voxel:  5 twice  7 twice  3/7/8 tie  0/9/9
    np.testing.assert_array_equal(voted(drawn, 12)[0, 0, :, 0], [5, 7, 3, 9])
    assert voted(drawn[:2], 12)[0, 0, 3, 0] == 0  # free and 9 once each: free
    np.testing.assert_array_equal(voted(drawn[:1], 12), drawn[0])
    with pytest.raises(ValueError, match="K >= 1"):
        voted(drawn[:0], 12)
    # a quorum of 2: free where no class has two votes
    np.testing.assert_array_equal(voted(drawn, 12, quorum=2)[0, 0, :, 0], [5, 7, 0, 9])
    np.testing.assert_array_equal(voted(drawn, 12, quorum=3)[0, 0, :, 0], [0, 0, 0, 0])
    with pytest.raises(ValueError, match=r"a quorum must be 1\.\.3"):
        voted(drawn, 12, quorum=4)

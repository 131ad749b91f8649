"""occupancy_iou against a direct numpy reference, with and without validity masks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dynamiccity.metrics import ConfusionMatrix, GhostCount, changing_voxels, occupancy_iou, temporal_change


def reference(pred: np.ndarray, target: np.ndarray, k: int, valid=None) -> dict:
    if valid is not None:
        pred, target = pred[valid], target[valid]
    per_class = {}
    for c in range(k):
        if (target == c).any():
            inter = np.logical_and(pred == c, target == c).sum()
            union = np.logical_or(pred == c, target == c).sum()
            per_class[c] = inter / union
    scored = [v for c, v in per_class.items() if c != 0]
    occ_inter = np.logical_and(pred != 0, target != 0).sum()
    occ_union = np.logical_or(pred != 0, target != 0).sum()
    return {"miou": np.mean(scored), "iou": occ_inter / occ_union, "per_class": per_class}


@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("seed", [0, 1])
def test_matches_reference(seed, masked):
    rng = np.random.default_rng(seed)
    target = rng.integers(0, 6, size=(2, 3, 8, 8, 4))
    target[target == 5] = 0  # class 5 absent from the target: not scored
    pred = np.where(rng.random(target.shape) < 0.7, target, rng.integers(0, 6, size=target.shape))
    valid = rng.random(target.shape) < 0.6 if masked else None
    ours = occupancy_iou(
        torch.from_numpy(pred),
        torch.from_numpy(target),
        6,
        None if valid is None else torch.from_numpy(valid),
    )
    ref = reference(pred, target, 6, valid)
    assert ours["miou"] == pytest.approx(ref["miou"]) and ours["iou"] == pytest.approx(ref["iou"])
    assert ours["per_class"].keys() == ref["per_class"].keys()
    for c, v in ref["per_class"].items():
        assert ours["per_class"][c] == pytest.approx(v)


def test_accumulates_like_one_call():
    rng = np.random.default_rng(0)
    a, b = (torch.from_numpy(rng.integers(0, 4, size=(2, 50))) for _ in range(2))
    cm = ConfusionMatrix(4)
    cm.update(a[0], b[0])
    cm.update(a[1], b[1])
    assert cm.compute()["miou"] == pytest.approx(occupancy_iou(a, b, 4)["miou"])


def test_rejects_bad_input():
    with pytest.raises(ValueError, match="differ in shape"):
        occupancy_iou(torch.zeros(3), torch.zeros(4), 2)
    with pytest.raises(ValueError, match=r"class ids must lie in \[0, 2\)"):
        occupancy_iou(torch.tensor([0, 2]), torch.tensor([0, 1]), 2)


def test_class_histogram_and_distance():
    from dynamiccity.metrics import class_histogram, histogram_distance

    labels = np.array([[0, 0, 1, 1], [1, 2, 0, 3]])
    np.testing.assert_allclose(class_histogram(labels, 4), [0, 0.6, 0.2, 0.2])
    np.testing.assert_allclose(class_histogram(labels, 4, occupied_only=False), [0.375, 0.375, 0.125, 0.125])
    assert histogram_distance([0, 1, 0], [0, 1, 0]) == 0
    assert histogram_distance([0, 1, 0], [0, 0, 1]) == 1
    assert histogram_distance(class_histogram(labels, 4), [0, 0.5, 0.5, 0]) == pytest.approx(0.3)


def test_temporal_change_counts_changed_occupied_voxels():
    seq = np.zeros((1, 3, 2, 2, 1), dtype=np.uint8)
    seq[0, 0, 0, 0] = 3  # frame 0: one voxel of class 3
    seq[0, 1, 0, 0] = 3  # frame 1: the same voxel, and a new one of class 5
    seq[0, 1, 1, 1] = 5
    seq[0, 2, 0, 0] = 4  # frame 2: the first voxel relabelled, the second gone
    # pairs (0,1): 2 occupied-in-either, 1 changed; (1,2): 2 occupied-in-either, 2 changed
    assert temporal_change(seq) == pytest.approx(3 / 4)
    assert temporal_change(np.repeat(seq[:, :1], 4, axis=1)) == 0.0
    with pytest.raises(ValueError, match="T>=2"):
        temporal_change(seq[:, :1])


def test_precision_and_recall_by_hand():
    target = torch.tensor([0, 0, 1, 1, 1, 2])
    pred = torch.tensor([0, 1, 1, 1, 0, 0])
    cm = ConfusionMatrix(4)
    cm.update(pred, target)
    rates = cm.rates()
    # class 1: predicted 3 times, 2 right; present 3 times, 2 found. class 2: never predicted, 0 of 1 found.
    assert rates["precision"] == pytest.approx({0: 1 / 3, 1: 2 / 3})
    assert rates["recall"] == pytest.approx({0: 1 / 2, 1: 2 / 3, 2: 0.0})


def test_changing_voxels_marks_positions_whose_label_changes_in_any_frame():
    labels = torch.zeros(3, 2, 2, 1, dtype=torch.long)
    labels[:, 0, 0] = 6  # static road
    labels[2, 1, 0] = 10  # a vehicle arrives in the last frame
    labels[0, 1, 1] = 4  # a pedestrian leaves after the first frame
    moving = changing_voxels(labels)
    assert moving.shape == labels.shape
    expected = torch.tensor([[[False], [False]], [[True], [True]]]).expand(3, 2, 2, 1)
    assert torch.equal(moving, expected)
    with pytest.raises(ValueError, match=r"\(T, X, Y, Z\)"):
        changing_voxels(labels[None])


def test_ghosts_are_false_positives_where_the_class_stands_in_another_frame():
    target = torch.zeros(2, 4, 1, 1, dtype=torch.long)
    target[0, 0], target[1, 1] = 10, 10  # a vehicle moves from x=0 to x=1
    pred = target.clone()
    pred[1, 0] = 10  # drawn where it was: a ghost
    pred[0, 3] = 10  # drawn where it never is: a plain false positive
    pred[1, 2] = 4  # a pedestrian from nowhere
    count = GhostCount(12)
    count.update(pred, target)
    assert count.compute() == {
        10: {"false_positives": 2, "ghost_share": 0.5},
        4: {"false_positives": 1, "ghost_share": 0.0},
    }
    count.update(pred, target, valid=torch.zeros_like(target, dtype=torch.bool))  # nothing scored
    assert count.compute()[10]["false_positives"] == 2
    with pytest.raises(ValueError, match="one \\(T, X, Y, Z\\) window"):
        count.update(pred[0], target[0])


@pytest.mark.parametrize(
    ("pred", "target", "message"),
    [
        (torch.tensor([1, -1]), torch.tensor([1, 2]), r"class ids must lie in \[0, 3\), got -1 in pred\."),
        (torch.tensor([1, 2]), torch.tensor([-1, 2]), r"class ids must lie in \[0, 3\), got -1 in target\."),
        (torch.tensor([1, 3]), torch.tensor([1, 2]), r"class ids must lie in \[0, 3\), got 3 in pred\."),
        (
            torch.tensor([1.0, 1.7]),
            torch.tensor([1, 2]),
            r"pred must hold integer class ids, not torch\.float32\.",
        ),
        (
            torch.tensor([1, 2]),
            torch.tensor([True, False]),
            r"target must hold integer class ids, not torch\.bool\.",
        ),
    ],
)
def test_refuses_ids_outside_the_classes_and_non_integers(pred, target, message):
    """A prediction of -1 was once counted silently, as another (target, prediction) pair of the matrix."""
    with pytest.raises(ValueError, match=message):
        occupancy_iou(pred, target, 3)


def test_checks_only_scored_voxels():
    pred, target = torch.tensor([1, -1, 2]), torch.tensor([1, 0, 2])
    result = occupancy_iou(pred, target, 3, valid=torch.tensor([True, False, True]))
    assert result["miou"] == 1.0
    cm = ConfusionMatrix(3)
    cm.update(pred[:0], target[:0])
    assert cm.matrix.sum() == 0

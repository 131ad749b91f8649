"""Class sets: the common 12 classes, and each dataset's own (`classes="native"`, paper Table 1)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from dynamiccity.data import READERS, open_reader
from dynamiccity.data.classes import (
    CARLASC_TO_COMMON,
    COMMON_CLASSES,
    NUSCENES_RAW_NAMES,
    NUSCENES_TO_COMMON,
    WAYMO_RAW_NAMES,
    WAYMO_TO_COMMON,
    ClassSet,
)
from dynamiccity.data.inspect import inspect_dataset
from tests.conftest import write_carlasc, write_nuscenes, write_waymo


def test_nuscenes_native_ids_are_the_datasets_moved_up_one(tmp_path):
    truth = write_nuscenes(tmp_path, {"scene-a": 2, "scene-b": 1})
    reader = open_reader(tmp_path, "occ3d-nuscenes", classes="native")
    scene = reader.scenes()[0]
    labels, _ = reader.read_frames(scene, 0, 2)
    raw = np.stack([truth[(scene.name, t)][0] for t in range(2)])
    np.testing.assert_array_equal(labels, np.where(raw == 17, 0, raw + 1))
    assert reader.classes.num_classes == 18 and reader.classes.names[1:] == NUSCENES_RAW_NAMES[:17]
    # mapped to common ids, the native labels are what the common reader returns
    common, _ = open_reader(tmp_path, "occ3d-nuscenes").read_frames(scene, 0, 2)
    np.testing.assert_array_equal(reader.classes.common(labels), common)
    np.testing.assert_array_equal(common, np.r_[NUSCENES_TO_COMMON][raw])


def test_waymo_native_ids_put_free_first(tmp_path):
    raw = write_waymo(tmp_path, frames=2, free_id=23)
    reader = open_reader(tmp_path, "occ3d-waymo", classes="native")
    labels, _ = reader.read_frames(reader.scenes()[0], 0, 2)
    np.testing.assert_array_equal(labels, np.where(raw == 23, 0, raw + 1))
    assert reader.classes.names == ("free", *WAYMO_RAW_NAMES)
    common, _ = open_reader(tmp_path, "occ3d-waymo").read_frames(reader.scenes()[0], 0, 2)
    np.testing.assert_array_equal(reader.classes.common(labels), common)
    assert WAYMO_TO_COMMON.max() < 12


def test_carlasc_native_set_is_its_eleven_classes(tmp_path):
    write_carlasc(tmp_path, frames=2)
    native = open_reader(tmp_path, "carlasc", classes="native")
    common = open_reader(tmp_path, "carlasc")
    scene = native.scenes()[0]
    np.testing.assert_array_equal(native.read_frames(scene, 0, 2)[0], common.read_frames(scene, 0, 2)[0])
    assert native.classes.num_classes == 11 == CARLASC_TO_COMMON.max() + 1
    assert common.classes is COMMON_CLASSES and native.classes.names == COMMON_CLASSES.names[:11]


def test_synthtown_native_is_common(tmp_path):
    from dynamiccity.synthtown.dataset import synthesize

    synthesize(tmp_path, scenes=1, frames=2, grid=(16, 16, 4), seed=0)
    assert open_reader(tmp_path, "synthtown", classes="native").classes is COMMON_CLASSES


def test_inspect_counts_in_the_chosen_class_set(tmp_path):
    write_nuscenes(tmp_path, {"scene-a": 1, "scene-b": 1})
    stats = inspect_dataset(open_reader(tmp_path, "occ3d-nuscenes", classes="native"))
    assert list(stats.class_counts) == ["free", *NUSCENES_RAW_NAMES[:17]]
    common = inspect_dataset(open_reader(tmp_path, "occ3d-nuscenes"))
    assert sum(stats.class_counts.values()) == sum(common.class_counts.values())
    assert stats.class_counts["free"] == common.class_counts["free"]
    json.dumps(stats.to_json())


def test_colours_follow_the_common_class_in_shades():
    classes = READERS["occ3d-nuscenes"].native_classes
    colours = classes.colormap
    assert colours.shape == (18, 3) and len({tuple(c) for c in colours}) == 18  # car, bus, truck differ
    with pytest.raises(ValueError, match="free first"):
        ClassSet("bad", ("a", "b"), np.array([1, 0], dtype=np.uint8))


def test_an_unknown_class_set_is_refused(tmp_path):
    write_carlasc(tmp_path, frames=1)
    with pytest.raises(ValueError, match="classes must be one of common, native"):
        open_reader(tmp_path, "carlasc", classes="nativ")

"""The common semantic class set (paper Table 6) and the mappings of each dataset into it.

Every label tensor in this package uses these ids once a reader has returned it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

FREE = 0
"""Id of empty space in the common class set."""

CLASS_NAMES: tuple[str, ...] = (
    "free",
    "building",
    "barrier",
    "other",
    "pedestrian",
    "pole",
    "road",
    "ground",
    "sidewalk",
    "vegetation",
    "vehicle",
    "bicycle",
)
NUM_CLASSES = len(CLASS_NAMES)
CLASS_ID: dict[str, int] = {name: i for i, name in enumerate(CLASS_NAMES)}

BUILDING, BARRIER, OTHER, PEDESTRIAN, POLE, ROAD, GROUND, SIDEWALK, VEGETATION, VEHICLE, BICYCLE = range(
    1, 12
)

# RGB colours per common class (uint8), chosen so that neighbouring classes in a street read apart.
COLORMAP = np.array(
    [
        (0, 0, 0),  # free (never drawn)
        (230, 130, 90),  # building
        (255, 200, 40),  # barrier
        (150, 120, 200),  # other
        (220, 20, 60),  # pedestrian
        (250, 250, 120),  # pole
        (90, 90, 100),  # road
        (150, 110, 70),  # ground
        (200, 160, 220),  # sidewalk
        (60, 170, 60),  # vegetation
        (20, 90, 240),  # vehicle
        (0, 220, 230),  # bicycle
    ],
    dtype=np.uint8,
)

# CarlaSC's 23 raw classes -> common ids (DESIGN.md; nothing maps to bicycle).
CARLASC_RAW_NAMES: tuple[str, ...] = (
    "free", "building", "barrier", "other", "pedestrian", "pole", "roadline", "road", "sidewalk",
    "vegetation", "vehicle", "wall", "trafficsign", "sky", "ground", "bridge", "railtrack", "guardrail",
    "trafficlight", "static", "dynamic", "water", "terrain",
)  # fmt: skip
CARLASC_TO_COMMON = np.array(
    [0, 1, 2, 3, 4, 5, 6, 6, 8, 9, 10, 2, 5, 3, 7, 3, 3, 2, 5, 3, 3, 3, 7], dtype=np.uint8
)

# Occ3D-nuScenes: 0..16 nuScenes-lidarseg classes, 17 free.
NUSCENES_RAW_NAMES: tuple[str, ...] = (
    "others", "barrier", "bicycle", "bus", "car", "construction_vehicle", "motorcycle", "pedestrian",
    "traffic_cone", "trailer", "truck", "driveable_surface", "other_flat", "sidewalk", "terrain",
    "manmade", "vegetation", "free",
)  # fmt: skip
NUSCENES_TO_COMMON = np.array(
    [
        OTHER, BARRIER, BICYCLE, VEHICLE, VEHICLE, VEHICLE, BICYCLE, PEDESTRIAN,
        POLE, VEHICLE, VEHICLE, ROAD, GROUND, SIDEWALK, GROUND, BUILDING, VEGETATION, FREE,
    ],
    dtype=np.uint8,
)  # fmt: skip

# Occ3D-Waymo: 15 classes; free is 15 by the documentation but 23 in the dataset's own tools.
WAYMO_RAW_NAMES: tuple[str, ...] = (
    "general_object", "vehicle", "pedestrian", "sign", "cyclist", "traffic_light", "pole",
    "construction_cone", "bicycle", "motorcycle", "building", "vegetation", "tree_trunk", "road",
    "sidewalk",
)  # fmt: skip
WAYMO_TO_COMMON = np.array(
    [
        OTHER, VEHICLE, PEDESTRIAN, POLE, BICYCLE, POLE, POLE, POLE,
        BICYCLE, BICYCLE, BUILDING, VEGETATION, VEGETATION, ROAD, SIDEWALK,
    ],
    dtype=np.uint8,
)  # fmt: skip
WAYMO_FREE_IDS = (15, 23)

# SemanticKITTI (semantic-kitti-api config/semantic-kitti.yaml): raw label id -> learning id (`learning_map`).
# In the voxel labels raw 0 is empty space; the other raw ids that learn as 0 (outlier, other-structure,
# other-object) are ignored, as the owners' evaluate_completion.py does.
SEMANTICKITTI_LEARNING_MAP: dict[int, int] = {
    0: 0, 1: 0, 10: 1, 11: 2, 13: 5, 15: 3, 16: 5, 18: 4, 20: 5, 30: 6, 31: 7, 32: 8, 40: 9, 44: 10,
    48: 11, 49: 12, 50: 13, 51: 14, 52: 0, 60: 9, 70: 15, 71: 16, 72: 17, 80: 18, 81: 19, 99: 0,
    252: 1, 253: 7, 254: 6, 255: 8, 256: 5, 257: 5, 258: 4, 259: 5,
}  # fmt: skip
# learning ids 1..19 (`learning_map_inv` names); learning id 0 is free in the voxel labels
SEMANTICKITTI_LEARNING_NAMES: tuple[str, ...] = (
    "car", "bicycle", "motorcycle", "truck", "other-vehicle", "person", "bicyclist", "motorcyclist", "road",
    "parking", "sidewalk", "other-ground", "building", "fence", "vegetation", "trunk", "terrain", "pole",
    "traffic-sign",
)  # fmt: skip
SEMANTICKITTI_TO_COMMON = np.array(
    [
        FREE, VEHICLE, BICYCLE, BICYCLE, VEHICLE, VEHICLE, PEDESTRIAN, BICYCLE, BICYCLE, ROAD,
        ROAD, SIDEWALK, GROUND, BUILDING, BARRIER, VEGETATION, VEGETATION, GROUND, POLE, POLE,
    ],
    dtype=np.uint8,
)  # fmt: skip


def lookup_table(mapping: np.ndarray, free_id: int | None = None) -> np.ndarray:
    """A 256-entry uint8 table from raw ids to common ids; unknown raw ids map to 255.

    Args:
        mapping: (R,) uint8 common id for raw ids 0..R-1.
        free_id: an extra raw id (outside 0..R-1) that means free space, if the dataset has one.
    """
    table = np.full(256, 255, dtype=np.uint8)
    table[: len(mapping)] = mapping
    if free_id is not None:
        table[free_id] = FREE
    return table


ClassKind = Literal["common", "native"]
CLASS_KINDS: tuple[str, ...] = ClassKind.__args__
"""Which class set a reader returns: the common 12 classes, or the dataset's own (paper Table 1's rows)."""


@dataclass(frozen=True, eq=False)
class ClassSet:
    """A class vocabulary with free space at id 0: names, and the common class of each id (for colours and
    for the conditions derived from labels, which speak of roads and vehicles)."""

    name: str
    names: tuple[str, ...]
    to_common: np.ndarray

    def __post_init__(self) -> None:
        if len(self.names) != len(self.to_common) or self.to_common[FREE] != FREE:
            raise ValueError(f"class set {self.name}: one common id per name, free first.")

    @property
    def num_classes(self) -> int:
        return len(self.names)

    @property
    def colormap(self) -> np.ndarray:
        """(K, 3) uint8: each class in its common class's colour, darkened for the second and later classes
        that share one (car, bus and truck are shades of the vehicle blue)."""
        seen: dict[int, int] = {}
        colours = []
        for c in self.to_common:
            repeat = seen[int(c)] = seen.get(int(c), -1) + 1
            colours.append(np.round(COLORMAP[c] * 0.8**repeat))
        return np.array(colours, dtype=np.uint8)

    def common(self, labels: np.ndarray) -> np.ndarray:
        """Labels of this set -> common ids."""
        return labels if self is COMMON_CLASSES else self.to_common.astype(np.uint8)[labels]


COMMON_CLASSES = ClassSet("common", CLASS_NAMES, np.arange(NUM_CLASSES, dtype=np.uint8))
# CarlaSC's own remapped set (its tools' 11 classes) is the common set without bicycle, in the same ids.
CARLASC_CLASSES = ClassSet("carlasc", CLASS_NAMES[:BICYCLE], np.arange(BICYCLE, dtype=np.uint8))
NUSCENES_CLASSES = ClassSet(
    "occ3d-nuscenes",
    ("free", *NUSCENES_RAW_NAMES[:17]),
    np.r_[FREE, NUSCENES_TO_COMMON[:17]].astype(np.uint8),
)
WAYMO_CLASSES = ClassSet(
    "occ3d-waymo", ("free", *WAYMO_RAW_NAMES), np.r_[FREE, WAYMO_TO_COMMON].astype(np.uint8)
)
SEMANTICKITTI_CLASSES = ClassSet(
    "semantickitti", ("free", *SEMANTICKITTI_LEARNING_NAMES), SEMANTICKITTI_TO_COMMON
)  # the learning ids are native ids: free is 0 already
# raw id -> native id: the datasets' own classes moved up by one so that free is 0, as in the common set
NUSCENES_TO_NATIVE = np.r_[np.arange(1, 18), FREE].astype(np.uint8)
WAYMO_TO_NATIVE = np.arange(1, 16, dtype=np.uint8)


def check_class_kind(kind: str) -> None:
    if kind not in CLASS_KINDS:
        raise ValueError(f"classes must be one of {', '.join(CLASS_KINDS)}, got {kind!r}.")

"""Occupancy data: the common class set, dataset readers, windows and derived conditions."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from dynamiccity.data.carlasc import CarlaSCReader
from dynamiccity.data.classes import CLASS_NAMES, COLORMAP, FREE, NUM_CLASSES
from dynamiccity.data.derive import Command, CommandRule, bev_layout, ego_command, ego_trajectory
from dynamiccity.data.errors import DataError
from dynamiccity.data.occ3d_nuscenes import Occ3DNuScenesReader
from dynamiccity.data.occ3d_waymo import Occ3DWaymoReader
from dynamiccity.data.reader import OccupancyReader
from dynamiccity.data.scene import GridSpec, Scene, SceneInfo
from dynamiccity.data.synthtown_format import SynthTownReader, write_synthtown
from dynamiccity.data.windows import Window, WindowDataset

Format = Literal["carlasc", "occ3d-nuscenes", "occ3d-waymo", "synthtown"]
FORMATS: tuple[str, ...] = ("carlasc", "occ3d-nuscenes", "occ3d-waymo", "synthtown")


def open_reader(path: str | Path, format: Format, **options) -> OccupancyReader:
    """The reader of a dataset root as distributed; `options` go to the reader (e.g. mask=, poses=)."""
    readers = {
        "carlasc": CarlaSCReader,
        "occ3d-nuscenes": Occ3DNuScenesReader,
        "occ3d-waymo": Occ3DWaymoReader,
        "synthtown": SynthTownReader,
    }
    if format not in readers:
        raise ValueError(f"unknown format {format!r}; choose one of {', '.join(FORMATS)}.")
    return readers[format](path, **options)


def open_dataset(
    path: str | Path,
    format: Format,
    frames: int,
    stride: int = 1,
    splits: tuple[str, ...] | None = None,
    layout_factor: int = 2,
    command_rule: CommandRule = CommandRule(),
    **options,
) -> WindowDataset:
    """Every window of `frames` consecutive frames (every `stride`) of a dataset root, all splits by default."""
    reader = open_reader(path, format, **options)
    return WindowDataset(reader, frames, stride, splits, layout_factor, command_rule)


__all__ = [
    "CLASS_NAMES", "COLORMAP", "FORMATS", "FREE", "NUM_CLASSES", "CarlaSCReader", "Command", "CommandRule",
    "DataError", "GridSpec", "Occ3DNuScenesReader", "Occ3DWaymoReader", "OccupancyReader", "Scene",
    "SceneInfo", "SynthTownReader", "Window", "WindowDataset", "bev_layout", "ego_command", "ego_trajectory",
    "open_dataset", "open_reader", "write_synthtown",
]  # fmt: skip

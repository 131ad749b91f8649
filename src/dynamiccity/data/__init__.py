"""Occupancy data: the common class set, dataset readers, windows and derived conditions."""

from __future__ import annotations

from inspect import signature
from pathlib import Path

from dynamiccity.data.carlasc import CarlaSCReader
from dynamiccity.data.classes import CLASS_NAMES, COLORMAP, FREE, NUM_CLASSES
from dynamiccity.data.derive import (
    NO_COMMAND,
    Command,
    CommandRule,
    bev_layout,
    ego_command,
    ego_trajectory,
)
from dynamiccity.data.errors import DataError
from dynamiccity.data.occ3d_nuscenes import Occ3DNuScenesReader
from dynamiccity.data.occ3d_waymo import Occ3DWaymoReader
from dynamiccity.data.reader import MASKS, OccupancyReader
from dynamiccity.data.scene import GridSpec, Scene, SceneInfo
from dynamiccity.data.semantickitti import SemanticKITTIReader
from dynamiccity.data.synthtown_format import SynthTownReader, write_synthtown
from dynamiccity.data.windows import Window, WindowDataset

READERS: dict[str, type[OccupancyReader]] = {
    reader.format: reader
    for reader in (CarlaSCReader, Occ3DNuScenesReader, Occ3DWaymoReader, SemanticKITTIReader, SynthTownReader)
}
FORMATS: tuple[str, ...] = tuple(READERS)
"""The on-disk layouts a dataset can be read from (`--format`)."""


def reader_accepts(format: str, option: str) -> bool:
    """Whether the reader of `format` takes keyword `option` (e.g. mask, poses)."""
    return option in signature(_reader(format)).parameters


def _reader(format: str) -> type[OccupancyReader]:
    if format not in READERS:
        raise ValueError(f"unknown format {format!r}; choose one of {', '.join(FORMATS)}.")
    return READERS[format]


def open_reader(path: str | Path, format: str, **options) -> OccupancyReader:
    """The reader of a dataset root as distributed; `options` go to the reader (e.g. mask=, poses=)."""
    return _reader(format)(path, **options)


def open_dataset(
    path: str | Path,
    format: str,
    frames: int,
    stride: int = 1,
    splits: tuple[str, ...] | None = None,
    layout_factor: int = 2,
    command_rule: CommandRule = CommandRule(),
    coordinates: str = "ego",
    world_margin: int = 0,
    **options,
) -> WindowDataset:
    """Every window of `frames` consecutive frames (every `stride`) of a dataset root, all splits by default,
    seen from each frame's ego or, with `coordinates="world"`, from the window's first frame's
    ("centred": its middle frame's), on the recorded grid widened by `world_margin` voxels a side."""
    reader = open_reader(path, format, **options)
    return WindowDataset(
        reader, frames, stride, splits, layout_factor, command_rule, coordinates, world_margin
    )


__all__ = [
    "CLASS_NAMES", "COLORMAP", "FORMATS", "FREE", "MASKS", "NO_COMMAND", "NUM_CLASSES", "READERS",
    "CarlaSCReader", "Command", "CommandRule", "DataError", "GridSpec", "Occ3DNuScenesReader", "Occ3DWaymoReader",
    "OccupancyReader", "Scene", "SceneInfo", "SemanticKITTIReader", "SynthTownReader", "Window",
    "WindowDataset", "bev_layout", "ego_command", "ego_trajectory", "open_dataset", "open_reader",
    "reader_accepts", "write_synthtown",
]  # fmt: skip

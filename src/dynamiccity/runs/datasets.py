"""Which windows a pipeline step reads: a dataset root, its format, the window stride, the splits."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from dynamiccity.data import open_dataset
from dynamiccity.data.windows import SPLITS, WindowDataset
from dynamiccity.vae.config import VAEConfig


@dataclass(frozen=True)
class DataSpec:
    """A dataset root as distributed and how to cut it into windows.

    format: one of `dynamiccity.data.FORMATS`. stride: frames between window starts; None takes the step's
    own default (training and encoding: 1, every start; scoring and reconstructing: the model's T, windows
    side by side). val_windows: how many held-out windows a training run validates on. options: reader
    keyword arguments (mask=, poses=). coordinates: where windows are seen from
    (`data.WindowDataset`): each frame's ego, or the window's first frame's ("world"; "centred": its middle
    frame's; needs poses). world_margin: voxels a side by which a world window's grid is wider than the
    recorded one (`WindowDataset.world_grid`).
    """

    path: str
    format: str
    stride: int | None = None
    val_windows: int = 32
    options: dict[str, Any] = field(default_factory=dict)
    coordinates: str = "ego"
    world_margin: int = 0


def open_windows(spec: DataSpec, frames: int, split: str = "all", default_stride: int = 1) -> WindowDataset:
    """The windows of `frames` frames of `split` (train, val or all) that `spec` describes."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {', '.join(SPLITS)}, got {split!r}.")
    stride = spec.stride or default_stride
    return open_dataset(
        spec.path, spec.format, frames=frames, stride=stride, splits=SPLITS[split],
        coordinates=spec.coordinates, world_margin=spec.world_margin, **spec.options,
    )  # fmt: skip


def check_grid(data: WindowDataset, cfg: VAEConfig) -> None:
    """Refuse data whose voxel grid or class set is not the one the model was built for."""
    if tuple(data.world_grid.shape) != tuple(cfg.grid):
        widened = f" (widened by {data.world_margin} a side)" if data.world_margin else ""
        raise ValueError(
            f"{data.reader.root}: grid {data.world_grid.shape}{widened} does not match the model's {cfg.grid}."
        )
    classes = data.reader.classes
    if classes.num_classes != cfg.num_classes:
        raise ValueError(
            f"{data.reader.root}: read in the {classes.name} class set ({classes.num_classes} classes), but the "
            f"model has {cfg.num_classes}: read it with the class set the model was trained on (--classes)."
        )


def read_as_run(spec: DataSpec, run_data: DataSpec) -> DataSpec:
    """`spec` read as a run (its `run_data`) reads data: in the class set it was trained on, unless `spec`
    names one, and with its windows in world coordinates laid on its widened grid (`world_margin`)."""
    spec = replace(spec, world_margin=run_data.world_margin)
    if "classes" in spec.options or "classes" not in run_data.options:
        return spec
    return replace(spec, options={**spec.options, "classes": run_data.options["classes"]})

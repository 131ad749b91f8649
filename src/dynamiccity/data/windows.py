"""Training windows: every run of T consecutive frames of every scene, with their derived conditions."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from dynamiccity.data.derive import NO_COMMAND, CommandRule, bev_layout, ego_command, ego_trajectory
from dynamiccity.data.egoframe import COORDINATES, anchored, is_world, to_world, world_anchor
from dynamiccity.data.errors import DataError
from dynamiccity.data.reader import OccupancyReader
from dynamiccity.data.scene import GridSpec, SceneInfo

# split names that mean "training" and "held-out validation" across the supported layouts
TRAIN_SPLITS = ("train", "training")
VAL_SPLITS = ("val", "validation")
SPLITS: dict[str, tuple[str, ...] | None] = {"train": TRAIN_SPLITS, "val": VAL_SPLITS, "all": None}
"""What a command's `--split` names: the training scenes, the held-out ones, or all (None)."""


class Window(NamedTuple):
    """One training window (collates with torch's default collate into batched tensors).

    labels: (T, X, Y, Z) uint8 common ids. valid: (T, X, Y, Z) bool (all True when the data has no mask).
    poses: (T, 4, 4) float64 ego-to-world. command: int, a `Command`. trajectory: (T, 3) float32
    (x, y, yaw) in the first frame's ego frame. layout: (T, X/d, Y/d) bool BEV vehicle mask.
    scene: index into `WindowDataset.scenes`; start: the window's first frame in its scene.

    When the scene has no ego poses (`WindowDataset.has_poses`), command is `NO_COMMAND` (-1) and poses
    and trajectory are filled with NaN, so that windows still collate into batches.
    """

    labels: np.ndarray
    valid: np.ndarray
    poses: np.ndarray
    command: int
    trajectory: np.ndarray
    layout: np.ndarray
    scene: int
    start: int


class WindowDataset:
    """Windows of `frames` consecutive frames every `stride` frames, over the scenes of one reader.

    Args:
        reader: any OccupancyReader.
        frames: T, the window length.
        stride: frames between the starts of consecutive windows of a scene.
        splits: keep only scenes of these splits (e.g. ("train",)); None keeps all.
        layout_factor: d, the max-pooling factor of the BEV layout.
        command_rule: thresholds of the ego-command rule.
        coordinates: where a window's frames are seen from (`data.egoframe.COORDINATES`): "ego", each
            frame's ego as recorded; "world", the window's first frame's ego throughout (`to_world`: the
            static world stands still), "centred", its middle frame's (`egoframe.world_anchor`), its
            labels, valid mask and layout alike; its poses, command and trajectory are the recorded ones
            (the trajectory in its first frame's ego frame). World coordinates need ego poses.
        world_margin: voxels added on each side in x and y of the grid that windows seen in world
            coordinates are laid on (`world_grid`, `in_world`), so that it holds what the ego sees beyond
            its anchor frame's view as it drives (0: the recorded grid).
    """

    def __init__(
        self,
        reader: OccupancyReader,
        frames: int,
        stride: int = 1,
        splits: tuple[str, ...] | None = None,
        layout_factor: int = 2,
        command_rule: CommandRule = CommandRule(),
        coordinates: str = "ego",
        world_margin: int = 0,
    ) -> None:
        if frames < 1 or stride < 1:
            raise ValueError(f"frames and stride must be >= 1, got {frames} and {stride}.")
        if coordinates not in COORDINATES:
            raise ValueError(f"unknown coordinates {coordinates!r}; choose one of {', '.join(COORDINATES)}.")
        if world_margin < 0:
            raise ValueError(f"a world margin is a number of voxels >= 0, got {world_margin}.")
        self.reader, self.frames, self.stride = reader, frames, stride
        self.layout_factor, self.command_rule, self.coordinates = layout_factor, command_rule, coordinates
        self.world_margin = world_margin
        self.scenes: list[SceneInfo] = [s for s in reader.scenes() if splits is None or s.split in splits]
        self.index = [
            (i, start)
            for i, scene in enumerate(self.scenes)
            for start in range(0, scene.num_frames - frames + 1, stride)
        ]
        self._position = {key: i for i, key in enumerate(self.index)}
        self._poses: dict[int, np.ndarray] = {}
        if is_world(coordinates):
            self.require_poses("windows in world coordinates")

    @property
    def grid(self) -> GridSpec:
        """The grid of the data as recorded, the one each frame's ego sees."""
        return self.reader.grid

    @property
    def world_grid(self) -> GridSpec:
        """The grid windows seen in world coordinates are laid on: `grid` widened by `world_margin`."""
        return self.grid.widened(self.world_margin)

    def __len__(self) -> int:
        return len(self.index)

    def poses(self, scene: int) -> np.ndarray | None:
        """All (N, 4, 4) poses of a scene, read once; None when the scene has none."""
        if scene not in self._poses:
            self._poses[scene] = self.reader.read_poses(self.scenes[scene])
        return self._poses[scene]

    @property
    def has_poses(self) -> bool:
        """Whether every scene has ego poses (reads them all once); when not, some windows carry
        `NO_COMMAND` and NaN trajectories."""
        return self._unposed_scene() is None

    def require_poses(self, why: str) -> None:
        """Refuse data that lacks ego poses, for what needs them.

        Args:
            why: what needs the poses, as a plural noun phrase ("the command and trajectory conditions").
        Raises:
            DataError: one line naming the dataset and scene, and how to pass poses for its format.
        """
        scene = self._unposed_scene()
        if scene is not None:
            raise DataError(
                f"{self.reader.root}: scene {self.scenes[scene].name} has no ego poses, which {why} need; "
                f"{self.reader.poses_hint}."
            )

    def _unposed_scene(self) -> int | None:
        return next((i for i in range(len(self.scenes)) if self.poses(i) is None), None)

    def __getitem__(self, i: int) -> Window:
        scene, start = self.index[i]
        labels, valid = self.reader.read_frames(self.scenes[scene], start, start + self.frames)
        if valid is None:
            valid = np.ones(labels.shape, dtype=bool)
        poses = self.poses(scene)
        if poses is None:
            poses = np.full((labels.shape[0], 4, 4), np.nan)
            command, trajectory = NO_COMMAND, np.full((labels.shape[0], 3), np.nan, dtype=np.float32)
        else:
            poses = poses[start : start + self.frames]
            command, trajectory = int(ego_command(poses, self.command_rule)), ego_trajectory(poses)
        window = Window(
            labels=labels,
            valid=valid,
            poses=poses,
            command=command,
            trajectory=trajectory,
            layout=bev_layout(self.reader.classes.common(labels), self.layout_factor),
            scene=scene,
            start=start,
        )
        if not is_world(self.coordinates):
            return window
        return self.in_world(window, world_anchor(self.coordinates, self.frames))

    def in_world(self, window: Window, anchor: int = 0) -> Window:
        """An ego-coordinate window of this dataset seen from the ego of its frame `anchor` throughout
        (labels, valid mask and layout; `data.egoframe.to_world`, its frames before the ego saw a place
        showing it as the ego later saw it)."""
        extent, path, world = self.grid.extent, anchored(window.trajectory, anchor), self.world_grid
        labels = to_world(window.labels, path, extent, fill_back=True, world=(world.shape, world.extent))
        valid = to_world(window.valid, path, extent, fill_back=True, world=(world.shape, world.extent))
        layout = bev_layout(self.reader.classes.common(labels), self.layout_factor)
        return window._replace(labels=labels, valid=valid, layout=layout)

    def previous(self, i: int) -> int | None:
        """Index of the window of the same scene that ends where window `i` starts, if there is one."""
        scene, start = self.index[i]
        return self._position.get((scene, start - self.frames))

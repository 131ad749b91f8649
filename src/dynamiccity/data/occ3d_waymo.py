"""Occ3D-Waymo in its distributed layout.

`ROOT/<split>/<scene>/<frame>_04.npz` (splits `training`, `validation`, `test`) holds `voxel_label`
(200x200x16, ids 0..14 plus a free id), `origin_voxel_state` (LiDAR mask), `final_voxel_state` (camera
mask) and `infov`. The free id is documented as 15 but the dataset's own tools use 23: we detect it from
the data and refuse a dataset that mixes both.

The frame files as published carry no ego poses (they live in Waymo's own info files): poses come from a
poses folder when given, else from a `poses.txt` in the scene folder or an `ego2global` array in every
frame file; without any of these the reader reports no poses (`read_poses` returns None).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np

from dynamiccity.data.classes import (
    WAYMO_CLASSES,
    WAYMO_FREE_IDS,
    WAYMO_TO_COMMON,
    WAYMO_TO_NATIVE,
    ClassKind,
    lookup_table,
)
from dynamiccity.data.errors import DataError
from dynamiccity.data.reader import (
    MaskKind,
    OccupancyReader,
    check_mask,
    check_shape,
    load_npz,
    npz_keys,
    read_pose_lines,
    remap,
)
from dynamiccity.data.scene import OCC3D_WAYMO_GRID, SceneInfo, first_bad_pose

SPLITS = ("training", "validation", "test")
EGO2GLOBAL = "ego2global"
_MASK_KEYS = {"none": (), "lidar": ("origin_voxel_state",), "camera": ("final_voxel_state", "infov")}


class Occ3DWaymoReader(OccupancyReader):
    """Reader for an Occ3D-Waymo root: the folder that holds `training/` and `validation/`.

    Args:
        mask: "lidar" (default), "camera" (also restricted to `infov`) or "none".
        poses: a folder mirroring `<split>/<scene>/poses.txt` (one 3x4 or 4x4 row-major matrix a
            line, one line per frame in frame order), which must hold every scene's; None to read a
            `poses.txt` inside each scene folder or `ego2global` from the frame files, where present.
        free_id: 15 or 23 to force the free id; None to detect it.
        classes: "common" (the 12 common classes) or "native" (the dataset's 15, moved up one: free is 0).
    """

    format = "occ3d-waymo"
    grid = OCC3D_WAYMO_GRID
    poses_hint = "pass --poses DIR, a folder of <split>/<scene>/poses.txt files"
    native_classes = WAYMO_CLASSES

    def __init__(
        self,
        root: str | Path,
        mask: MaskKind = "lidar",
        poses: str | Path | None = None,
        free_id: int | None = None,
        classes: ClassKind = "common",
    ) -> None:
        super().__init__(root, classes)
        self._mapping = WAYMO_TO_COMMON if classes == "common" else WAYMO_TO_NATIVE
        check_mask(mask)
        if free_id is not None and free_id not in WAYMO_FREE_IDS:
            raise ValueError(f"free_id must be one of {WAYMO_FREE_IDS}, got {free_id}.")
        self.mask, self.pose_root, self._free_id = mask, Path(poses) if poses else None, free_id
        self._free_source: Path | None = None
        self._origins: dict[str, Path | Literal["ego2global"] | None] = {}
        self._scenes = self._list_scenes()

    def _list_scenes(self) -> list[SceneInfo]:
        scenes = []
        for split in SPLITS:
            folders = sorted(p for p in (self.root / split).glob("*") if p.is_dir())
            if (self.root / split).is_dir() and not folders:
                raise DataError(f"{self.root / split}: split folder holds no scene folders.")
            for folder in folders:
                files = _frame_files(folder)
                scenes.append(SceneInfo(f"{split}/{folder.name}", split, len(files), {"files": files}))
        if not scenes:
            raise DataError(f"{self.root}: no scene folders under {', '.join(SPLITS)}.")
        return scenes

    def scenes(self) -> list[SceneInfo]:
        return list(self._scenes)

    @property
    def free_id(self) -> int | None:
        """The raw free id: forced, or detected from the frames read so far (None before any)."""
        return self._free_id

    def read_frames(self, scene: SceneInfo, start: int, stop: int) -> tuple[np.ndarray, np.ndarray | None]:
        frames = [self._read_frame(path) for path in scene.meta["files"][start:stop]]
        valid = None if self.mask == "none" else np.stack([f[1] for f in frames])
        return np.stack([f[0] for f in frames]), valid

    def _read_frame(self, path: Path) -> tuple[np.ndarray, np.ndarray | None]:
        mask_keys = _MASK_KEYS[self.mask]
        data = load_npz(path, ("voxel_label", *mask_keys))
        check_shape(data["voxel_label"], self.grid.shape, path, "voxel_label")
        free = self._detect_free(data["voxel_label"], path)
        labels = remap(data["voxel_label"], lookup_table(self._mapping, free), path, self._vocabulary(free))
        if not mask_keys:
            return labels, None
        for key in mask_keys:
            check_shape(data[key], self.grid.shape, path, key)
        return labels, np.logical_and.reduce([data[key].astype(bool) for key in mask_keys])

    @staticmethod
    def _vocabulary(free: int | None) -> str:
        return (
            f"Occ3D-Waymo's classes 0..14 (free {free})"
            if free is not None
            else "Occ3D-Waymo's classes 0..14"
        )

    def _detect_free(self, raw: np.ndarray, path: Path) -> int | None:
        """Return the dataset's free id, fixing it on the first frame that shows one."""
        present = [i for i in WAYMO_FREE_IDS if (raw == i).any()]
        if len(present) > 1:
            raise DataError(f"{path}: holds both 15 and 23; the free id is ambiguous (pass free_id).")
        if present and self._free_id is None:
            self._free_id, self._free_source = present[0], path
        elif present and present[0] != self._free_id:
            source = self._free_source or "the free_id argument"
            raise DataError(f"{path}: free id {present[0]} differs from {self._free_id} found in {source}.")
        return self._free_id

    def pose_source(self, scene: SceneInfo) -> str | None:
        origin = self._pose_origin(scene)
        if origin is None:
            return None
        if origin == EGO2GLOBAL:
            return "ego2global in the frame files"
        return (
            f"poses.txt files under {self.pose_root}" if self.pose_root else "poses.txt in the scene folders"
        )

    def read_poses(self, scene: SceneInfo) -> np.ndarray | None:
        origin = self._pose_origin(scene)
        if origin is None:
            return None
        if origin == EGO2GLOBAL:
            return _ego2global(scene.meta["files"])
        return self._check_count(read_pose_lines(origin), scene, origin)

    def _pose_origin(self, scene: SceneInfo) -> Path | Literal["ego2global"] | None:
        """Where a scene's poses are: a poses.txt (the poses folder's, which must have it when given; else
        the scene folder's), EGO2GLOBAL when every frame file carries one, or None (as published)."""
        if scene.name in self._origins:
            return self._origins[scene.name]
        if self.pose_root is not None:
            origin = self.pose_root / scene.name / "poses.txt"
            if not origin.is_file():
                raise DataError(f"{origin}: poses file does not exist.")
        elif (self.root / scene.name / "poses.txt").is_file():
            origin = self.root / scene.name / "poses.txt"
        else:
            files = scene.meta["files"]
            carry = [EGO2GLOBAL in npz_keys(path) for path in files]
            if any(carry) and not all(carry):
                lacking = files[carry.index(False)]
                raise DataError(f"{lacking}: no {EGO2GLOBAL!r}, though other frames of its scene have one.")
            origin = EGO2GLOBAL if all(carry) else None
        self._origins[scene.name] = origin
        return origin

    @staticmethod
    def _check_count(poses: np.ndarray, scene: SceneInfo, path: Path) -> np.ndarray:
        if len(poses) != scene.num_frames:
            raise DataError(f"{path}: {len(poses)} poses for {scene.num_frames} frames.")
        return poses


def _frame_files(folder: Path) -> list[Path]:
    """The *_04.npz frame files of a scene folder in frame order."""
    files = sorted(folder.glob("*_04.npz"), key=_frame_key)
    if not files:
        raise DataError(f"{folder}: no *_04.npz frame files.")
    seen: dict[int, Path] = {}
    for path in files:
        number, stem = _frame_key(path)
        if stem.isdigit() and number in seen:
            raise DataError(f"{path}: frame {number} is also in {seen[number].name}.")
        seen[number] = path
    return files


def _ego2global(files: list[Path]) -> np.ndarray:
    """The (N, 4, 4) `ego2global` poses of frame files, each checked with an error naming its file."""
    poses = []
    for path in files:
        pose = load_npz(path, (EGO2GLOBAL,))[EGO2GLOBAL]
        if pose.shape != (4, 4) or not np.issubdtype(pose.dtype, np.number):
            raise DataError(f"{path}: ego2global is {pose.shape} {pose.dtype}, expected a 4x4 matrix.")
        poses.append(pose.astype(np.float64))
    poses = np.stack(poses)
    found = first_bad_pose(poses)
    if found is not None:
        raise DataError(f"{files[found[0]]}: ego2global {found[1]}.")
    return poses


def _frame_key(path: Path) -> tuple[int, str]:
    stem = path.name.removesuffix("_04.npz")
    return (int(stem), stem) if stem.isdigit() else (1 << 30, stem)

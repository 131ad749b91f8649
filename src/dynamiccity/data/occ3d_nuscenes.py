"""Occ3D-nuScenes in its distributed layout.

`ROOT/annotations.json` lists the splits (`train_split`, `val_split`) and, under `scene_infos`, every
scene's frames by token with `timestamp` and `ego_pose` {`translation`, `rotation` (w, x, y, z)}.
`ROOT/gts/<scene>/<frame_token>/labels.npz` holds `semantics` (200x200x16, ids 0..16, 17 = free),
`mask_lidar` and `mask_camera`. Frames are ordered by timestamp.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

import numpy as np

from dynamiccity.data.classes import NUSCENES_TO_COMMON, lookup_table
from dynamiccity.data.errors import DataError
from dynamiccity.data.reader import MaskKind, OccupancyReader, check_mask, check_shape, load_npz, pose_from_quaternion, remap
from dynamiccity.data.scene import OCC3D_NUSCENES_GRID, SceneInfo, check_poses

_TABLE = lookup_table(NUSCENES_TO_COMMON)


class Occ3DNuScenesReader(OccupancyReader):
    """Reader for an Occ3D-nuScenes root: the folder that holds `gts/` and `annotations.json`.

    Args:
        mask: which of the dataset's masks marks valid voxels ("lidar" by default: never-observed
            voxels are scored by no metric), or "none" for every voxel.
    """

    format = "occ3d-nuscenes"
    grid = OCC3D_NUSCENES_GRID

    def __init__(self, root: str | Path, mask: MaskKind = "lidar") -> None:
        super().__init__(root)
        check_mask(mask)
        self.mask = mask
        self._annotations = self.root / "annotations.json"
        self._scenes = self._list_scenes(self._load_annotations())

    def _load_annotations(self) -> dict:
        if not (self.root / "gts").is_dir():
            raise DataError(f"{self.root}: no gts/ folder; pass the Occ3D-nuScenes root that holds it.")
        try:
            data = json.loads(self._annotations.read_text())
        except FileNotFoundError as err:
            raise DataError(f"{self._annotations}: annotation file does not exist.") from err
        except json.JSONDecodeError as err:
            raise DataError(f"{self._annotations}: not valid JSON ({err.msg}, line {err.lineno}).") from err
        if not isinstance(data, dict) or not isinstance(data.get("scene_infos"), dict):
            raise DataError(f"{self._annotations}: missing the 'scene_infos' mapping.")
        return data

    def _list_scenes(self, data: dict) -> list[SceneInfo]:
        split_of = {s: "train" for s in data.get("train_split", [])}
        split_of.update({s: "val" for s in data.get("val_split", [])})
        scenes = []
        for name in sorted(data["scene_infos"]):
            frames = data["scene_infos"][name]
            if not frames:
                raise DataError(f"{self._annotations}: scene {name} has no frames.")
            order = sorted(frames, key=lambda token: self._timestamp(frames[token], name, token))
            poses = np.stack([self._pose(frames[token], name, token) for token in order])
            check_poses(poses, f"{self._annotations} (scene {name})")
            meta = {"tokens": order, "poses": poses}
            scenes.append(SceneInfo(name, split_of.get(name, "unassigned"), len(order), meta))
        if not scenes:
            raise DataError(f"{self._annotations}: 'scene_infos' lists no scenes.")
        return scenes

    def _timestamp(self, info: dict, scene: str, token: str) -> float:
        if "timestamp" not in info:
            raise DataError(f"{self._annotations}: frame {token} of {scene} has no 'timestamp'.")
        return float(info["timestamp"])

    def _pose(self, info: dict, scene: str, token: str) -> np.ndarray:
        pose = info.get("ego_pose")
        if not isinstance(pose, dict) or "translation" not in pose or "rotation" not in pose:
            raise DataError(
                f"{self._annotations}: frame {token} of {scene} has no ego_pose translation/rotation."
            )
        return pose_from_quaternion(pose["translation"], pose["rotation"])

    def scenes(self) -> list[SceneInfo]:
        return list(self._scenes)

    def read_frames(self, scene: SceneInfo, start: int, stop: int) -> tuple[np.ndarray, np.ndarray | None]:
        frames = [self._read_frame(scene.name, token) for token in scene.meta["tokens"][start:stop]]
        valid = None if self.mask == "none" else np.stack([f[1] for f in frames])
        return np.stack([f[0] for f in frames]), valid

    def _read_frame(self, scene: str, token: str) -> tuple[np.ndarray, np.ndarray | None]:
        path = self.root / "gts" / scene / token / "labels.npz"
        keys = ("semantics",) if self.mask == "none" else ("semantics", f"mask_{self.mask}")
        data = load_npz(path, keys)
        check_shape(data["semantics"], self.grid.shape, path, "semantics")
        labels = remap(data["semantics"], _TABLE, path, "Occ3D-nuScenes' classes 0..17")
        if self.mask == "none":
            return labels, None
        mask = data[f"mask_{self.mask}"]
        check_shape(mask, self.grid.shape, path, f"mask_{self.mask}")
        return labels, mask.astype(bool)

    def read_poses(self, scene: SceneInfo) -> np.ndarray:
        return scene.meta["poses"]

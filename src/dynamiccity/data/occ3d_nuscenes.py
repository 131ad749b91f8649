"""Occ3D-nuScenes in its distributed layout (the Occ3D README's `annotations` schema).

`ROOT/annotations.json` lists the splits (`train_split`, `val_split`) and, under `scene_infos`, every
scene's frames by token, each with `timestamp` (a string in the README: a timestamp "or token", unique by
sample; derived files write numbers), `ego_pose` {`translation`, `rotation` (w, x, y, z)}, `gt_path`,
`camera_sensor`, and `prev` / `next`, the tokens of the neighbouring keyframes ("" at a scene's ends, as
in nuScenes' sample table; "EOF" and null are taken as ends too).
`ROOT/gts/<scene>/<frame_token>/labels.npz` holds `semantics` (200x200x16, ids 0..16, 17 = free),
`mask_lidar` and `mask_camera`.

Frames are ordered by the `prev` / `next` chain where the frames carry it, else by numeric timestamps (a
number or a string of digits), else as the file lists them (the README: "ordered by time").
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from dynamiccity.data.classes import (
    NUSCENES_CLASSES,
    NUSCENES_TO_COMMON,
    NUSCENES_TO_NATIVE,
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
    pose_from_quaternion,
    remap,
)
from dynamiccity.data.scene import OCC3D_NUSCENES_GRID, SceneInfo, check_poses

_TABLES = {"common": lookup_table(NUSCENES_TO_COMMON), "native": lookup_table(NUSCENES_TO_NATIVE)}


class Occ3DNuScenesReader(OccupancyReader):
    """Reader for an Occ3D-nuScenes root: the folder that holds `gts/` and `annotations.json`.

    Args:
        mask: which of the dataset's masks marks valid voxels ("lidar" by default: never-observed
            voxels are scored by no metric), or "none" for every voxel.
        classes: "common" (the 12 common classes) or "native" (the dataset's 17, moved up one: free is 0).
    """

    format = "occ3d-nuscenes"
    grid = OCC3D_NUSCENES_GRID
    native_classes = NUSCENES_CLASSES

    def __init__(self, root: str | Path, mask: MaskKind = "lidar", classes: ClassKind = "common") -> None:
        super().__init__(root, classes)
        self._table = _TABLES[classes]
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
        split_of = {}
        for key, split in (("train_split", "train"), ("val_split", "val")):
            names = data.get(key, [])
            if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
                raise DataError(f"{self._annotations}: {key!r} is not a list of scene names.")
            unknown = [name for name in names if name not in data["scene_infos"]]
            if unknown:
                raise DataError(
                    f"{self._annotations}: {key!r} names scene {unknown[0]}, which has no scene_infos."
                )
            split_of.update({name: split for name in names})
        scenes = []
        for name in sorted(data["scene_infos"]):
            frames = data["scene_infos"][name]
            if not isinstance(frames, dict) or not all(isinstance(f, dict) for f in frames.values()):
                raise DataError(
                    f"{self._annotations}: scene {name} is not a mapping of frame tokens to infos."
                )
            if not frames:
                raise DataError(f"{self._annotations}: scene {name} has no frames.")
            order = frame_order(frames, name, self._annotations)
            poses = np.stack([self._pose(frames[token], name, token) for token in order])
            check_poses(poses, f"{self._annotations} (scene {name})")
            meta = {"tokens": order, "poses": poses}
            scenes.append(SceneInfo(name, split_of.get(name, "unassigned"), len(order), meta))
        if not scenes:
            raise DataError(f"{self._annotations}: 'scene_infos' lists no scenes.")
        self._check_files(scenes)
        return scenes

    def _check_files(self, scenes: list[SceneInfo]) -> None:
        """Every listed frame has its labels file, and every labels file under gts/ is listed."""
        listed = set()
        for scene in scenes:
            for token in scene.meta["tokens"]:
                path = self._frame_path(scene.name, token)
                if not path.is_file():
                    raise DataError(
                        f"{path}: file does not exist, though {self._annotations.name} lists frame {token}."
                    )
                listed.add(path)
        for path in sorted((self.root / "gts").glob("*/*/labels.npz")):
            if path not in listed:
                raise DataError(f"{path}: frame not listed in {self._annotations}.")

    def _frame_path(self, scene: str, token: str) -> Path:
        return self.root / "gts" / scene / token / "labels.npz"

    def _pose(self, info: dict, scene: str, token: str) -> np.ndarray:
        pose = info.get("ego_pose")
        if not isinstance(pose, dict) or not all(
            isinstance(pose.get(key), list) and len(pose[key]) == n and all(map(_is_number, pose[key]))
            for key, n in (("translation", 3), ("rotation", 4))
        ):
            raise DataError(
                f"{self._annotations}: frame {token} of {scene} has no ego_pose translation (3 numbers) "
                "and rotation (4 numbers)."
            )
        return pose_from_quaternion(pose["translation"], pose["rotation"])

    def scenes(self) -> list[SceneInfo]:
        return list(self._scenes)

    def read_frames(self, scene: SceneInfo, start: int, stop: int) -> tuple[np.ndarray, np.ndarray | None]:
        frames = [self._read_frame(scene.name, token) for token in scene.meta["tokens"][start:stop]]
        valid = None if self.mask == "none" else np.stack([f[1] for f in frames])
        return np.stack([f[0] for f in frames]), valid

    def _read_frame(self, scene: str, token: str) -> tuple[np.ndarray, np.ndarray | None]:
        path = self._frame_path(scene, token)
        keys = ("semantics",) if self.mask == "none" else ("semantics", f"mask_{self.mask}")
        data = load_npz(path, keys)
        check_shape(data["semantics"], self.grid.shape, path, "semantics")
        labels = remap(data["semantics"], self._table, path, "Occ3D-nuScenes' classes 0..17")
        if self.mask == "none":
            return labels, None
        mask = data[f"mask_{self.mask}"]
        check_shape(mask, self.grid.shape, path, f"mask_{self.mask}")
        return labels, mask.astype(bool)

    def pose_source(self, scene: SceneInfo) -> str:
        return "ego_pose in annotations.json"

    def read_poses(self, scene: SceneInfo) -> np.ndarray:
        return scene.meta["poses"]


def _is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


ENDS = ("", "EOF", None)
"""What `prev` / `next` hold at a scene's first / last frame: "" in nuScenes' sample table; "EOF" and null
are accepted as well."""


def frame_order(frames: dict, scene: str, where: Path) -> list[str]:
    """The frame tokens of one scene (`scene_infos[scene]`) in time order: along the `prev` / `next` chain
    when every frame carries it, else by numeric timestamps, else as listed. Timestamps must be unique."""
    stamps = {token: info.get("timestamp") for token, info in frames.items()}
    for token, stamp in stamps.items():
        if not (_is_number(stamp) or isinstance(stamp, str)):
            raise DataError(f"{where}: frame {token} of {scene} has no 'timestamp' (a string or a number).")
    seen: dict = {}
    for token, stamp in stamps.items():
        if stamp in seen:
            raise DataError(
                f"{where}: frames {seen[stamp]} and {token} of scene {scene} share timestamp {stamp}."
            )
        seen[stamp] = token
    if all("prev" in info and "next" in info for info in frames.values()):
        return _chain(frames, scene, where)
    numeric = {token: _as_number(stamp) for token, stamp in stamps.items()}
    if all(value is not None for value in numeric.values()):
        return sorted(frames, key=numeric.__getitem__)
    return list(frames)


def _chain(frames: dict, scene: str, where: Path) -> list[str]:
    """The tokens from the frame whose `prev` is an end marker, following `next`; a chain that breaks
    (a token of another scene), forks, loops or skips a frame is an error naming the scene."""
    for token, info in frames.items():
        for key in ("prev", "next"):
            if not (info[key] in ENDS or isinstance(info[key], str)):
                raise DataError(f"{where}: frame {token} of scene {scene} has a '{key}' that is not a token.")
    heads = [token for token, info in frames.items() if info["prev"] in ENDS]
    if len(heads) != 1:
        raise DataError(
            f"{where}: scene {scene} has {len(heads)} frames without a 'prev' token; its prev/next chain "
            "needs exactly one first frame."
        )
    order = [heads[0]]
    while frames[order[-1]]["next"] not in ENDS:
        token, after = order[-1], frames[order[-1]]["next"]
        if after not in frames:
            raise DataError(
                f"{where}: scene {scene}'s prev/next chain is broken: frame {token} is followed by "
                f"{after}, which is not a frame of the scene."
            )
        if frames[after]["prev"] != token or after in order:
            raise DataError(f"{where}: scene {scene}'s prev/next chain forks or loops at frame {after}.")
        order.append(after)
    if len(order) != len(frames):
        raise DataError(
            f"{where}: scene {scene}'s prev/next chain links {len(order)} of its {len(frames)} frames."
        )
    return order


def _as_number(stamp) -> float | None:
    """A timestamp as a number: a JSON number, or a string that reads as one; None otherwise."""
    if _is_number(stamp):
        return float(stamp)
    try:
        value = float(stamp)
    except ValueError:
        return None
    return value if np.isfinite(value) else None

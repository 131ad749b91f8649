"""SynthTown's on-disk format, also used for every scene this package writes (reconstructions, samples).

    ROOT/dataset.json            {"format": "synthtown", "version": 1, "grid": [X, Y, Z],
                                  "extent": [x0, y0, z0, x1, y1, z1], "hz": f,
                                  "scenes": [{"name", "split", "frames", "meta"}, ...]}
    ROOT/<name>/labels.npy       (T, X, Y, Z) uint8 common class ids
    ROOT/<name>/poses.npy        (T, 4, 4) float64 ego-to-world; absent only for a scene written without
                                 poses (from data that has none), whose entry says "poses": false
    ROOT/<name>/valid.npy        (T, X, Y, Z) bool, only when some voxel is unobserved

Plain .npy files are memory-mapped, so a window is read without loading its whole scene.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from dynamiccity.atomic import atomic_dir, write_text
from dynamiccity.data.classes import ClassKind
from dynamiccity.data.errors import DataError, reason
from dynamiccity.data.reader import OccupancyReader
from dynamiccity.data.scene import GridSpec, Scene, SceneInfo, check_labels, check_poses

MANIFEST = "dataset.json"
VERSION = 1


def write_synthtown(root: str | Path, scenes: Iterable[tuple[Scene, str]], grid: GridSpec) -> Path:
    """Write (scene, split) pairs as a SynthTown dataset; each scene folder and the manifest atomically.

    An existing dataset at `root` is extended: scenes of the same name are replaced. A scene without poses
    gets no poses.npy and `"poses": false` in its manifest entry.
    """
    root = Path(root)
    entries = {e["name"]: e for e in _read_manifest(root)["scenes"]} if (root / MANIFEST).is_file() else {}
    for scene, split in scenes:
        if scene.labels.shape[1:] != grid.shape:
            raise ValueError(
                f"scene {scene.name} has frames {scene.labels.shape[1:]}, the grid is {grid.shape}."
            )
        with atomic_dir(root / scene.name) as tmp:
            np.save(tmp / "labels.npy", scene.labels)
            if scene.poses is not None:
                np.save(tmp / "poses.npy", scene.poses.astype(np.float64))
            if scene.valid is not None and not scene.valid.all():
                np.save(tmp / "valid.npy", scene.valid.astype(bool))
        entries[scene.name] = {
            "name": scene.name,
            "split": split,
            "frames": scene.num_frames,
            "meta": scene.meta,
        }
        if scene.poses is None:
            entries[scene.name]["poses"] = False
    manifest = {
        "format": "synthtown",
        "version": VERSION,
        "grid": list(grid.shape),
        "extent": list(grid.extent),
        "hz": grid.hz,
        "scenes": sorted(entries.values(), key=lambda e: e["name"]),
    }
    write_text(root / MANIFEST, json.dumps(manifest, indent=1) + "\n")
    return root


def _read_manifest(root: Path) -> dict:
    path = root / MANIFEST
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError as err:
        raise DataError(f"{path}: no SynthTown manifest; is {root} a SynthTown dataset?") from err
    except json.JSONDecodeError as err:
        raise DataError(f"{path}: not valid JSON ({err.msg}, line {err.lineno}).") from err
    missing = [k for k in ("format", "version", "grid", "extent", "hz", "scenes") if k not in data]
    if missing:
        raise DataError(f"{path}: missing key {missing[0]!r}.")
    if data["format"] != "synthtown" or data["version"] != VERSION:
        raise DataError(f"{path}: format {data['format']!r} v{data['version']} is not synthtown v{VERSION}.")
    if not _numbers(data["grid"], 3, int) or min(data["grid"]) < 1:
        raise DataError(f"{path}: 'grid' is not three positive integers.")
    if not _numbers(data["extent"], 6) or not _numbers([data["hz"]], 1) or data["hz"] <= 0:
        raise DataError(f"{path}: 'extent' is not six numbers, or 'hz' not a positive number.")
    if not isinstance(data["scenes"], list):
        raise DataError(f"{path}: 'scenes' is not a list.")
    names = set()
    for number, entry in enumerate(data["scenes"]):
        if not (
            isinstance(entry, dict)
            and isinstance(entry.get("name"), str)
            and isinstance(entry.get("split"), str)
            and _numbers([entry.get("frames")], 1, int)
            and entry["frames"] >= 1
            and isinstance(entry.get("meta", {}), dict)
            and isinstance(entry.get("poses", True), bool)
        ):
            raise DataError(
                f"{path}: scene entry {number} needs a name, a split and a positive frame count "
                "(and a meta mapping, poses true or false, when given)."
            )
        if entry["name"] in names:
            raise DataError(f"{path}: scene {entry['name']!r} is listed twice.")
        names.add(entry["name"])
    return data


def _numbers(values, count: int, kind: type = int | float) -> bool:
    """Whether `values` is a list of `count` JSON numbers of `kind` (booleans excluded)."""
    return (
        isinstance(values, list)
        and len(values) == count
        and all(isinstance(v, kind) and not isinstance(v, bool) for v in values)
    )


class SynthTownReader(OccupancyReader):
    """Reader for a SynthTown root: the folder that holds `dataset.json`."""

    format = "synthtown"

    def __init__(self, root: str | Path, classes: ClassKind = "common") -> None:
        super().__init__(root, classes)  # SynthTown writes common ids: its native set is the common one
        data = _read_manifest(self.root)
        self.grid = GridSpec(tuple(data["grid"]), tuple(data["extent"]), float(data["hz"]))
        self._scenes = [
            SceneInfo(e["name"], e["split"], int(e["frames"]), e.get("meta", {})) for e in data["scenes"]
        ]
        self._unposed = {e["name"] for e in data["scenes"] if not e.get("poses", True)}
        if not self._scenes:
            raise DataError(f"{self.root / MANIFEST}: lists no scenes.")

    def scenes(self) -> list[SceneInfo]:
        return list(self._scenes)

    def _array(self, scene: SceneInfo, name: str) -> np.ndarray | None:
        path = self.root / scene.name / name
        if not path.is_file():
            return None
        try:
            return np.load(path, mmap_mode="r", allow_pickle=False)
        except (ValueError, OSError, EOFError) as err:
            raise DataError(f"{path}: not a readable .npy file ({reason(err)}).") from err

    def read_frames(self, scene: SceneInfo, start: int, stop: int) -> tuple[np.ndarray, np.ndarray | None]:
        path = self.root / scene.name / "labels.npy"
        labels = self._array(scene, "labels.npy")
        if labels is None:
            raise DataError(f"{path}: file does not exist.")
        expected = (scene.num_frames, *self.grid.shape)
        if labels.shape != expected or labels.dtype != np.uint8:
            raise DataError(f"{path}: holds {labels.shape} {labels.dtype}, expected {expected} uint8.")
        window = np.array(labels[start:stop])
        check_labels(window, path)
        valid = self._array(scene, "valid.npy")
        if valid is not None:
            if valid.shape != expected:
                raise DataError(
                    f"{self.root / scene.name / 'valid.npy'}: shape {valid.shape}, expected {expected}."
                )
            valid = np.array(valid[start:stop], dtype=bool)
        return window, valid

    def pose_source(self, scene: SceneInfo) -> str | None:
        return None if scene.name in self._unposed else "poses.npy of each scene"

    def read_poses(self, scene: SceneInfo) -> np.ndarray | None:
        """The scene's poses.npy; a missing one is an error unless the manifest says the scene has none."""
        if scene.name in self._unposed:
            return None
        path = self.root / scene.name / "poses.npy"
        poses = self._array(scene, "poses.npy")
        if poses is None:
            raise DataError(f"{path}: file does not exist.")
        check_poses(poses, path, num_frames=scene.num_frames)
        poses = np.array(poses, dtype=np.float64)
        return poses

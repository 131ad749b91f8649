"""The interface every dataset reader implements, and helpers they share."""

from __future__ import annotations

import abc
import zipfile
import zlib
from pathlib import Path
from typing import ClassVar, Literal

import numpy as np
from numpy.lib.npyio import NpzFile

from dynamiccity.data.classes import COMMON_CLASSES, ClassKind, ClassSet, check_class_kind
from dynamiccity.data.errors import DataError, reason
from dynamiccity.data.scene import GridSpec, Scene, SceneInfo, check_poses

MaskKind = Literal["lidar", "camera", "none"]
MASKS: tuple[str, ...] = MaskKind.__args__
"""Which of an Occ3D dataset's masks marks valid voxels: lidar-observed, camera-visible, or every voxel."""


def check_mask(mask: str) -> None:
    if mask not in MASKS:
        raise ValueError(f"mask must be one of {', '.join(MASKS)}, got {mask!r}.")


class OccupancyReader(abc.ABC):
    """A dataset root as distributed, read lazily frame by frame into the common class set, or with
    `classes="native"` into the dataset's own (`native_classes`, free moved to id 0); `classes` is the set
    the labels are in.

    Ego poses are needed only for the command and trajectory conditions, and some datasets are published
    without them: `read_poses` returns None (and `pose_source` None) for a scene whose dataset carries no
    poses, so that everything else works without them. A format that always ships its poses (CarlaSC's
    poses.txt, SynthTown's poses.npy, Occ3D-nuScenes' annotations.json) raises a DataError naming the
    missing file instead. `poses_hint` says how to supply poses to a dataset that has none.
    """

    format: ClassVar[str]
    grid: GridSpec
    poses_hint: ClassVar[str] = "this format carries its ego poses in the dataset itself"
    native_classes: ClassVar[ClassSet] = COMMON_CLASSES

    def __init__(self, root: str | Path, classes: ClassKind = "common") -> None:
        check_class_kind(classes)
        self.classes = COMMON_CLASSES if classes == "common" else self.native_classes
        self.root = Path(root)
        if not self.root.is_dir():
            raise DataError(f"{self.root}: dataset folder does not exist.")

    @abc.abstractmethod
    def scenes(self) -> list[SceneInfo]:
        """Every scene under the root, all splits, in a stable order."""

    @abc.abstractmethod
    def read_frames(self, scene: SceneInfo, start: int, stop: int) -> tuple[np.ndarray, np.ndarray | None]:
        """Frames [start, stop) of a scene: labels (T, X, Y, Z) uint8 ids of `classes`, valid (T, X, Y, Z) bool or None."""

    @abc.abstractmethod
    def read_poses(self, scene: SceneInfo) -> np.ndarray | None:
        """Every frame's ego-to-world pose of a scene: (N, 4, 4) float64, checked rigid and finite; None
        when the dataset carries no poses for the scene."""

    @abc.abstractmethod
    def pose_source(self, scene: SceneInfo) -> str | None:
        """Where the poses of a scene come from, in words (e.g. "poses.txt of each sequence"); None when
        the dataset carries none for it."""

    @property
    def free_id(self) -> int | None:
        """The raw id of free space, for datasets where it has to be detected; None elsewhere."""
        return None

    def read_scene(self, scene: SceneInfo) -> Scene:
        """A whole scene in memory."""
        labels, valid = self.read_frames(scene, 0, scene.num_frames)
        return Scene(labels, self.read_poses(scene), valid, name=scene.name, meta=dict(scene.meta))


# what numpy and zipfile raise for a truncated, corrupted or otherwise unreadable .npz
_NPZ_ERRORS = (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError)


def _open_npz(path: Path) -> NpzFile:
    try:
        data = np.load(path, allow_pickle=False)
    except FileNotFoundError as err:
        raise DataError(f"{path}: file does not exist.") from err
    except _NPZ_ERRORS as err:
        raise DataError(f"{path}: not a readable .npz file ({reason(err)}).") from err
    if not isinstance(data, NpzFile):
        raise DataError(f"{path}: holds a single array, not an .npz archive of named arrays.")
    return data


def npz_keys(path: Path) -> list[str]:
    """The names of the arrays of an .npz file, with a DataError naming the file for any problem."""
    with _open_npz(path) as data:
        return list(data.files)


def load_npz(path: Path, keys: tuple[str, ...]) -> dict[str, np.ndarray]:
    """Load the named arrays of an .npz file, with a DataError naming the file for any problem."""
    with _open_npz(path) as data:
        missing = [k for k in keys if k not in data.files]
        if missing:
            raise DataError(f"{path}: missing key {missing[0]!r} (has {sorted(data.files)}).")
        try:
            return {k: data[k] for k in keys}
        except _NPZ_ERRORS as err:
            raise DataError(f"{path}: not a readable .npz file ({reason(err)}).") from err


def remap(raw: np.ndarray, table: np.ndarray, where: Path, vocabulary: str) -> np.ndarray:
    """Map raw class ids (any integer dtype) through a 256-entry table.

    Ids of a non-integer dtype, ids outside 0..255 (which uint8 would wrap) and ids the table marks 255
    are a DataError.
    """
    if not np.issubdtype(raw.dtype, np.integer):
        raise DataError(f"{where}: class ids are {raw.dtype}, not integers.")
    for value in (int(raw.min()), int(raw.max())) if raw.size else ():
        if not 0 <= value <= 255:
            raise DataError(f"{where}: class id {value} is outside {vocabulary}.")
    out = table[raw.astype(np.uint8, copy=False)]
    bad = out == 255
    if bad.any():
        raise DataError(f"{where}: class id {int(raw[bad].flat[0])} is outside {vocabulary}.")
    return out


def check_shape(array: np.ndarray, shape: tuple[int, ...], where: Path, what: str) -> None:
    """Raise DataError unless `array` has exactly `shape`."""
    if array.shape != shape:
        raise DataError(f"{where}: {what} has shape {array.shape}, expected {shape}.")


def pose_from_quaternion(translation, rotation_wxyz) -> np.ndarray:
    """A 4x4 rigid transform from a translation (3,) and a unit quaternion (w, x, y, z)."""
    w, x, y, z = np.asarray(rotation_wxyz, dtype=np.float64)
    n = np.sqrt(w * w + x * x + y * y + z * z)
    if not np.isfinite(n) or n < 1e-8:
        return np.full((4, 4), np.nan)
    w, x, y, z = w / n, x / n, y / n, z / n
    pose = np.eye(4)
    pose[:3, :3] = [
        [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
        [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
        [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
    ]
    pose[:3, 3] = np.asarray(translation, dtype=np.float64)
    return pose


def read_pose_lines(path: Path) -> np.ndarray:
    """Poses from a text file of one row-major 3x4 (12 floats) or 4x4 (16 floats) matrix a line."""
    if not path.is_file():
        raise DataError(f"{path}: poses file does not exist.")
    try:
        text = path.read_text()
    except UnicodeDecodeError as err:
        raise DataError(f"{path}: not a text file of poses ({reason(err)}).") from err
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            values = [float(v) for v in line.replace(",", " ").split()]
        except ValueError as err:
            raise DataError(f"{path}: line {number} is not a list of numbers.") from err
        if len(values) not in (12, 16):
            raise DataError(
                f"{path}: line {number} has {len(values)} numbers, expected 12 (3x4) or 16 (4x4)."
            )
        pose = np.eye(4)
        pose[: len(values) // 4] = np.reshape(values, (-1, 4))
        rows.append(pose)
    if not rows:
        raise DataError(f"{path}: poses file is empty.")
    poses = np.stack(rows)
    check_poses(poses, path)
    return poses


def read_binary(path: Path, dtype: type, count: int) -> np.ndarray:
    """A headerless little-endian binary array of exactly `count` items of `dtype` (CarlaSC's and
    SemanticKITTI's grids); a missing file or a wrong byte size is a DataError naming the file."""
    if not path.is_file():
        raise DataError(f"{path}: file does not exist.")
    expected = count * np.dtype(dtype).itemsize
    size = path.stat().st_size
    if size != expected:
        raise DataError(f"{path}: {size} bytes, expected {expected} ({count} x {np.dtype(dtype).name}).")
    return np.fromfile(path, dtype=np.dtype(dtype).newbyteorder("<"))

"""SemanticKITTI semantic scene completion in its distributed layout (semantic-kitti-api README).

`ROOT/dataset/sequences/NN/voxels/FFFFFF.label` holds one uint16 raw SemanticKITTI label id a voxel (0 =
empty) and its sibling `FFFFFF.invalid` one bit a voxel, eight to a byte, most significant bit first (1 =
a voxel no viewpoint of the scans observed). Both are headerless 256x256x32 grids flattened with x
(forward) outermost and z (up) innermost, i.e. C order of (X, Y, Z). A voxel frame exists for every fifth
scan (000000, 000005, ...), so the frames of a sequence run at 2 Hz. The `.bin` (the single-scan input) and
`.occluded` files are not read. `sequences/NN/poses.txt` holds one 3x4 row-major pose a scan in the left
camera frame; `sequences/NN/calib.txt` holds `Tr:`, the velodyne-to-camera transform (3x4 row-major).

Splits follow config/semantic-kitti.yaml: 00-07, 09, 10 train; 08 val; 11-21 test. The owners publish no
voxel labels for the test sequences (only `.bin` inputs): a test sequence whose voxels/ holds no `.label`
file is left out; one that holds labels is read as split "test".
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from dynamiccity.data.classes import (
    FREE,
    SEMANTICKITTI_CLASSES,
    SEMANTICKITTI_LEARNING_MAP,
    ClassKind,
)
from dynamiccity.data.errors import DataError, reason
from dynamiccity.data.reader import OccupancyReader, read_binary, read_pose_lines
from dynamiccity.data.scene import SEMANTICKITTI_GRID, SceneInfo, first_bad_pose

log = logging.getLogger(__name__)

SPLIT_SEQUENCES: dict[str, tuple[int, ...]] = {
    "train": (0, 1, 2, 3, 4, 5, 6, 7, 9, 10),
    "val": (8,),
    "test": tuple(range(11, 22)),
}
"""Which sequences form each split (semantic-kitti.yaml `split`, its "valid" named "val" here)."""
SPLIT_OF: dict[str, str] = {f"{n:02d}": split for split, numbers in SPLIT_SEQUENCES.items() for n in numbers}
SCAN_STEP = 5
"""Scans between consecutive voxel frames."""
EMPTY_RAW = 0
"""The raw label id of empty voxels; the other raw ids that learn as 0 are ignored."""
_UNKNOWN, _IGNORED = 255, 254


def _learning_table() -> np.ndarray:
    """(65536,) uint8: raw uint16 label id -> learning id 0..19, `_IGNORED` or `_UNKNOWN`."""
    table = np.full(1 << 16, _UNKNOWN, dtype=np.uint8)
    for raw, learning in SEMANTICKITTI_LEARNING_MAP.items():
        table[raw] = _IGNORED if learning == FREE and raw != EMPTY_RAW else learning
    return table


_TABLE = _learning_table()


class SemanticKITTIReader(OccupancyReader):
    """Reader for a SemanticKITTI root: the folder that holds `dataset/sequences/` (or `sequences/` itself).

    Labels are the 20 learning classes (native) or the common 12. Valid voxels are those not marked in
    `.invalid` and not of a raw class the owners' completion metric ignores (outlier, other-structure,
    other-object); those read as free and invalid. Poses are the velodyne (ego) frame's,
    inv(Tr) @ pose_cam @ Tr, of the scan of each voxel frame.
    """

    format = "semantickitti"
    grid = SEMANTICKITTI_GRID
    native_classes = SEMANTICKITTI_CLASSES

    def __init__(self, root: str | Path, classes: ClassKind = "common") -> None:
        super().__init__(root, classes)
        self._to_classes = self.native_classes.to_common if classes == "common" else None
        self.sequences = self._sequences_folder()
        self._scenes = self._list_scenes()

    def _sequences_folder(self) -> Path:
        for folder in (self.root / "dataset" / "sequences", self.root / "sequences"):
            if folder.is_dir():
                return folder
        raise DataError(
            f"{self.root}: no dataset/sequences/ folder; pass the SemanticKITTI root that holds it."
        )

    def _list_scenes(self) -> list[SceneInfo]:
        scenes = []
        for folder in sorted(p for p in self.sequences.iterdir() if p.is_dir()):
            split = SPLIT_OF.get(folder.name)
            if split is None:
                raise DataError(f"{folder}: not a SemanticKITTI sequence (folders 00..21).")
            labels = _voxel_labels(folder / "voxels")
            if not labels and split == "test":
                log.debug("%s: test sequence without voxel labels, left out", folder)
                continue
            if not labels:
                what = "holds no .label files" if (folder / "voxels").is_dir() else "folder does not exist"
                raise DataError(f"{folder / 'voxels'}: {what}, though {split} sequences ship voxel labels.")
            meta = {"scans": list(labels), "labels": list(labels.values())}
            scenes.append(SceneInfo(folder.name, split, len(labels), meta))
        if not scenes:
            raise DataError(f"{self.sequences}: no sequence with voxel labels.")
        return scenes

    def scenes(self) -> list[SceneInfo]:
        return list(self._scenes)

    def read_frames(self, scene: SceneInfo, start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
        """Frames [start, stop): labels (T, X, Y, Z) = (T, 256, 256, 32) uint8 ids of `classes`, valid
        (T, X, Y, Z) bool."""
        frames = [self._read_frame(path) for path in scene.meta["labels"][start:stop]]
        return np.stack([f[0] for f in frames]), np.stack([f[1] for f in frames])

    def _read_frame(self, label_path: Path) -> tuple[np.ndarray, np.ndarray]:
        """One voxel frame: labels (X, Y, Z) uint8 ids of `classes`, valid (X, Y, Z) bool."""
        count = int(np.prod(self.grid.shape))
        raw = read_binary(label_path, np.uint16, count)
        learning = _TABLE[raw]
        unknown = learning == _UNKNOWN
        if unknown.any():
            raise DataError(f"{label_path}: label id {raw[unknown][0]} is not a SemanticKITTI label id.")
        invalid_path = label_path.with_suffix(".invalid")
        invalid = np.unpackbits(read_binary(invalid_path, np.uint8, count // 8), bitorder="big")
        ignored = learning == _IGNORED
        labels = np.where(ignored, FREE, learning).astype(np.uint8)
        if self._to_classes is not None:
            labels = self._to_classes[labels]
        valid = (invalid == 0) & ~ignored
        return labels.reshape(self.grid.shape), valid.reshape(self.grid.shape)

    def pose_source(self, scene: SceneInfo) -> str:
        return "poses.txt and calib.txt (Tr) of each sequence, in the velodyne frame"

    def read_poses(self, scene: SceneInfo) -> np.ndarray:
        """(N, 4, 4) float64 velodyne-to-world poses of the scene's N voxel frames; the world is the
        velodyne frame of scan 0."""
        folder = self.sequences / scene.name
        velo_to_cam = read_velo_to_cam(folder / "calib.txt")
        path = folder / "poses.txt"
        cam = read_pose_lines(path)
        last = scene.meta["scans"][-1]
        if not last < len(cam) <= last + SCAN_STEP:
            raise DataError(
                f"{path}: {len(cam)} poses, expected {last + 1} to {last + SCAN_STEP} (one a scan; the "
                f"last voxel frame is scan {last:06d})."
            )
        return np.linalg.inv(velo_to_cam) @ cam[scene.meta["scans"]] @ velo_to_cam


def _voxel_labels(folder: Path) -> dict[int, Path]:
    """{scan number: its .label file} of a voxels/ folder in scan order, checked to come every
    `SCAN_STEP` scans without a gap; empty when the folder holds none."""
    files: dict[int, Path] = {}
    for path in sorted(folder.glob("*.label")):
        if not (path.stem.isdigit() and len(path.stem) == 6):
            raise DataError(f"{path}: voxel file names are six-digit scan numbers.")
        scan = int(path.stem)
        if scan % SCAN_STEP:
            raise DataError(f"{path}: scan {scan} is not a multiple of {SCAN_STEP}, as voxel frames are.")
        if files and scan != max(files) + SCAN_STEP:
            raise DataError(f"{path}: follows scan {max(files):06d}; the voxel frame between is missing.")
        files[scan] = path
    return files


def read_velo_to_cam(path: Path) -> np.ndarray:
    """The (4, 4) float64 velodyne-to-camera transform of a KITTI calib.txt, its `Tr:` line; checked rigid."""
    if not path.is_file():
        raise DataError(f"{path}: calibration file does not exist.")
    try:
        lines = path.read_text().splitlines()
    except UnicodeDecodeError as err:
        raise DataError(f"{path}: not a text calibration file ({reason(err)}).") from err
    for number, line in enumerate(lines, start=1):
        key, _, values = line.partition(":")
        if key.strip() == "Tr":
            return _transform(values, path, number)
    raise DataError(f"{path}: no 'Tr:' line (the velodyne-to-camera transform).")


def _transform(text: str, path: Path, number: int) -> np.ndarray:
    """A rigid 4x4 transform from 12 numbers (3x4 row-major) on line `number` of `path`."""
    try:
        values = [float(v) for v in text.split()]
    except ValueError as err:
        raise DataError(f"{path}: line {number} ('Tr:') is not a list of numbers.") from err
    if len(values) != 12:
        raise DataError(f"{path}: line {number} ('Tr:') has {len(values)} numbers, expected 12 (3x4).")
    transform = np.eye(4)
    transform[:3] = np.reshape(values, (3, 4))
    found = first_bad_pose(transform[None])
    if found is not None:
        raise DataError(f"{path}: Tr {found[1]}.")
    return transform

"""CarlaSC (MotionSC) in its distributed layout.

`ROOT/Cartesian/{Train,Val,Test}/<Town>_<Light|Medium|Heavy>/cartesian/` holds `poses.txt` (one 3x4
row-major matrix a line, indexed by frame number) and `evaluation/<frame>.label` (raw uint32 class ids,
no header, 128x128x8 in C order) with its sibling `<frame>.bin` (float32 point counts; 0 = unobserved).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dynamiccity.atomic import atomic_path, write_text
from dynamiccity.data.classes import CARLASC_CLASSES, CARLASC_TO_COMMON, ClassKind, lookup_table
from dynamiccity.data.errors import DataError
from dynamiccity.data.reader import OccupancyReader, read_binary, read_pose_lines, remap
from dynamiccity.data.scene import CARLASC_GRID, Scene, SceneInfo

SPLITS = ("Train", "Val", "Test")
_TABLE = lookup_table(CARLASC_TO_COMMON)


class CarlaSCReader(OccupancyReader):
    """Reader for a CarlaSC root: the folder that holds `Cartesian/`."""

    format = "carlasc"
    grid = CARLASC_GRID
    native_classes = CARLASC_CLASSES  # the same ids: its 11 classes are the common set without bicycle

    def __init__(self, root: str | Path, classes: ClassKind = "common") -> None:
        super().__init__(root, classes)
        self.cartesian = self.root / "Cartesian"
        if not self.cartesian.is_dir():
            raise DataError(f"{self.root}: no Cartesian/ folder; pass the CarlaSC root that holds it.")
        self._scenes = self._list_scenes()

    def _list_scenes(self) -> list[SceneInfo]:
        scenes = []
        for split in SPLITS:
            folder = self.cartesian / split
            sequences = sorted(p for p in folder.glob("*") if p.is_dir())
            if folder.is_dir() and not sequences:
                raise DataError(f"{folder}: split folder holds no sequences.")
            for seq in sequences:
                labels = self._label_files(seq / "cartesian" / "evaluation")
                meta = {"frame_ids": list(labels), "labels": list(labels.values())}
                scenes.append(SceneInfo(f"{split}/{seq.name}", split.lower(), len(labels), meta))
        if not scenes:
            raise DataError(f"{self.cartesian}: no sequences under {', '.join(SPLITS)}.")
        return scenes

    @staticmethod
    def _label_files(folder: Path) -> dict[int, Path]:
        """{frame number: its .label file} of a sequence, in frame order."""
        files: dict[int, Path] = {}
        for path in sorted(folder.glob("*.label")):
            if not path.stem.isdigit():
                raise DataError(f"{path}: label file names must be frame numbers.")
            frame = int(path.stem)
            if frame in files:
                raise DataError(f"{path}: frame {frame} is also in {files[frame].name}.")
            files[frame] = path
        if not files:
            raise DataError(f"{folder}: no .label files.")
        return dict(sorted(files.items()))

    def scenes(self) -> list[SceneInfo]:
        return list(self._scenes)

    def _folder(self, scene: SceneInfo) -> Path:
        return self.cartesian / scene.name / "cartesian"

    def read_frames(self, scene: SceneInfo, start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
        frames = [self._read_frame(path) for path in scene.meta["labels"][start:stop]]
        return np.stack([f[0] for f in frames]), np.stack([f[1] for f in frames])

    def _read_frame(self, label_path: Path) -> tuple[np.ndarray, np.ndarray]:
        count = int(np.prod(self.grid.shape))
        bin_path = label_path.with_suffix(".bin")
        raw = read_binary(label_path, np.uint32, count).reshape(self.grid.shape)
        points = read_binary(bin_path, np.float32, count).reshape(self.grid.shape)
        return remap(raw, _TABLE, label_path, "CarlaSC's 23 classes"), points > 0

    def pose_source(self, scene: SceneInfo) -> str:
        return "poses.txt of each sequence"

    def read_poses(self, scene: SceneInfo) -> np.ndarray:
        """The poses of the scene's frames; a missing poses.txt is an error, as CarlaSC ships one."""
        path = self._folder(scene) / "poses.txt"
        poses = read_pose_lines(path)
        last = scene.meta["frame_ids"][-1]
        if last >= len(poses):
            raise DataError(f"{path}: {len(poses)} poses, but frame {last} needs pose line {last + 1}.")
        return poses[scene.meta["frame_ids"]]


# Common id -> a raw CarlaSC id that maps back to it; bicycle has none, CARLA counts bicycles as vehicles.
COMMON_TO_CARLASC = np.array([0, 1, 2, 3, 4, 5, 7, 14, 8, 9, 10, 10], dtype=np.uint32)


def write_carlasc_sequence(root: str | Path, split: str, name: str, scene: Scene) -> Path:
    """Write a scene as one CarlaSC sequence `ROOT/Cartesian/<split>/<name>/cartesian/`.

    Labels are written as raw CarlaSC ids (bicycle becomes vehicle); the point-count file holds 1.0 for
    valid voxels and 0.0 elsewhere. Each file is written atomically. Returns the sequence folder.
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}.")
    if scene.labels.shape[1:] != CARLASC_GRID.shape:
        raise ValueError(f"CarlaSC frames are {CARLASC_GRID.shape}, the scene has {scene.labels.shape[1:]}.")
    folder = Path(root) / "Cartesian" / split / name / "cartesian"
    valid = scene.valid if scene.valid is not None else np.ones_like(scene.labels, dtype=bool)
    for t in range(scene.num_frames):
        with atomic_path(folder / "evaluation" / f"{t:06d}.label") as tmp:
            COMMON_TO_CARLASC[scene.labels[t]].tofile(tmp)
        with atomic_path(folder / "evaluation" / f"{t:06d}.bin") as tmp:
            valid[t].astype(np.float32).tofile(tmp)
    lines = [" ".join(f"{v:.9g}" for v in pose[:3].reshape(-1)) for pose in scene.poses]
    write_text(folder / "poses.txt", "\n".join(lines) + "\n")
    return folder

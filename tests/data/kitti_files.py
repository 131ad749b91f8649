"""A tiny SemanticKITTI copy written from the owners' documented schema, with numpy only.

Sources: the semantic-kitti-api README (layout, "the label is a 16-bit unsigned integer for each voxel"),
its auxiliary/SSCDataset.py (voxel frames are 256x256x32; `.label` read as uint16, `.invalid`, `.occluded`
and `.bin` as bytes unpacked most significant bit first), config/semantic-kitti.yaml (label ids, split),
generate_sequential.py (calib.txt lines `KEY: 12 numbers`, poses.txt one 3x4 row-major matrix a line, in the
camera frame: velodyne poses are inv(Tr) @ pose @ Tr), and the voxelizer's saveVoxelGrid (files written
in x, then y, then z loop order, z innermost; a voxel frame every 5th scan).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

VOXEL_DIMS = (256, 256, 32)
NUM_VOXELS = 256 * 256 * 32
SCAN_STEP = 5

# semantic-kitti.yaml `labels`: every raw id a .label file may hold
LABEL_NAMES = {
    0: "unlabeled", 1: "outlier", 10: "car", 11: "bicycle", 13: "bus", 15: "motorcycle", 16: "on-rails",
    18: "truck", 20: "other-vehicle", 30: "person", 31: "bicyclist", 32: "motorcyclist", 40: "road",
    44: "parking", 48: "sidewalk", 49: "other-ground", 50: "building", 51: "fence", 52: "other-structure",
    60: "lane-marking", 70: "vegetation", 71: "trunk", 72: "terrain", 80: "pole", 81: "traffic-sign",
    99: "other-object", 252: "moving-car", 253: "moving-bicyclist", 254: "moving-person",
    255: "moving-motorcyclist", 256: "moving-on-rails", 257: "moving-bus", 258: "moving-truck",
    259: "moving-other-vehicle",
}  # fmt: skip

# KITTI odometry's camera matrices as calib.txt lists them before Tr (values of sequence 00)
PROJECTIONS = {
    "P0": [718.856, 0, 607.1928, 0, 0, 718.856, 185.2157, 0, 0, 0, 1, 0],
    "P1": [718.856, 0, 607.1928, -386.1448, 0, 718.856, 185.2157, 0, 0, 0, 1, 0],
    "P2": [718.856, 0, 607.1928, 45.38225, 0, 718.856, 185.2157, -0.1130887, 0, 0, 1, 0.003779761],
    "P3": [718.856, 0, 607.1928, -337.2877, 0, 718.856, 185.2157, 2.369057, 0, 0, 1, 0.004915215],
}


@dataclass
class KittiSequence:
    """What was written for one sequence: raw (T, X, Y, Z) uint16 ids and invalid (T, X, Y, Z) bool of its
    voxel frames (None for a test sequence), the scan numbers of those frames, every scan's velodyne pose
    (S, 4, 4) and the velodyne-to-camera transform Tr (4, 4)."""

    raw: np.ndarray | None
    invalid: np.ndarray | None
    scans: list[int]
    velo_poses: np.ndarray
    velo_to_cam: np.ndarray


def velo_to_cam() -> np.ndarray:
    """A velodyne-to-camera transform as KITTI's: camera z forward (velodyne x), x right, y down, turned
    slightly and offset, so that it is far from the identity."""
    axes = np.array([[0.0, -1.0, 0.0], [0.0, 0.0, -1.0], [1.0, 0.0, 0.0]])
    c, s = np.cos(0.02), np.sin(0.02)
    tilt = np.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])
    tr = np.eye(4)
    tr[:3, :3] = tilt @ axes
    tr[:3, 3] = (-0.012, -0.054, -0.292)
    return tr


def velodyne_pose(scan: int) -> np.ndarray:
    """The ego drives forward (velodyne x) at 1 m a scan, turning 0.01 rad a scan and climbing slowly."""
    yaw = 0.01 * scan
    pose = np.eye(4)
    pose[:2, :2] = [[np.cos(yaw), -np.sin(yaw)], [np.sin(yaw), np.cos(yaw)]]
    pose[:3, 3] = (1.0 * scan, 0.05 * scan, 0.002 * scan)
    return pose


def pack_msb_first(bits: np.ndarray) -> np.ndarray:
    """Flat 0/1 values -> bytes, eight voxels a byte, the first in the most significant bit (the voxelizer's
    `pack`)."""
    weights = np.array([128, 64, 32, 16, 8, 4, 2, 1], dtype=np.uint16)
    return (bits.reshape(-1, 8).astype(np.uint16) * weights).sum(axis=1).astype(np.uint8)


def flat_index(x: int, y: int, z: int) -> int:
    """The position of voxel (x, y, z) in a file: x outermost, z innermost (saveVoxelGrid's loops)."""
    return (x * VOXEL_DIMS[1] + y) * VOXEL_DIMS[2] + z


def random_frame(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Flat raw ids (mostly empty, every documented id present) and flat invalid bits of one voxel frame."""
    ids = np.array(sorted(LABEL_NAMES), dtype=np.uint16)
    raw = np.where(rng.random(NUM_VOXELS) < 0.7, 0, rng.choice(ids, NUM_VOXELS)).astype(np.uint16)
    invalid = rng.random(NUM_VOXELS) < 0.3
    return raw, invalid


def write_voxel_frame(folder: Path, scan: int, raw: np.ndarray, invalid: np.ndarray) -> None:
    """The four files of one voxel frame; .bin and .occluded hold arbitrary bits."""
    stem = folder / f"{scan:06d}"
    raw.astype("<u2").tofile(stem.with_suffix(".label"))
    pack_msb_first(invalid).tofile(stem.with_suffix(".invalid"))
    pack_msb_first(raw > 0).tofile(stem.with_suffix(".bin"))
    pack_msb_first(invalid[::-1]).tofile(stem.with_suffix(".occluded"))


def write_calib(path: Path, tr: np.ndarray | None) -> None:
    """calib.txt as KITTI odometry ships it: P0..P3, then Tr (left out when `tr` is None)."""
    rows = {**PROJECTIONS, **({} if tr is None else {"Tr": tr[:3].reshape(-1)})}
    path.write_text(
        "".join(f"{key}: {' '.join(f'{v:.12e}' for v in values)}\n" for key, values in rows.items())
    )


def write_poses(path: Path, camera_poses: np.ndarray) -> None:
    """poses.txt: each scan's 3x4 camera pose, row-major, in KITTI's %e style."""
    path.write_text("".join(" ".join(f"{v:e}" for v in pose[:3].reshape(-1)) + "\n" for pose in camera_poses))


def write_sequence(
    sequences: Path, name: str, frames: int, scans: int, rng: np.random.Generator, labelled: bool = True
) -> KittiSequence:
    """sequences/<name>/ with `frames` voxel frames (scans 0, 5, ...) and `scans` poses; a test sequence
    (`labelled` False) gets its .bin inputs only, as the owners publish it."""
    folder = sequences / name
    (folder / "voxels").mkdir(parents=True)
    tr = velo_to_cam()
    velo = np.stack([velodyne_pose(s) for s in range(scans)])
    write_calib(folder / "calib.txt", tr)
    write_poses(folder / "poses.txt", tr @ velo @ np.linalg.inv(tr))
    frame_scans = [SCAN_STEP * t for t in range(frames)]
    raws, invalids = [], []
    for scan in frame_scans:
        raw, invalid = random_frame(rng)
        raw[flat_index(200, 10, 5)] = 10  # a car 40 m ahead, 23.6 m to the right (y < 0), 1 m below the LiDAR
        if labelled:
            write_voxel_frame(folder / "voxels", scan, raw, invalid)
        else:
            pack_msb_first(raw > 0).tofile(folder / "voxels" / f"{scan:06d}.bin")
        raws.append(raw.reshape(VOXEL_DIMS))  # C order is flat_index's order
        invalids.append(invalid.reshape(VOXEL_DIMS))
    if not labelled:
        return KittiSequence(None, None, frame_scans, velo, tr)
    return KittiSequence(np.stack(raws), np.stack(invalids), frame_scans, velo, tr)


def write_semantickitti(root: Path, sequences: dict[str, tuple[int, int]], seed: int = 0) -> dict:
    """ROOT/dataset/sequences/NN/ for each {NN: (voxel frames, scans)}; a test sequence (11..21) is written
    without labels. Returns {NN: KittiSequence}."""
    rng = np.random.default_rng(seed)
    folder = root / "dataset" / "sequences"
    return {
        name: write_sequence(folder, name, frames, scans, rng, labelled=int(name) <= 10)
        for name, (frames, scans) in sequences.items()
    }

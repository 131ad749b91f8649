"""Shared test helpers and options: writers of tiny datasets in each dataset's real on-disk layout
(independent of the package's readers), the in-process CLI, and --runslow for tests marked slow."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

# --set options that shrink a synthtown-micro VAE run to a 16x16x4 grid of 4 frames
TINY_VAE = [
    "--set", "grid=[16,16,4]", "--set", "frames=4", "--set", "ckpt_every=2", "--set", "val_windows=2",
    "--set", "weight_frames=8",
]  # fmt: skip


def pytest_addoption(parser):
    parser.addoption("--runslow", action="store_true", default=False, help="run tests marked slow")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--runslow"):
        return
    skip = pytest.mark.skip(reason="slow: pass --runslow to run")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


def cli(*argv):
    """Run the CLI in-process; typer exits with status 0 on success."""
    from dynamiccity.cli.main import main

    with pytest.raises(SystemExit) as exit_:
        main([str(a) for a in argv])
    if exit_.value.code:
        raise SystemExit(exit_.value.code)


def last_weights(run: Path, key: str = "model") -> dict:
    """The `key` tensors (model, optim, ema, ...) of a run's last checkpoint, verified."""
    from dynamiccity.train.checkpoint import open_checkpoint

    return open_checkpoint(run / "checkpoints", "last").tensors(key)


def tiny_town(root: Path) -> Path:
    """Three SynthTown scenes of 6 frames on a 16x16x4 grid (two train, one val)."""
    from dynamiccity.synthtown.dataset import synthesize

    synthesize(root, scenes=3, frames=6, grid=(16, 16, 4), seed=5, val_fraction=0.34)
    return root


CARLA_SHAPE = (128, 128, 8)
OCC3D_SHAPE = (200, 200, 16)


def yaw_pose(x: float, y: float, yaw: float) -> np.ndarray:
    pose = np.eye(4)
    c, s = np.cos(yaw), np.sin(yaw)
    pose[:2, :2] = [[c, -s], [s, c]]
    pose[:2, 3] = x, y
    return pose


def raw_carlasc_frame(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Raw CarlaSC ids 0..22 (uint32) and point counts (float32) with some unobserved voxels."""
    raw = rng.integers(0, 23, size=CARLA_SHAPE, dtype=np.uint32)
    counts = rng.integers(0, 3, size=CARLA_SHAPE).astype(np.float32)
    return raw, counts


def write_carlasc(
    root: Path, frames: int = 3, seed: int = 0, split: str = "Train", seq: str = "Town01_Light"
):
    """A CarlaSC root with one sequence, as the owners' loader (UMich-CURLY/3DMapping `Data/dataset.py`) reads
    it: `<seq>/cartesian/` with `evaluation/params.json` (`num_channels`, `grid_size`, `min_bound`,
    `max_bound`), `evaluation/NNNNNN.label` (uint32, the grid in C order), `evaluation/NNNNNN.bin` (float32
    point counts), `velodyne/NNNNNN.bin` (float32 x, y, z, intensity), `labels/NNNNNN.label` (uint32 per
    point), `poses.txt` (12 numbers a line, 3x4 row-major) and `times.txt`.
    Returns (raw labels (T,X,Y,Z), counts, poses (T,4,4))."""
    rng = np.random.default_rng(seed)
    folder = root / "Cartesian" / split / seq / "cartesian"
    for sub in ("evaluation", "velodyne", "labels"):
        (folder / sub).mkdir(parents=True)
    params = {"num_channels": 23, "grid_size": list(CARLA_SHAPE), "min_bound": [-25.6, -25.6, -2.0],
              "max_bound": [25.6, 25.6, 1.0]}  # fmt: skip
    (folder / "evaluation" / "params.json").write_text(json.dumps(params))
    (folder / "times.txt").write_text("".join(f"{0.1 * t:.6f}\n" for t in range(frames)))
    raws, counts, poses = [], [], []
    for t in range(frames):
        raw, count = raw_carlasc_frame(rng)
        raw.tofile(folder / "evaluation" / f"{t:06d}.label")
        count.tofile(folder / "evaluation" / f"{t:06d}.bin")
        rng.normal(size=(4, 4)).astype(np.float32).tofile(folder / "velodyne" / f"{t:06d}.bin")
        rng.integers(0, 23, size=4, dtype=np.uint32).tofile(folder / "labels" / f"{t:06d}.label")
        raws.append(raw)
        counts.append(count)
        poses.append(yaw_pose(0.5 * t, 0.1 * t, 0.01 * t))
    with open(folder / "poses.txt", "w") as f:
        for pose in poses:
            f.write(" ".join(str(v) for v in pose[:3].reshape(-1)) + "\n")
    return np.stack(raws), np.stack(counts), np.stack(poses)


def quaternion_wxyz(yaw: float) -> list[float]:
    return [float(np.cos(yaw / 2)), 0.0, 0.0, float(np.sin(yaw / 2))]


def nuscenes_token(scene: int, frame: int) -> str:
    """A 32-hex-digit frame token, as nuScenes writes its tokens."""
    return f"{scene:04x}{frame:04x}".rjust(32, "e")


def write_nuscenes(
    root: Path,
    scenes: dict[str, int],
    seed: int = 0,
    timestamps: str = "string",
    chain: bool = True,
    end: str | None = "",
    listed: str = "time",
) -> dict:
    """An Occ3D-nuScenes root written from the Occ3D README's schema: `gts/[scene_name]/[frame_token]/
    labels.npz` (`semantics` uint8 ids 0..17, `mask_lidar`, `mask_camera` uint8 0/1) and `annotations.json`
    with `train_split`, `val_split` and per frame `timestamp` (<str>), `camera_sensor`, `ego_pose`,
    `gt_path`, `prev` and `next` (`end` at a scene's ends). Variations: `timestamps` "string" (microseconds
    as a string, as documented), "number" (as derived files write them) or "token" (the README's "or
    token": not a number); `chain=False` leaves out prev/next; `listed` "time" (as documented) or
    "reversed" (frames listed against time). Returns {(scene, t): (semantics, lidar, camera)} in time order."""
    rng = np.random.default_rng(seed)
    infos, truth = {}, {}
    for s, (name, frames) in enumerate(scenes.items()):
        tokens = [nuscenes_token(s, t) for t in range(frames)]
        entries = {}
        for t, token in enumerate(tokens):
            semantics = rng.integers(0, 18, size=OCC3D_SHAPE, dtype=np.uint8)
            lidar = (rng.random(OCC3D_SHAPE) < 0.7).astype(np.uint8)
            camera = (rng.random(OCC3D_SHAPE) < 0.5).astype(np.uint8)
            path = root / "gts" / name / token / "labels.npz"
            path.parent.mkdir(parents=True)
            np.savez_compressed(path, semantics=semantics, mask_lidar=lidar, mask_camera=camera)
            stamp = 1_531_883_530_449_377 + 500_000 * t
            entries[token] = {
                "timestamp": {"string": str(stamp), "number": stamp, "token": token}[timestamps],
                "camera_sensor": {
                    f"cam{token[-8:]}": {
                        "img_path": f"imgs/CAM_FRONT/n015-2018-07-18-11-07-57+0800__CAM_FRONT__{stamp}.jpg",
                        "intrinsic": [[1266.4, 0.0, 816.3], [0.0, 1266.4, 491.5], [0.0, 0.0, 1.0]],
                        "extrinsic": {"translation": [1.7, 0.0, 1.5], "rotation": [0.5, -0.5, 0.5, -0.5]},
                        "ego_pose": {
                            "translation": [2.0 * t, 0.0, 0.0],
                            "rotation": quaternion_wxyz(0.02 * t),
                        },
                    }
                },
                "ego_pose": {"translation": [2.0 * t, 0.0, 0.0], "rotation": quaternion_wxyz(0.02 * t)},
                "gt_path": f"gts/{name}/{token}/labels.npz",
            }
            if chain:
                entries[token]["prev"] = tokens[t - 1] if t > 0 else end
                entries[token]["next"] = tokens[t + 1] if t + 1 < frames else end
            truth[(name, t)] = (semantics, lidar.astype(bool), camera.astype(bool))
        order = list(entries) if listed == "time" else list(reversed(entries))
        infos[name] = {token: entries[token] for token in order}
    names = list(scenes)
    annotations = {"train_split": names[:-1], "val_split": names[-1:], "scene_infos": infos}
    (root / "annotations.json").write_text(json.dumps(annotations))
    return truth


def write_waymo(
    root: Path,
    frames: int = 3,
    free_id: int = 23,
    seed: int = 0,
    ego2global: bool = True,
    mask_dtype: type = bool,
    fine_files: bool = False,
):
    """An Occ3D-Waymo root with one training scene, as the Occ3D README lays it out: `training/000/NNN_04.npz`
    (0.4 m: `voxel_label` uint8 200x200x16, `origin_voxel_state`, `final_voxel_state`, `infov` as
    `mask_dtype`). `fine_files` also writes each frame's 0.1 m file `NNN.npz` beside it, with the same keys
    at a stand-in size (the real ones are 1600x1600x64; a reader of the 0.4 m data must never open them).
    `ego2global` adds a 4x4 pose to every 0.4 m file (not in the published files; some converters add it).
    Returns the raw labels (T,X,Y,Z)."""
    rng = np.random.default_rng(seed)
    folder = root / "training" / "000"
    folder.mkdir(parents=True)
    raws = []
    for t in range(frames):
        raw = rng.integers(0, 15, size=OCC3D_SHAPE, dtype=np.uint8)
        raw[rng.random(OCC3D_SHAPE) < 0.6] = free_id
        masks = {
            key: (rng.random(OCC3D_SHAPE) < share).astype(mask_dtype)
            for key, share in (("origin_voxel_state", 0.8), ("final_voxel_state", 0.6), ("infov", 0.9))
        }
        arrays = {"voxel_label": raw, **masks}
        if ego2global:
            arrays["ego2global"] = yaw_pose(t, 0.0, 0.0)
        np.savez_compressed(folder / f"{t:03d}_04.npz", **arrays)
        if fine_files:
            np.savez_compressed(
                folder / f"{t:03d}.npz", **{key: np.zeros((8, 8, 4), np.uint8) for key in arrays}
            )
        raws.append(raw)
    return np.stack(raws)


TOWN_GRID = (8, 8, 2)


def write_town(root: Path, scenes: dict[str, tuple[str, int]], seed: int = 0) -> dict:
    """A SynthTown root of {name: (split, frames)} on an 8x8x2 grid, written with numpy and json only;
    returns {name: (labels (T,X,Y,Z) uint8, poses (T,4,4))}."""
    rng = np.random.default_rng(seed)
    entries, truth = [], {}
    for name, (split, frames) in scenes.items():
        labels = rng.integers(0, 12, size=(frames, *TOWN_GRID), dtype=np.uint8)
        poses = np.stack([yaw_pose(0.5 * t, 0.0, 0.02 * t) for t in range(frames)])
        (root / name).mkdir(parents=True)
        np.save(root / name / "labels.npy", labels)
        np.save(root / name / "poses.npy", poses)
        entries.append({"name": name, "split": split, "frames": frames, "meta": {}})
        truth[name] = (labels, poses)
    manifest = {
        "format": "synthtown", "version": 1, "grid": list(TOWN_GRID),
        "extent": [-4.0, -4.0, -1.0, 4.0, 4.0, 1.0], "hz": 10.0, "scenes": entries,
    }  # fmt: skip
    (root / "dataset.json").write_text(json.dumps(manifest))
    return truth

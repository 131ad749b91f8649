"""Dataset statistics that read every frame, so computing them also validates a dataset end to end."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from dynamiccity.data.reader import OccupancyReader

CHUNK = 16  # frames read at a time


@dataclass
class DatasetStats:
    """What `dynamiccity inspect` reports."""

    format: str
    scenes: int
    frames: int
    splits: dict[str, int]
    grid: list[int]
    extent: list[float]
    class_counts: dict[str, int]
    valid_fraction: float
    free_id: int | None
    poses: str
    """Where the ego poses come from (`OccupancyReader.pose_source`), or "none"."""

    def to_json(self) -> dict:
        data = asdict(self)
        if data["free_id"] is None:
            del data["free_id"]
        return data


def inspect_dataset(reader: OccupancyReader, progress=None) -> DatasetStats:
    """Read every frame and pose of a dataset, count classes over all voxels and say where poses come from.

    Args:
        reader: the dataset.
        progress: optional callable(frames_done: int) called after each chunk.
    """
    names = reader.classes.names
    counts = np.zeros(len(names), dtype=np.int64)
    valid_voxels = total_voxels = frames = 0
    splits: dict[str, int] = {}
    sources: list[str | None] = []
    for scene in reader.scenes():
        reader.read_poses(scene)
        sources.append(reader.pose_source(scene))
        splits[scene.split] = splits.get(scene.split, 0) + 1
        for start in range(0, scene.num_frames, CHUNK):
            labels, valid = reader.read_frames(scene, start, min(start + CHUNK, scene.num_frames))
            counts += np.bincount(labels.reshape(-1), minlength=len(names))
            total_voxels += labels.size
            valid_voxels += labels.size if valid is None else int(valid.sum())
            frames += labels.shape[0]
            if progress is not None:
                progress(frames)
    return DatasetStats(
        format=reader.format,
        scenes=sum(splits.values()),
        frames=frames,
        splits=splits,
        grid=list(reader.grid.shape),
        extent=list(reader.grid.extent),
        class_counts={name: int(c) for name, c in zip(names, counts, strict=True)},
        valid_fraction=valid_voxels / max(total_voxels, 1),
        free_id=reader.free_id,
        poses=describe_sources(sources),
    )


def describe_sources(sources: list[str | None]) -> str:
    """The distinct pose sources of the scenes in order, and how many scenes have none; "none" if no scene
    has poses."""
    found = list(dict.fromkeys(s for s in sources if s is not None))
    unposed = sources.count(None)
    if not found:
        return "none"
    if unposed:
        found.append(f"none for {unposed} of {len(sources)} scenes")
    return "; ".join(found)

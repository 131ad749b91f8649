"""Rendering scenes straight from a dataset on disk (what `dynamiccity render` calls)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dynamiccity.data import open_reader
from dynamiccity.data.errors import DataError
from dynamiccity.data.reader import OccupancyReader
from dynamiccity.data.scene import SceneInfo


def find_scene(reader: OccupancyReader, key: str) -> SceneInfo:
    """A scene by name, or by index into `reader.scenes()`."""
    scenes = reader.scenes()
    by_name = {s.name: s for s in scenes}
    if key in by_name:
        return by_name[key]
    if key.lstrip("-").isdigit() and -len(scenes) <= int(key) < len(scenes):
        return scenes[int(key)]
    raise DataError(
        f"{reader.root}: no scene {key!r} (it has {len(scenes)}: {', '.join(list(by_name)[:5])}, ...)."
    )


def _scene_frames(path: Path, format: str, scene: str, frames: slice, options: dict):
    """(reader, scene info, labels, valid) of frames `frames` of one scene; a SynthTown scene folder (one
    holding labels.npy) may be given as `path` directly."""
    if format == "synthtown" and (path / "labels.npy").is_file():
        path, scene = path.parent, path.name
    reader = open_reader(path, format, **options)
    info = find_scene(reader, scene)
    start, stop, step = frames.indices(info.num_frames)
    if not range(start, stop, step):
        raise DataError(
            f"{path}: frames {start}:{stop} select nothing of scene {info.name} ({info.num_frames})."
        )
    labels, valid = reader.read_frames(info, start, stop)
    return reader, info, labels[::step], None if valid is None else valid[::step]


def render_scene_file(
    path: str | Path, out: str | Path, format: str = "synthtown", scene: str = "0", frames: slice = slice(None),
    view: str = "3d", fps: float = 5.0, **options,
) -> int:  # fmt: skip
    """Render frames of one scene of a dataset to a PNG/GIF/MP4; returns the number of frames drawn.

    A SynthTown scene folder (one holding labels.npy) may be given as `path` directly.
    """
    from dynamiccity.viz import render_frames, save_animation

    reader, _, labels, valid = _scene_frames(Path(path), format, scene, frames, options)
    common = reader.classes.common
    images = render_frames(common(labels), view, valid=valid)
    save_animation(images, out, fps=fps)
    return len(images)


def view_scene_file(
    path: str | Path, out: str | Path, format: str = "synthtown", scene: str = "0", frames: slice = slice(None),
    fps: float = 5.0, **options,
) -> tuple[int, int]:  # fmt: skip
    """Write the interactive viewer page (`viz.viewer`) of one scene of a dataset; returns (frames, bytes).

    A SynthTown scene folder (one holding labels.npy) may be given as `path` directly. Voxels that a valid
    mask marks unobserved are left out of the page."""
    from dynamiccity.viz.viewer import write_viewer

    reader, info, labels, valid = _scene_frames(Path(path), format, scene, frames, options)
    if valid is not None:
        labels = np.where(valid, labels, 0).astype(np.uint8)
    title = f"{Path(path).name} / {info.name}" if info.name != Path(path).name else info.name
    size = write_viewer(labels, out, tuple(reader.grid.voxel_size), reader.classes, title, fps)
    return len(labels), size

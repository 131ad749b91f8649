"""Commands on datasets: synthesise SynthTown, inspect a dataset, render scenes."""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from dynamiccity.data import FORMATS, MASKS, reader_accepts
from dynamiccity.data.classes import CLASS_KINDS
from dynamiccity.data.scene import CARLASC_GRID
from dynamiccity.synthtown.dataset import SYNTH_FORMATS


def choices(name: str, values: tuple[str, ...]) -> type[Enum]:
    """A str Enum for typer from one of the package's lists (members named like the values)."""
    return Enum(name, {v.replace("-", "_"): v for v in values}, type=str)


FormatName = choices("FormatName", FORMATS)
SynthFormat = choices("SynthFormat", SYNTH_FORMATS)
MaskName = choices("MaskName", MASKS)
ClassesName = choices("ClassesName", CLASS_KINDS)


class View(str, Enum):
    bev = "bev"
    three_d = "3d"


FormatOpt = Annotated[FormatName, typer.Option("--format", "-f", help="On-disk layout of PATH.")]
MaskOpt = Annotated[MaskName, typer.Option(help="Occ3D only: which mask marks valid (observed) voxels.")]
ClassesOpt = Annotated[
    ClassesName,
    typer.Option(help="Class set: the common 12 classes, or the dataset's own (native; paper Table 1)."),
]
PosesOpt = Annotated[
    Path | None, typer.Option(help="Occ3D-Waymo only: folder of <split>/<scene>/poses.txt files.")
]


ScenePathArg = Annotated[
    Path, typer.Argument(help="Dataset root, or one scene folder of a SynthTown dataset.")
]
FramesOpt = Annotated[str, typer.Option(help="Frame range a:b (Python slice), or one index.")]
SceneOpt = Annotated[str, typer.Option(help="Scene index or name within the dataset.")]
SceneFormatOpt = Annotated[FormatName, typer.Option("--format", "-f", help="Layout of PATH.")]


def reader_options(format: Enum, mask: Enum, poses: Path | None, classes: Enum | None = None) -> dict:
    """Reader keyword arguments from CLI options, refusing options that do not apply to the format."""
    options: dict = {} if classes is None else {"classes": classes.value}
    if reader_accepts(format.value, "mask"):
        options["mask"] = mask.value
    elif mask != MaskName.lidar:
        raise typer.BadParameter(f"--mask applies to Occ3D formats only, not {format.value}.")
    if poses is not None:
        if not reader_accepts(format.value, "poses"):
            raise typer.BadParameter(f"--poses does not apply to {format.value}.")
        options["poses"] = poses
    return options


def synth(
    out: Annotated[Path, typer.Argument(help="Output dataset folder.")],
    scenes: Annotated[int, typer.Option(min=1, help="Number of scenes.")] = 20,
    frames: Annotated[int, typer.Option(min=1, help="Frames per scene (10 Hz).")] = 16,
    grid: Annotated[tuple[int, int, int], typer.Option(help="Voxel grid X Y Z.")] = (128, 128, 8),
    extent: Annotated[
        tuple[float, float, float, float, float, float],
        typer.Option(help="Metric extent x0 y0 z0 x1 y1 z1 around the ego (default: CarlaSC's)."),
    ] = CARLASC_GRID.extent,
    seed: Annotated[int, typer.Option(help="Base seed; scene i is seeded from (seed, i).")] = 0,
    val_fraction: Annotated[float, typer.Option(min=0.0, max=1.0, help="Share of scenes in 'val'.")] = 0.1,
    format: Annotated[
        SynthFormat, typer.Option("--format", "-f", help="Layout to write.")
    ] = SynthFormat.synthtown,
) -> None:
    """Synthesise SynthTown: procedural driving scenes with moving traffic and an ego vehicle."""
    from dynamiccity.synthtown.dataset import synthesize

    synthesize(out, scenes, frames, grid, seed, val_fraction, format.value, progress=True, extent=extent)
    typer.echo(f"wrote {scenes} scenes of {frames} frames to {out} ({format.value})")


def inspect(
    path: Annotated[Path, typer.Argument(help="Dataset root as distributed.")],
    format: FormatOpt,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    mask: MaskOpt = MaskName.lidar,
    poses: PosesOpt = None,
    classes: ClassesOpt = ClassesName.common,
) -> None:
    """Count scenes, frames and voxels per class; reads every frame, so it validates the dataset too."""
    from tqdm import tqdm

    from dynamiccity.data import open_reader
    from dynamiccity.data.inspect import inspect_dataset

    reader = open_reader(path, format.value, **reader_options(format, mask, poses, classes))
    total = sum(s.num_frames for s in reader.scenes())
    with tqdm(total=total, unit="frame", disable=None, leave=False) as bar:
        stats = inspect_dataset(reader, progress=lambda done: bar.update(done - bar.n))
    if json_out:
        typer.echo(json.dumps(stats.to_json(), indent=1))
        return
    typer.echo(format_stats(stats))


def format_stats(stats) -> str:
    """A human-readable summary of DatasetStats."""
    occupied = sum(c for name, c in stats.class_counts.items() if name != "free") or 1
    total = sum(stats.class_counts.values()) or 1
    lines = [
        f"format         {stats.format}",
        f"scenes         {stats.scenes}  ({', '.join(f'{k}: {v}' for k, v in sorted(stats.splits.items()))})",
        f"frames         {stats.frames}",
        f"grid           {' x '.join(map(str, stats.grid))}  extent {stats.extent}",
        f"valid voxels   {stats.valid_fraction:.4f}",
        f"poses          {stats.poses}",
    ]
    if stats.free_id is not None:
        lines.append(f"free id        {stats.free_id} (detected)")
    lines.append(f"{'class':<12} {'voxels':>14} {'% all':>8} {'% occupied':>11}")
    for name, count in stats.class_counts.items():
        share = "" if name == "free" else f"{100 * count / occupied:10.2f}%"
        lines.append(f"{name:<12} {count:>14,} {100 * count / total:7.2f}% {share:>11}")
    return "\n".join(lines)


def render(
    path: ScenePathArg,
    out: Annotated[Path, typer.Option(help="Output .png, .gif or .mp4.")],
    view: Annotated[View, typer.Option(help="Bird's-eye or 3D voxel view.")] = View.three_d,
    frames: FramesOpt = ":",
    scene: SceneOpt = "0",
    format: SceneFormatOpt = FormatName.synthtown,
    fps: Annotated[float, typer.Option(min=0.1, help="Frames per second of a GIF/MP4.")] = 5.0,
    mask: MaskOpt = MaskName.lidar,
    poses: PosesOpt = None,
) -> None:
    """Render a scene in the semantic colormap: one frame to PNG, a sequence to GIF/MP4."""
    from dynamiccity.viz.scene_files import render_scene_file

    options = reader_options(format, mask, poses)
    count = render_scene_file(
        path, out, format.value, scene, parse_frames(frames), view.value, fps, **options
    )
    typer.echo(f"wrote {out} ({count} frame{'s' if count != 1 else ''})")


def parse_frames(text: str) -> slice:
    """'a:b' -> slice(a, b); 'k' -> slice(k, k + 1)."""
    try:
        if ":" not in text:
            k = int(text)
            return slice(k, k + 1 if k != -1 else None)
        parts = [int(p) if p.strip() else None for p in text.split(":")]
    except ValueError as err:
        raise typer.BadParameter(f"--frames must look like a:b or k, got {text!r}.") from err
    if len(parts) > 3:
        raise typer.BadParameter(f"--frames must look like a:b or k, got {text!r}.")
    return slice(*parts)


def view(
    path: ScenePathArg,
    out: Annotated[Path, typer.Option(help="Output .html page (self-contained, opens offline).")],
    frames: FramesOpt = ":",
    scene: SceneOpt = "0",
    format: SceneFormatOpt = FormatName.synthtown,
    fps: Annotated[float, typer.Option(min=0.1, help="Frames per second of the play button.")] = 5.0,
    mask: MaskOpt = MaskName.lidar,
    poses: PosesOpt = None,
    classes: ClassesOpt = ClassesName.common,
) -> None:
    """Write an interactive 4D viewer page of a scene: voxels in the semantic colormap, orbit and zoom, a
    time slider with play, a class legend with toggles."""
    from dynamiccity.viz.scene_files import view_scene_file

    options = reader_options(format, mask, poses, classes)
    count, size = view_scene_file(path, out, format.value, scene, parse_frames(frames), fps, **options)
    typer.echo(f"wrote {out} ({count} frame{'s' if count != 1 else ''}, {size / 1e6:.1f} MB)")

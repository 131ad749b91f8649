"""Commands of the VAE stage: train-vae, eval-vae, reconstruct, encode."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from dynamiccity.cli.data_commands import ClassesName, FormatName, MaskName, MaskOpt, choices, reader_options
from dynamiccity.config import numbers_read
from dynamiccity.data.egoframe import COORDINATES
from dynamiccity.data.windows import SPLITS

if TYPE_CHECKING:
    from dynamiccity.pipeline import DataSpec

Split = choices("Split", tuple(SPLITS))

StepsOpt = Annotated[int | None, typer.Option(min=1, help="Stop after this many optimiser steps.")]
EpochsOpt = Annotated[int | None, typer.Option(min=1, help="Stop after this many epochs.")]
SetOpt = Annotated[
    list[str] | None,
    typer.Option("--set", help="Override a config value: key=value (model, train, data or loss key)."),
]
ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config", help="A YAML recipe (e.g. configs/*.yaml or a run's config.yaml) over the preset."
    ),
]
ResumeOpt = Annotated[
    bool,
    typer.Option(
        help="Continue the run in OUT from its last checkpoint (--set may change only its length and cadences)."
    ),
]
OverwriteOpt = Annotated[bool, typer.Option(help="Replace a run already in OUT.")]
DeviceOpt = Annotated[str | None, typer.Option(help="cpu or cuda (default: cuda when available).")]
CoordinatesName = choices("CoordinatesName", COORDINATES)
RefineOpt = Annotated[
    int | None,
    typer.Option(
        "--refine",
        min=0,
        help="Refine each encoding by this many gradient steps on its own window before decoding "
        "(semi-amortised encoding, docs/vae.md; 0: the encoder's latent as it is; default: as the VAE "
        "encodes, its encoding.refine).",
    ),
]
RefineLrOpt = Annotated[float, typer.Option(min=0.0, help="Step size of --refine's Adam steps.")]
RefinePriorOpt = Annotated[
    float, typer.Option(min=0.0, help="Weight of --refine's pull towards N(0, I), 0.5 * mean(z^2).")
]

RefineBinsOpt = Annotated[
    int,
    typer.Option(
        min=0, help="Order --refine's Lovasz errors by this many bins (0: an exact sort; docs/vae.md)."
    ),
]
RefineFramesOpt = Annotated[
    int | None,
    typer.Option(
        min=1,
        help="Decode this many evenly spaced frames of the window at each --refine step (default: all), "
        "for more steps in the same time (docs/vae.md).",
    ),
]


def refinement(steps: int | None, lr: float, prior: float, bins: int, frames: int | None = None):
    """The `Refinement` of --refine/--refine-lr/--refine-prior/--refine-bins/--refine-frames (steps 0: one
    pass); None, the VAE's own encoding, when --refine is not given."""
    from dynamiccity.vae.refine import Refinement

    if steps is None:
        return None
    return Refinement(
        steps=steps, lr=lr, prior_weight=prior, lovasz_bins=bins or None, frames_per_step=frames
    )


def parse_overrides(items: list[str] | None) -> dict:
    """'key=value' pairs, values parsed as YAML scalars/lists ('lr=5e-4', 'downsample=[2,2,2,1]')."""
    import yaml

    out = {}
    for item in items or []:
        if "=" not in item:
            raise typer.BadParameter(f"--set takes key=value, got {item!r}.")
        key, value = item.split("=", 1)
        out[key.strip()] = numbers_read(yaml.safe_load(value))
    return out


def train_vae(
    out: Annotated[Path, typer.Option(help="Run folder (checkpoints, config.yaml, TensorBoard logs).")],
    preset: Annotated[
        str | None,
        typer.Option(
            help="Model preset: carlasc, occ3d-waymo, occ3d-nuscenes, semantickitti, synthtown-tiny, ... "
            "(default: the config file's)."
        ),
    ] = None,
    config: ConfigOpt = None,
    data: Annotated[Path | None, typer.Option(help="Dataset root (default: the config file's).")] = None,
    format: Annotated[FormatName | None, typer.Option("--format", "-f", help="Layout of --data.")] = None,
    steps: StepsOpt = None,
    epochs: EpochsOpt = None,
    set_: SetOpt = None,
    resume: ResumeOpt = False,
    overwrite: OverwriteOpt = False,
    mask: MaskOpt = MaskName.lidar,
    classes: Annotated[
        ClassesName | None,
        typer.Option(
            help="Class set: common (12) or the dataset's own, native (default: the config file's, else common)."
        ),
    ] = None,
    device: DeviceOpt = None,
) -> None:
    """Train the HexPlane VAE (runs under torchrun for DDP)."""
    from dynamiccity.pipeline import RunRequest
    from dynamiccity.runs.training import VAE_RUN, start_run

    request = RunRequest(
        preset, config, parse_overrides(set_), vae_options(data, format, mask, steps, epochs, classes)
    )
    echo_summary(start_run(VAE_RUN, request, out, resume, overwrite, device))


def echo_summary(summary: dict | None) -> None:
    """The end of a training run, on rank 0."""
    if summary is not None:
        typer.echo(f"done: step {summary['step']}, validation {json.dumps(summary['metrics'])}")


def echo_json(result: dict, json_out: Path | None) -> None:
    """Print a command's result as JSON and, with --json, also write it there (atomically)."""
    text = json.dumps(result, indent=1)
    if json_out is not None:
        from dynamiccity.atomic import write_text

        write_text(json_out, text + "\n")
    typer.echo(text)


def vae_options(data: Path | None, format, mask, steps: int | None, epochs: int | None, classes=None) -> dict:
    """train-vae's own options in the shape of a run's config.yaml (only those given)."""
    explicit: dict = {"train": {k: v for k, v in (("steps", steps), ("epochs", epochs)) if v is not None}}
    if (data is None) != (format is None):
        raise typer.BadParameter("--data and --format go together.")
    if data is not None:
        options = {k: str(v) for k, v in reader_options(format, mask, None, classes).items()}
        explicit["data"] = {"path": str(data), "format": format.value, "options": options}
    elif classes is not None:  # over the config file's data
        explicit["data"] = {"options": {"classes": classes.value}}
    return explicit


def data_spec(data: Path, format, mask) -> DataSpec:
    """The dataset a scoring, reconstructing or encoding command reads."""
    from dynamiccity.pipeline import DataSpec

    return DataSpec(str(data), format.value, options=reader_options(format, mask, None))


def eval_vae(
    run_dir: Annotated[Path, typer.Argument(help="A train-vae run folder.")],
    data: Annotated[Path, typer.Option(help="Dataset root.")],
    format: Annotated[FormatName, typer.Option("--format", "-f", help="Layout of --data.")],
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Also write the metrics to this JSON file.")
    ] = None,
    split: Annotated[Split, typer.Option(help="Split to score.")] = Split.val,
    max_windows: Annotated[int | None, typer.Option(min=1, help="Score at most this many windows.")] = None,
    stride: Annotated[int | None, typer.Option(min=1, help="Window stride (default: the model's T).")] = None,
    mask: MaskOpt = MaskName.lidar,
    device: DeviceOpt = None,
    ego_motion: Annotated[
        bool,
        typer.Option(
            help="Also measure the ego's motion from the input and from the reconstruction of each "
            "window with poses (about a second a window)."
        ),
    ] = False,
    refine: RefineOpt = None,
    refine_lr: RefineLrOpt = 0.2,
    refine_prior: RefinePriorOpt = 0.0,
    refine_bins: RefineBinsOpt = 4096,
    refine_frames: RefineFramesOpt = None,
) -> None:
    """Reconstruction mIoU, occupancy IoU and per-class IoU of a trained VAE."""
    from dataclasses import replace

    from dynamiccity.pipeline import evaluate_vae

    spec = replace(data_spec(data, format, mask), stride=stride)
    how = refinement(refine, refine_lr, refine_prior, refine_bins, refine_frames)
    echo_json(evaluate_vae(run_dir, spec, split.value, max_windows, device, ego_motion, how), json_out)


def reconstruct(
    run_dir: Annotated[Path, typer.Argument(help="A train-vae run folder.")],
    data: Annotated[Path, typer.Option(help="Dataset root.")],
    format: Annotated[FormatName, typer.Option("--format", "-f", help="Layout of --data.")],
    out: Annotated[Path, typer.Option(help="Output folder (SynthTown dataset + gifs/).")],
    split: Annotated[Split, typer.Option(help="Split to reconstruct.")] = Split.val,
    max_windows: Annotated[int, typer.Option(min=1, help="Windows to reconstruct.")] = 8,
    gifs: Annotated[bool, typer.Option(help="Write input|reconstruction GIFs.")] = True,
    mask: MaskOpt = MaskName.lidar,
    device: DeviceOpt = None,
    refine: RefineOpt = None,
    refine_lr: RefineLrOpt = 0.2,
    refine_prior: RefinePriorOpt = 0.0,
    refine_bins: RefineBinsOpt = 4096,
    refine_frames: RefineFramesOpt = None,
) -> None:
    """Reconstruct windows through the VAE: scenes in SynthTown format and side-by-side GIFs."""
    from dynamiccity.pipeline import reconstruct

    how = refinement(refine, refine_lr, refine_prior, refine_bins, refine_frames)
    spec = data_spec(data, format, mask)
    count = reconstruct(run_dir, spec, out, split.value, max_windows, gifs, device, how)
    typer.echo(f"wrote {count} reconstructions to {out}")


def encode(
    run_dir: Annotated[Path, typer.Argument(help="A train-vae run folder.")],
    data: Annotated[Path, typer.Option(help="Dataset root.")],
    format: Annotated[FormatName, typer.Option("--format", "-f", help="Layout of --data.")],
    out: Annotated[Path, typer.Option(help="Latent folder for the DiT stage.")],
    stride: Annotated[int, typer.Option(min=1, help="Frames between window starts.")] = 1,
    mask: MaskOpt = MaskName.lidar,
    device: DeviceOpt = None,
    refine: RefineOpt = None,
    refine_lr: RefineLrOpt = 0.2,
    refine_prior: RefinePriorOpt = 0.0,
    refine_bins: RefineBinsOpt = 4096,
    refine_frames: RefineFramesOpt = None,
    coordinates: Annotated[
        CoordinatesName | None,
        typer.Option(
            help="Where windows are seen from: each frame's ego (as recorded) or each window's first frame's "
            "ego, where the static world stands still and sampling moves it along an ego path (needs poses); "
            "default: as the VAE was trained."
        ),
    ] = None,
    resume: Annotated[
        bool,
        typer.Option(
            help="Keep the shards an interrupted encoding to OUT wrote (same VAE, refinement, coordinates and "
            "data) and encode the rest."
        ),
    ] = False,
) -> None:
    """Encode every window to its HexPlane, with conditions and a manifest (checkpoint hash, latent stats)."""
    from dataclasses import replace

    from dynamiccity.pipeline import encode_latents

    spec = replace(data_spec(data, format, mask), stride=stride)
    how = refinement(refine, refine_lr, refine_prior, refine_bins, refine_frames)
    manifest = encode_latents(
        run_dir,
        spec,
        out,
        progress=True,
        device=device,
        refine=how,
        coordinates=None if coordinates is None else coordinates.value,
        resume=resume,
    )
    typer.echo(f"encoded {manifest.windows} windows to {out}")

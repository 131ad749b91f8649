"""Commands of the VAE stage: train-vae, eval-vae, reconstruct, encode."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from dynamiccity.cli.data_commands import FormatName, MaskName, reader_options

SetOpt = Annotated[
    list[str] | None,
    typer.Option("--set", help="Override a config value: key=value (model, train, data or loss key)."),
]


def parse_overrides(items: list[str] | None) -> dict:
    """'key=value' pairs, values parsed as YAML scalars/lists ('lr=5e-4', 'downsample=[2,2,2,1]')."""
    import yaml

    out = {}
    for item in items or []:
        if "=" not in item:
            raise typer.BadParameter(f"--set takes key=value, got {item!r}.")
        key, value = item.split("=", 1)
        out[key.strip()] = _number_or(yaml.safe_load(value))
    return out


def _number_or(value):
    """YAML 1.1 reads '2e-3' as a string: take such strings as numbers."""
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def train_vae(
    preset: Annotated[
        str, typer.Option(help="Model preset: carlasc, occ3d-waymo, occ3d-nuscenes, synthtown-tiny, ...")
    ],
    data: Annotated[Path, typer.Option(help="Dataset root.")],
    format: Annotated[FormatName, typer.Option("--format", "-f", help="Layout of --data.")],
    out: Annotated[Path, typer.Option(help="Run folder (checkpoints, config.yaml, TensorBoard logs).")],
    steps: Annotated[int | None, typer.Option(min=1, help="Stop after this many optimiser steps.")] = None,
    epochs: Annotated[int | None, typer.Option(min=1, help="Stop after this many epochs.")] = None,
    set_: SetOpt = None,
    resume: Annotated[bool, typer.Option(help="Continue from RUN/checkpoints/last.")] = False,
    mask: Annotated[MaskName, typer.Option(help="Occ3D only: valid-voxel mask.")] = MaskName.lidar,
    device: Annotated[str | None, typer.Option(help="cpu or cuda (default: cuda when available).")] = None,
) -> None:
    """Train the HexPlane VAE (runs under torchrun for DDP)."""
    from dynamiccity.vae.training import train_vae_run

    options = reader_options(format, mask, None)
    summary = train_vae_run(
        preset, data, format.value, out, steps, epochs, parse_overrides(set_), resume, options, device
    )
    if summary is not None:
        typer.echo(f"done: step {summary['step']}, validation {json.dumps(summary['metrics'])}")


def eval_vae(
    run_dir: Annotated[Path, typer.Argument(help="A train-vae run folder.")],
    data: Annotated[Path, typer.Option(help="Dataset root.")],
    format: Annotated[FormatName, typer.Option("--format", "-f", help="Layout of --data.")],
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Also write the metrics to this JSON file.")
    ] = None,
    split: Annotated[str, typer.Option(help="Split to score: val (default), train or all.")] = "val",
    max_windows: Annotated[int | None, typer.Option(min=1, help="Score at most this many windows.")] = None,
    stride: Annotated[int | None, typer.Option(min=1, help="Window stride (default: the model's T).")] = None,
    mask: Annotated[MaskName, typer.Option(help="Occ3D only: valid-voxel mask.")] = MaskName.lidar,
    device: Annotated[str | None, typer.Option(help="cpu or cuda (default: cuda when available).")] = None,
) -> None:
    """Reconstruction mIoU, occupancy IoU and per-class IoU of a trained VAE."""
    from dynamiccity.vae.evaluate import evaluate_run

    metrics = evaluate_run(
        run_dir, data, format.value, split, max_windows, stride, reader_options(format, mask, None), device
    )
    text = json.dumps(metrics, indent=1)
    if json_out is not None:
        from dynamiccity.atomic import write_text

        write_text(json_out, text + "\n")
    typer.echo(text)


def reconstruct(
    run_dir: Annotated[Path, typer.Argument(help="A train-vae run folder.")],
    data: Annotated[Path, typer.Option(help="Dataset root.")],
    format: Annotated[FormatName, typer.Option("--format", "-f", help="Layout of --data.")],
    out: Annotated[Path, typer.Option(help="Output folder (SynthTown dataset + gifs/).")],
    split: Annotated[str, typer.Option(help="val (default), train or all.")] = "val",
    max_windows: Annotated[int, typer.Option(min=1, help="Windows to reconstruct.")] = 8,
    gifs: Annotated[bool, typer.Option(help="Write input|reconstruction GIFs.")] = True,
    mask: Annotated[MaskName, typer.Option(help="Occ3D only: valid-voxel mask.")] = MaskName.lidar,
    device: Annotated[str | None, typer.Option(help="cpu or cuda (default: cuda when available).")] = None,
) -> None:
    """Reconstruct windows through the VAE: scenes in SynthTown format and side-by-side GIFs."""
    from dynamiccity.vae.outputs import reconstruct_run

    count = reconstruct_run(
        run_dir, data, format.value, out, split, max_windows, gifs, reader_options(format, mask, None), device
    )
    typer.echo(f"wrote {count} reconstructions to {out}")


def encode(
    run_dir: Annotated[Path, typer.Argument(help="A train-vae run folder.")],
    data: Annotated[Path, typer.Option(help="Dataset root.")],
    format: Annotated[FormatName, typer.Option("--format", "-f", help="Layout of --data.")],
    out: Annotated[Path, typer.Option(help="Latent folder for the DiT stage.")],
    stride: Annotated[int, typer.Option(min=1, help="Frames between window starts.")] = 1,
    mask: Annotated[MaskName, typer.Option(help="Occ3D only: valid-voxel mask.")] = MaskName.lidar,
    device: Annotated[str | None, typer.Option(help="cpu or cuda (default: cuda when available).")] = None,
) -> None:
    """Encode every window to its HexPlane, with conditions and a manifest (checkpoint hash, latent stats)."""
    from dynamiccity.vae.outputs import encode_run

    manifest = encode_run(
        run_dir, data, format.value, out, stride, reader_options(format, mask, None), True, device
    )
    typer.echo(f"encoded {manifest['windows']} windows to {out}")

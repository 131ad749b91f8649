"""Commands of the DiT stage: train-dit, sample."""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from dynamiccity.cli.vae_commands import parse_overrides


class SamplerName(str, Enum):
    ddpm = "ddpm"
    ddim = "ddim"
    dpmpp = "dpmpp"


def train_dit(
    preset: Annotated[str, typer.Option(help="Network preset: carlasc, occ3d-waymo, synthtown-tiny, ...")],
    latents: Annotated[Path, typer.Option(help="Latent folder written by `dynamiccity encode`.")],
    out: Annotated[Path, typer.Option(help="Run folder (checkpoints, config.yaml, TensorBoard logs).")],
    steps: Annotated[int | None, typer.Option(min=1, help="Stop after this many optimiser steps.")] = None,
    epochs: Annotated[int | None, typer.Option(min=1, help="Stop after this many epochs.")] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="Override a config value: key=value (model, diffusion or train key)."),
    ] = None,
    resume: Annotated[bool, typer.Option(help="Continue from RUN/checkpoints/last.")] = False,
    device: Annotated[str | None, typer.Option(help="cpu or cuda (default: cuda when available).")] = None,
) -> None:
    """Train the HexPlane DiT on encoded latents (runs under torchrun for DDP)."""
    from dynamiccity.dit.training import train_dit_run

    summary = train_dit_run(preset, latents, out, steps, epochs, parse_overrides(set_), resume, device)
    if summary is not None:
        typer.echo(f"done: step {summary['step']}, validation {json.dumps(summary['metrics'])}")


def sample(
    dit: Annotated[Path, typer.Option(help="A train-dit run folder.")],
    vae: Annotated[Path, typer.Option(help="The train-vae run whose latents the DiT learned.")],
    num: Annotated[int, typer.Option(min=1, help="Scenes to generate.")],
    out: Annotated[Path, typer.Option(help="Output folder (SynthTown dataset + gifs/ + sample.json).")],
    sampler: Annotated[SamplerName, typer.Option(help="ddpm (ancestral), ddim or dpmpp (DPM-Solver++).")] = (
        SamplerName.dpmpp
    ),
    steps: Annotated[int, typer.Option(min=1, help="Sampling steps.")] = 20,
    seed: Annotated[int, typer.Option(help="Seed: the same seed gives the same scenes.")] = 0,
    batch: Annotated[int, typer.Option(min=1, help="Scenes sampled together.")] = 4,
    gifs: Annotated[bool, typer.Option(help="Write a 3D GIF per scene.")] = True,
    device: Annotated[str | None, typer.Option(help="cpu or cuda (default: cuda when available).")] = None,
) -> None:
    """Generate scenes with the DiT's EMA weights and decode them with the VAE."""
    from dynamiccity.dit.sampling import sample_run

    facts = sample_run(dit, vae, num, out, sampler.value, steps, seed, batch, gifs, device)
    typer.echo(json.dumps(facts, indent=1))

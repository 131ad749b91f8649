"""`dynamiccity stats`: the model statistics of a trained VAE and DiT (paper appendix B.4)."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer


def stats(
    vae: Annotated[Path, typer.Option(help="A train-vae run folder.")],
    dit: Annotated[Path, typer.Option(help="A train-dit run folder, trained on that VAE's latents.")],
    json_out: Annotated[Path | None, typer.Option("--json", help="Write the rows here.")] = None,
    device: Annotated[
        str | None, typer.Option(help="cpu or cuda (default: the CPU, and CUDA too when available).")
    ] = None,
    repeats: Annotated[int, typer.Option(min=1, help="Timed repetitions after one warm-up.")] = 2,
) -> None:
    """Parameters, sizes, compression, and time and peak memory of training and inference, per device."""
    from dynamiccity.atomic import write_text
    from dynamiccity.bench.stats import model_stats, stats_devices, table

    rows = model_stats(vae, dit, stats_devices(device), repeats)
    typer.echo(table(rows))
    if json_out is not None:
        payload = {"rows": [asdict(row) for row in rows]}
        write_text(json_out, json.dumps(payload, indent=1) + "\n")

"""`dynamiccity bench ...`: performance measurements written as JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

bench_app = typer.Typer(help="Speed and memory benchmarks (JSON results).", no_args_is_help=True)


@bench_app.command("vae")
def bench_vae(
    preset: Annotated[str, typer.Option(help="VAE preset, e.g. carlasc.")] = "carlasc",
    encoder: Annotated[list[str] | None, typer.Option(help="projection and/or avgpool (repeatable).")] = None,
    decoder: Annotated[list[str] | None, typer.Option(help="ess and/or query (repeatable).")] = None,
    batch: Annotated[int, typer.Option(min=1)] = 1,
    repeats: Annotated[int, typer.Option(min=1, help="Timed repetitions after one warm-up.")] = 2,
    device: Annotated[str, typer.Option(help="cpu or cuda.")] = "cpu",
    json_out: Annotated[Path | None, typer.Option("--json", help="Write the results here.")] = None,
) -> None:
    """Training step, encode+decode time, peak memory, parameters and compression of the VAE."""
    from dynamiccity.atomic import write_text
    from dynamiccity.bench.vae import measure_isolated
    from dynamiccity.vae.config import vae_preset

    results = []
    for enc in encoder or ["projection"]:
        for dec in decoder or ["ess"]:
            cfg = vae_preset(preset).with_overrides(encoder=enc, decoder=dec)
            result = measure_isolated(preset, cfg, batch, repeats, device)
            typer.echo(json.dumps(result))
            results.append(result)
    payload = results[0] if len(results) == 1 else {"results": results}
    if json_out is not None:
        write_text(json_out, json.dumps(payload, indent=1) + "\n")

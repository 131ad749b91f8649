"""`dynamiccity bench ...`: performance measurements written as JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from dynamiccity.cli.data_commands import choices

bench_app = typer.Typer(help="Speed and memory benchmarks (JSON results).", no_args_is_help=True)
BenchDevice = choices("BenchDevice", ("cpu", "cuda"))
DeviceOpt = Annotated[BenchDevice, typer.Option(help="cpu or cuda.")]


@bench_app.command("vae")
def bench_vae(
    preset: Annotated[str, typer.Option(help="VAE preset, e.g. carlasc.")] = "carlasc",
    encoder: Annotated[list[str] | None, typer.Option(help="projection and/or avgpool (repeatable).")] = None,
    decoder: Annotated[list[str] | None, typer.Option(help="ess and/or query (repeatable).")] = None,
    batch: Annotated[int, typer.Option(min=1)] = 1,
    repeats: Annotated[int, typer.Option(min=1, help="Timed repetitions after one warm-up.")] = 2,
    device: DeviceOpt = BenchDevice.cpu,
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="Override a model config value: key=value (e.g. recompute=true)."),
    ] = None,
    lovasz_bins: Annotated[
        list[int] | None,
        typer.Option(
            min=0, help="The loss's Lovasz ordering: 0 sorts exactly, N > 0 uses N error bins (repeatable)."
        ),
    ] = None,
    refine: Annotated[
        int,
        typer.Option(
            min=0, help="Also time encodings refined by this many steps on their window (0: one pass)."
        ),
    ] = 0,
    refine_frames: Annotated[
        int | None,
        typer.Option(min=1, help="Frames each of --refine's steps decodes (default: all)."),
    ] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="Write the results here.")] = None,
) -> None:
    """Training step, encode+decode time, encoding time, peak memory, parameters and compression of the VAE;
    the FLOPs and share of the machine's matmul peak of each (a table after the JSON lines)."""
    from dynamiccity.atomic import write_text
    from dynamiccity.bench.flops import Rate, rate_table
    from dynamiccity.bench.vae import measure_isolated
    from dynamiccity.cli.vae_commands import parse_overrides
    from dynamiccity.vae.config import vae_preset

    overrides = parse_overrides(set_)
    results = []
    for enc in encoder or ["projection"]:
        for dec in decoder or ["ess"]:
            for bins in lovasz_bins or [0]:
                cfg = vae_preset(preset).with_overrides(**{**overrides, "encoder": enc, "decoder": dec})
                result = measure_isolated(
                    preset, cfg, batch, repeats, device.value, bins or None, refine, refine_frames
                )
                typer.echo(json.dumps(result))
                results.append(result)
    rates = {_vae_label(row, name): Rate(**rate) for row in results for name, rate in row["rates"].items()}
    typer.echo(rate_table(rates))
    payload = results[0] if len(results) == 1 else {"results": results}
    if json_out is not None:
        write_text(json_out, json.dumps(payload, indent=1) + "\n")


def _vae_label(row: dict, step: str) -> str:
    bins = "" if row["lovasz_bins"] is None else f", lovasz bins {row['lovasz_bins']}"
    frames = f" of {row['refine_frames']} frames" if row.get("refine_frames") else ""
    refined = (
        f" ({row['refine_steps']} refinement steps{frames})"
        if step == "encode" and row["refine_steps"]
        else ""
    )
    return f"{row['encoder']}/{row['decoder']}{bins}: {step}{refined}"


@bench_app.command("dit")
def bench_dit(
    preset: Annotated[str, typer.Option(help="DiT preset, e.g. carlasc.")] = "carlasc",
    sampler: Annotated[
        list[str] | None, typer.Option(help="Sampler-steps to time end to end, e.g. dpmpp-20 (repeatable).")
    ] = None,
    repeats: Annotated[int, typer.Option(min=1, help="Timed repetitions after one warm-up.")] = 2,
    device: DeviceOpt = BenchDevice.cpu,
    set_: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            help="Override a model config value: key=value (context_pool=2; conditions=[] for the "
            "unconditional network).",
        ),
    ] = None,
    guidance_interval: Annotated[
        tuple[int, int] | None,
        typer.Option(
            help="Guide a scene's steps whose training timestep lies in LO..HI only (default: all)."
        ),
    ] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="Write the results here.")] = None,
) -> None:
    """DiT training step (batch 1 and 8), peak memory, and seconds to generate one guided scene + decode; the
    FLOPs and share of the machine's matmul peak of each step it times (a table after the JSON)."""
    from dynamiccity.atomic import write_text
    from dynamiccity.bench.dit import measure_isolated
    from dynamiccity.bench.flops import Rate, rate_table
    from dynamiccity.cli.vae_commands import parse_overrides
    from dynamiccity.diffusion import SAMPLERS
    from dynamiccity.dit.conditions import CONDITIONS
    from dynamiccity.dit.config import dit_preset

    overrides = parse_overrides(set_)
    # a wrong preset or key is one line here, not a failure in the benchmark's process
    dit_preset(preset).with_overrides(**{"conditions": CONDITIONS, **overrides})
    samplers = []
    for item in sampler or ["dpmpp-20", "ddim-50"]:
        name, _, steps = item.partition("-")
        if name not in SAMPLERS or not steps.isdigit():
            raise typer.BadParameter(f"--sampler takes NAME-STEPS ({'|'.join(SAMPLERS)}), got {item!r}.")
        samplers.append((name, int(steps)))
    result = measure_isolated(preset, samplers, repeats, device.value, overrides, guidance_interval)
    text = json.dumps(result, indent=1)
    typer.echo(text)
    typer.echo(rate_table({name: Rate(**rate) for name, rate in result["rates"].items()}))
    if json_out is not None:
        write_text(json_out, text + "\n")


@bench_app.command("evaluator")
def bench_evaluator(
    scenes: Annotated[int, typer.Option(min=4, help="Generated and real scenes of 16x64x64x8 each.")] = 256,
    device: DeviceOpt = BenchDevice.cpu,
    json_out: Annotated[Path | None, typer.Option("--json", help="Write the results here.")] = None,
) -> None:
    """Seconds for eval-gen's work (renders, both extractors, every metric) on SCENES vs SCENES windows."""
    from dynamiccity.atomic import write_text
    from dynamiccity.bench.evaluator import measure

    text = json.dumps(measure(scenes, device.value), indent=1)
    typer.echo(text)
    if json_out is not None:
        write_text(json_out, text + "\n")

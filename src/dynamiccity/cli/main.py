"""Entry point of the `dynamiccity` command. Heavy libraries are imported inside commands only."""

from __future__ import annotations

import logging
import sys
from typing import Annotated

import typer

from dynamiccity.cli import data_commands, dit_commands, eval_commands, stats_command, vae_commands
from dynamiccity.cli.bench_commands import bench_app

app = typer.Typer(
    name="dynamiccity",
    help="DynamicCity: 4D semantic occupancy generation (HexPlane VAE + DiT).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.command("synth")(data_commands.synth)
app.command("inspect")(data_commands.inspect)
app.command("render")(data_commands.render)
app.command("view")(data_commands.view)
app.command("train-vae")(vae_commands.train_vae)
app.command("eval-vae")(vae_commands.eval_vae)
app.command("reconstruct")(vae_commands.reconstruct)
app.command("encode")(vae_commands.encode)
app.command("train-dit")(dit_commands.train_dit)
app.command("sample")(dit_commands.sample)
app.command("eval-forecast")(dit_commands.eval_forecast)
app.command("eval-dit")(dit_commands.eval_dit)
app.command("city")(dit_commands.city)
app.command("demo")(dit_commands.demo)
app.command("stats")(stats_command.stats)
app.command("train-evaluator")(eval_commands.train_evaluator)
app.command("eval-gen")(eval_commands.eval_gen)
app.add_typer(bench_app, name="bench")


@app.callback()
def _root(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log debug messages.")] = False,
) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO, format="%(levelname)s %(name)s: %(message)s"
    )


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; a bad-input error is one line on stderr and exit status 1."""
    from dynamiccity.data.errors import DataError

    try:
        app(args=argv, prog_name="dynamiccity")
    except (DataError, FileNotFoundError, ValueError) as err:
        typer.echo(f"error: {err}", err=True)
        sys.exit(1)

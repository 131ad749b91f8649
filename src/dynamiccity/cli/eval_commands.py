"""Commands of generation evaluation: train-evaluator, eval-gen."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from dynamiccity.broken import BROKEN
from dynamiccity.cli.data_commands import FormatName, MaskName, MaskOpt, choices
from dynamiccity.cli.vae_commands import (
    ConfigOpt,
    DeviceOpt,
    EpochsOpt,
    OverwriteOpt,
    ResumeOpt,
    SetOpt,
    StepsOpt,
    data_spec,
    echo_summary,
    parse_overrides,
    vae_options,
)  # fmt: skip

Broken = choices("Broken", BROKEN)


def train_evaluator(
    out: Annotated[Path, typer.Option(help="Evaluator folder (checkpoints, config.yaml, protocol.json).")],
    data: Annotated[
        Path | None, typer.Option(help="Real scenes to train on (default: the config file's).")
    ] = None,
    format: Annotated[FormatName | None, typer.Option("--format", "-f", help="Layout of --data.")] = None,
    config: ConfigOpt = None,
    steps: StepsOpt = None,
    epochs: EpochsOpt = None,
    set_: SetOpt = None,
    resume: ResumeOpt = False,
    overwrite: OverwriteOpt = False,
    mask: MaskOpt = MaskName.lidar,
    device: DeviceOpt = None,
) -> None:
    """Train the 3D and 2D feature extractors of the generation metrics on real scenes."""
    from dynamiccity.pipeline import RunRequest
    from dynamiccity.runs.training import EVALUATOR_RUN, start_run

    request = RunRequest(None, config, parse_overrides(set_), vae_options(data, format, mask, steps, epochs))
    echo_summary(start_run(EVALUATOR_RUN, request, out, resume, overwrite, device))


def eval_gen(
    evaluator: Annotated[
        str, typer.Option(help="A train-evaluator folder, or a shipped evaluator's name (synthtown).")
    ],
    real: Annotated[Path, typer.Option(help="Real scenes (dataset root).")],
    fake: Annotated[Path, typer.Option(help="Generated scenes (a `sample` output folder, or any dataset).")],
    real_format: Annotated[FormatName, typer.Option(help="Layout of --real.")] = FormatName.synthtown,
    fake_format: Annotated[FormatName, typer.Option(help="Layout of --fake.")] = FormatName.synthtown,
    json_out: Annotated[Path | None, typer.Option("--json", help="Also write the scores here.")] = None,
    max_windows: Annotated[
        int | None, typer.Option(min=3, help="Use at most this many windows of each (at least 3).")
    ] = None,
    references: Annotated[
        bool, typer.Option(help="Also score the floor (real vs real) and deliberately broken generators.")
    ] = False,
    subsets: Annotated[
        int,
        typer.Option(
            min=0,
            help="Also score against this many disjoint real subsets of the fake set's size, and the floor "
            "at that size: mean and std, the noise of a comparison at this sample size.",
        ),
    ] = 0,
    break_: Annotated[
        Broken | None,
        typer.Option(
            "--break", help="Break the fake windows first (a reference point: a generator known to be wrong)."
        ),
    ] = None,
    device: DeviceOpt = None,
) -> None:
    """IS, FID, KID, precision and recall in 2D and 3D (paper Table 2) of generated scenes against real ones."""
    from dynamiccity.evaluation.generation import eval_gen as evaluate

    result = evaluate(
        evaluator, data_spec(real, real_format, MaskName.lidar), data_spec(fake, fake_format, MaskName.lidar),
        max_windows, references, device, subsets, None if break_ is None else break_.value,
    )  # fmt: skip
    for kind in ("2d", "3d"):
        row = result[kind]
        typer.echo(
            f"{kind}: IS {row['is']:.3f}  FID {row['fid']:.4g}  KID {row['kid']:.4g}  "
            f"P {row['precision']:.3f}  R {row['recall']:.3f}  (k-NN P {row['precision_knn']:.3f} R {row['recall_knn']:.3f})"
        )
    if subsets:
        at = result["at_size"]
        for part in ("fake", "floor"):
            for kind in ("2d", "3d"):
                row = at[part][kind]
                typer.echo(
                    f"{part} at {at['size']} windows, {kind}: FID {row['fid']['mean']:.4g} ± {row['fid']['std']:.2g}  "
                    f"KID {row['kid']['mean']:.4g} ± {row['kid']['std']:.2g}"
                )
    if json_out is not None:
        from dynamiccity.atomic import write_text

        write_text(json_out, json.dumps(result, indent=1) + "\n")

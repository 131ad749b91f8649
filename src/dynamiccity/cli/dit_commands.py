"""Commands of the DiT stage: train-dit, sample."""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from dynamiccity.cli.data_commands import FormatName, choices
from dynamiccity.cli.vae_commands import (
    ConfigOpt,
    DeviceOpt,
    EpochsOpt,
    OverwriteOpt,
    ResumeOpt,
    Split,
    StepsOpt,
    echo_json,
    echo_summary,
    parse_overrides,
)
from dynamiccity.data.derive import Command
from dynamiccity.diffusion import SAMPLERS
from dynamiccity.protocols import PROTOCOL_NAMES, PROTOCOLS

SamplerName = choices("SamplerName", SAMPLERS)
ProtocolName = choices("ProtocolName", PROTOCOL_NAMES)
CommandName = choices("CommandName", tuple(c.name.lower() for c in Command))
Direction = Enum("Direction", {"px": "+x", "mx": "-x", "py": "+y", "my": "-y"}, type=str)
"""Outpainting directions, as `dynamiccity.dit.editing.DIRECTIONS` (kept here so that the CLI needs no torch)."""
ContextSteerOpt = Annotated[
    float,
    typer.Option(
        min=0.0,
        help="Steer what an edit generates towards the scene it keeps, through the VAE's decoder, by gradient "
        "steps of this size (0: none; 0.03 is a good start): inpainting, outpainting, a city's tiles, a "
        "world-coordinate DiT's strips ahead and its forecast (towards the world the past saw).",
    ),
]
GuidanceIntervalOpt = Annotated[
    tuple[int, int] | None,
    typer.Option(
        help="Guide only the sampling steps whose training timestep lies in LO..HI (0-999), the conditional "
        "model alone elsewhere at half a guided step's cost (default: every step; docs/dit.md).",
    ),
]
SteerIterationsOpt = Annotated[
    int, typer.Option(min=1, help="Gradient steps per sampling step of --layout-steer and --context-steer.")
]


def train_dit(
    out: Annotated[Path, typer.Option(help="Run folder (checkpoints, config.yaml, TensorBoard logs).")],
    preset: Annotated[
        str | None,
        typer.Option(
            help="Network preset: carlasc, occ3d-waymo, synthtown-tiny, ... (default: the config file's)."
        ),
    ] = None,
    config: ConfigOpt = None,
    latents: Annotated[
        Path | None,
        typer.Option(help="Latent folder written by `dynamiccity encode` (default: the config file's)."),
    ] = None,
    steps: StepsOpt = None,
    epochs: EpochsOpt = None,
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="Override a config value: key=value (model, diffusion or train key)."),
    ] = None,
    unconditional: Annotated[
        bool,
        typer.Option(
            help="Train without conditions (default: every condition the latents carry, each dropped at "
            "random so that one network also samples unconditionally)."
        ),
    ] = False,
    resume: ResumeOpt = False,
    overwrite: OverwriteOpt = False,
    device: DeviceOpt = None,
) -> None:
    """Train the HexPlane DiT on encoded latents (runs under torchrun for DDP)."""
    from dynamiccity.pipeline import RunRequest
    from dynamiccity.runs.training import DIT_RUN, start_run

    explicit: dict = {"train": {k: v for k, v in (("steps", steps), ("epochs", epochs)) if v is not None}}
    if latents is not None:
        explicit["latents"] = str(latents)
    if unconditional:
        explicit["model"] = {"conditions": []}
    request = RunRequest(preset, config, parse_overrides(set_), explicit)
    echo_summary(start_run(DIT_RUN, request, out, resume, overwrite, device))


def sample(
    dit: Annotated[Path, typer.Option(help="A train-dit run folder.")],
    vae: Annotated[Path, typer.Option(help="The train-vae run whose latents the DiT learned.")],
    num: Annotated[int, typer.Option(min=1, help="Scenes to generate.")],
    out: Annotated[Path, typer.Option(help="Output folder (SynthTown dataset + gifs/ + sample.json).")],
    sampler: Annotated[
        SamplerName, typer.Option(help="ddpm (ancestral), ddim or dpmpp (DPM-Solver++).")
    ] = SamplerName.dpmpp,
    steps: Annotated[int, typer.Option(min=1, help="Sampling steps.")] = 20,
    seed: Annotated[int, typer.Option(help="Seed: the same seed gives the same scenes.")] = 0,
    batch: Annotated[int, typer.Option(min=1, help="Scenes sampled together.")] = 4,
    command: Annotated[CommandName | None, typer.Option(help="Ego command to generate.")] = None,
    trajectory: Annotated[
        Path | None,
        typer.Option(help="Ego path: .npy (T, 2) or (T, 3), x, y (, yaw) in the first frame's ego frame."),
    ] = None,
    layout: Annotated[
        Path | None, typer.Option(help="Vehicles' bird's-eye map per frame: .npy (T, X/d, Y/d) boolean.")
    ] = None,
    layout_from: Annotated[
        str | None, typer.Option(help="Take the layout of this scene of --data (its first window).")
    ] = None,
    single_frame: Annotated[
        str | None, typer.Option(help="SCENE:FRAME of --data: generate the window that frame begins.")
    ] = None,
    condition_scene: Annotated[
        str | None, typer.Option(help="Grow scenes from this scene of --data (its first window).")
    ] = None,
    extend: Annotated[
        int | None,
        typer.Option(min=1, help="Frames per scene; beyond one window, scenes grow window by window."),
    ] = None,
    cfg_scale: Annotated[
        float, typer.Option(min=0.0, help="Classifier-free guidance scale (1: none).")
    ] = 1.0,
    guidance_interval: GuidanceIntervalOpt = None,
    layout_steer: Annotated[
        float,
        typer.Option(
            min=0.0,
            help="With --layout/--layout-from: steer every step towards the layout through the VAE's "
            "decoder, by gradient steps of this size (0: none; 0.03 is a good start).",
        ),
    ] = 0.0,
    context_steer: ContextSteerOpt = 0.0,
    steer_iterations: SteerIterationsOpt = 3,
    inpaint: Annotated[
        str | None, typer.Option(help="Regenerate the --mask region of this scene of --data (first window).")
    ] = None,
    mask: Annotated[
        str | None,
        typer.Option(help="Region to inpaint: x0:x1,y0:y1 (voxels), an .npy (X, Y) or a PNG over the BEV."),
    ] = None,
    outpaint: Annotated[
        str | None, typer.Option(help="Grow this scene of --data (first window) beyond its edge.")
    ] = None,
    direction: Annotated[
        Direction, typer.Option(help="Where --outpaint grows the scene (+x is ahead of the ego).")
    ] = Direction.px,
    times: Annotated[int, typer.Option(min=1, help="Outpainting steps of half a window each.")] = 1,
    resample: Annotated[
        int,
        typer.Option(
            min=1, help="Inpainting/outpainting: run every step this many times (RePaint resampling)."
        ),
    ] = 1,
    ahead: Annotated[
        bool,
        typer.Option(
            help="World-coordinate DiTs: outpaint each window where its ego path looks beyond it "
            "(--no-ahead: that strip is free)."
        ),
    ] = True,
    data: Annotated[Path | None, typer.Option(help="Dataset that scene names refer to.")] = None,
    format: Annotated[
        FormatName, typer.Option("--format", "-f", help="Layout of --data.")
    ] = FormatName.synthtown,
    gifs: Annotated[bool, typer.Option(help="Write a 3D GIF per scene.")] = True,
    device: DeviceOpt = None,
) -> None:
    """Generate scenes with the DiT's EMA weights and decode them with the VAE, optionally conditioned, or
    inpaint or outpaint a scene."""
    from dynamiccity.editing.edits import EditRequest
    from dynamiccity.pipeline import (
        ConditionRequest,
        DataSpec,
        Features,
        Repaint,
        SampleSpec,
        Steering,
        sample,
    )

    request = ConditionRequest(
        command=None if command is None else command.value,
        trajectory=trajectory,
        layout=layout,
        layout_from=layout_from,
        single_frame=single_frame,
        condition_scene=condition_scene,
        data=None if data is None else DataSpec(str(data), format.value),
    )
    spec = SampleSpec(sampler.value, steps, seed, batch, cfg_scale, guidance_interval)
    features = Features(
        repaint=Repaint(rounds=resample),
        ahead=ahead,
        steering=Steering(layout=layout_steer, context=context_steer, iterations=steer_iterations),
    )
    edit = None
    if inpaint is not None or outpaint is not None or mask is not None:
        edit = EditRequest(inpaint, mask, outpaint, direction.value, times)
    facts = sample(dit, vae, num, out, spec, gifs, device, request, extend, edit, features)
    typer.echo(json.dumps(facts, indent=1))


def eval_forecast(
    data: Annotated[Path, typer.Option(help="Real scenes with ego poses (dataset root).")],
    dit: Annotated[
        Path | None,
        typer.Option(
            help="A train-dit run folder trained with the previous condition (not with --protocol)."
        ),
    ] = None,
    vae: Annotated[
        Path | None,
        typer.Option(help="The train-vae run whose latents the DiT learned (not with --protocol)."),
    ] = None,
    protocol: Annotated[
        ProtocolName | None,
        typer.Option(
            help="Score the baselines as the field reports forecasts: 2 s of history, mIoU and IoU at 1, 2 "
            "and 3 s at 2 Hz (occworld: OccWorld's settings; dome, i2world: theirs)."
        ),
    ] = None,
    format: Annotated[
        FormatName, typer.Option("--format", "-f", help="Layout of --data.")
    ] = FormatName.synthtown,
    split: Annotated[Split, typer.Option(help="Which scenes: train, val or all.")] = Split.all,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Also write the scores to this JSON file.")
    ] = None,
    max_windows: Annotated[
        int | None, typer.Option(min=1, help="Forecast at most this many windows (pairs with --protocol).")
    ] = None,
    with_trajectory: Annotated[
        bool,
        typer.Option(
            help="Also give the DiT the future ego trajectory (from the poses); a world-coordinate DiT's "
            "forecast is then shown along it (else along the past's motion continued)."
        ),
    ] = False,
    sampler: Annotated[SamplerName, typer.Option(help="ddpm, ddim or dpmpp.")] = SamplerName.dpmpp,
    steps: Annotated[int, typer.Option(min=1, help="Sampling steps.")] = 20,
    seed: Annotated[int, typer.Option(help="Seed of the sampling noise.")] = 0,
    batch: Annotated[int, typer.Option(min=1, help="Windows forecast together.")] = 8,
    cfg_scale: Annotated[
        float, typer.Option(min=0.0, help="Classifier-free guidance scale (1: none).")
    ] = 1.0,
    guidance_interval: GuidanceIntervalOpt = None,
    ahead: Annotated[
        bool, typer.Option(help="World-coordinate DiTs: outpaint where the ego looks beyond the forecast.")
    ] = True,
    votes: Annotated[
        int,
        typer.Option(
            min=1, help="Forecasts per window, voted voxel by voxel into one (the most frequent class)."
        ),
    ] = 1,
    quorum: Annotated[
        int,
        typer.Option(
            min=1, help="Of the --votes forecasts, how many must agree on a voxel's class (else free)."
        ),
    ] = 1,
    context_steer: ContextSteerOpt = 0.0,
    steer_iterations: SteerIterationsOpt = 3,
    device: DeviceOpt = None,
) -> None:
    """Forecast each next window from the one before and score mIoU and IoU per future frame against
    copy-last and ego-motion-compensated copy-last; with --protocol, score the baselines only, as the
    forecasting papers do (see `dynamiccity.evaluation.forecast_protocol`)."""
    from dynamiccity.pipeline import DataSpec, Features, SampleSpec, Steering

    spec = DataSpec(str(data), format.value)
    if protocol is not None:
        if dit is not None or vae is not None:
            raise typer.BadParameter(
                "--protocol scores the baselines only: our DiT forecasts T frames from the T before them, and "
                "no T fits a history shorter than the future (5 frames and 6 at 2 Hz).",
                param_hint="--dit/--vae",
            )
        from dynamiccity.evaluation.forecast_protocol import eval_forecast_protocol

        echo_json(eval_forecast_protocol(PROTOCOLS[protocol.value], spec, split.value, max_windows), json_out)
        return
    if dit is None or vae is None:
        raise typer.BadParameter(
            "forecasting with the DiT needs both --dit and --vae.", param_hint="--dit/--vae"
        )
    from dynamiccity.evaluation.forecast import eval_forecast as run

    sampling = SampleSpec(sampler.value, steps, seed, batch, cfg_scale, guidance_interval)
    features = Features(ahead=ahead, steering=Steering(context=context_steer, iterations=steer_iterations))
    scores = run(dit, vae, spec, sampling, device, max_windows, trajectory=with_trajectory, split=split.value,
                 votes=votes, quorum=quorum, features=features)  # fmt: skip
    echo_json(scores, json_out)


def eval_dit(
    dit: Annotated[Path, typer.Argument(help="A train-dit run folder trained with conditions.")],
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Also write the losses to this JSON file.")
    ] = None,
    windows: Annotated[int, typer.Option(min=1, help="Held-out windows scored.")] = 64,
    repeats: Annotated[int, typer.Option(min=1, help="Noisings of each window.")] = 4,
    t_min: Annotated[
        int, typer.Option(min=0, help="Draw timesteps from [T_MIN, train steps) only: the noisy end.")
    ] = 0,
    batch: Annotated[int, typer.Option(min=1, help="Windows per forward pass.")] = 16,
    ema: Annotated[
        bool,
        typer.Option(help="Score the EMA weights (--no-ema: the training weights, for early checkpoints)."),
    ] = True,
    device: DeviceOpt = None,
) -> None:
    """How much a conditional DiT listens to each condition: held-out denoising loss (space and time
    planes) with every condition null, each alone, each from another window, and all."""
    from dynamiccity.device import pick_device
    from dynamiccity.evaluation.conditions import RelianceSpec, condition_reliance
    from dynamiccity.runs.loading import load_dit

    where = pick_device(device)
    result = condition_reliance(
        load_dit(dit, ema=ema, device=where), RelianceSpec(windows, repeats, t_min, batch), where
    )
    typer.echo(f"{'conditions':48s} {'space':>7s} {'time':>7s} {'all':>7s}")
    for row, loss in result["rows"].items():
        typer.echo(f"{row:48s} {loss['space']:7.4f} {loss['time']:7.4f} {loss['all']:7.4f}")
    if json_out is not None:
        from dynamiccity.atomic import write_text

        write_text(json_out, json.dumps({"dit": str(dit), "ema": ema, **result}, indent=1) + "\n")


def city(
    dit: Annotated[Path, typer.Option(help="A train-dit run folder trained with the previous condition.")],
    vae: Annotated[Path, typer.Option(help="The train-vae run whose latents the DiT learned.")],
    size: Annotated[tuple[int, int], typer.Option(help="The city's X and Y in voxels (whole latent cells).")],
    frames: Annotated[int, typer.Option(min=1, help="Frames of the city.")],
    out: Annotated[
        Path, typer.Option(help="Output folder (SynthTown dataset of one scene + gifs/ + city.json).")
    ],
    sampler: Annotated[SamplerName, typer.Option(help="ddpm, ddim or dpmpp.")] = SamplerName.dpmpp,
    steps: Annotated[int, typer.Option(min=1, help="Sampling steps per tile.")] = 20,
    seed: Annotated[int, typer.Option(help="Seed: the same seed gives the same city.")] = 0,
    cfg_scale: Annotated[
        float, typer.Option(min=0.0, help="Classifier-free guidance scale (1: none).")
    ] = 1.0,
    guidance_interval: GuidanceIntervalOpt = None,
    command: Annotated[
        CommandName | None, typer.Option(help="Ego command every tile is generated with.")
    ] = None,
    condition_scene: Annotated[
        str | None, typer.Option(help="Begin the city with this scene of --data (its first window).")
    ] = None,
    data: Annotated[Path | None, typer.Option(help="Dataset that scene names refer to.")] = None,
    format: Annotated[
        FormatName, typer.Option("--format", "-f", help="Layout of --data.")
    ] = FormatName.synthtown,
    resample: Annotated[
        int, typer.Option(min=1, help="Run every step of a tile this many times (RePaint resampling).")
    ] = 1,
    context_steer: ContextSteerOpt = 0.0,
    steer_iterations: SteerIterationsOpt = 3,
    gifs: Annotated[bool, typer.Option(help="Write a bird's-eye GIF of the city.")] = True,
    device: DeviceOpt = None,
) -> None:
    """Grow a 4D city larger than a window in x, y and t: tiles outpainted from their neighbours, each
    continued in time from its previous window."""
    from dynamiccity.editing.city import city as run
    from dynamiccity.pipeline import ConditionRequest, DataSpec, Features, Repaint, SampleSpec, Steering

    request = ConditionRequest(
        command=None if command is None else command.value,
        condition_scene=condition_scene,
        data=None if data is None else DataSpec(str(data), format.value),
    )
    spec = SampleSpec(sampler.value, steps, seed, 1, cfg_scale, guidance_interval)
    features = Features(
        repaint=Repaint(rounds=resample),
        steering=Steering(context=context_steer, iterations=steer_iterations),
    )
    typer.echo(json.dumps(run(dit, vae, size, frames, out, spec, device, request, gifs, features), indent=1))


def demo(
    out: Annotated[
        Path, typer.Option(help="Folder for the GIFs, the viewer page, the scenes and the summary.")
    ] = Path("out/demo"),
    vae: Annotated[str, typer.Option(help="A shipped VAE's name or a train-vae run folder.")] = "synthtown",
    dit: Annotated[str, typer.Option(help="A shipped DiT's name or a train-dit run folder.")] = "synthtown",
    seed: Annotated[int, typer.Option(help="Sampling seed.")] = 0,
    frames: Annotated[int, typer.Option(min=8, help="Length of the long scene.")] = 64,
) -> None:
    """Generate new 4D scenes with the shipped models: unconditional, one per ego command, a long one and an
    inpainted one; GIFs, a viewer page and a summary in OUT."""
    from dynamiccity.pipeline.demo import run_demo

    summary = run_demo(out, vae, dit, seed, frames, say=lambda text: typer.echo(text))
    seconds = summary["seconds"]
    typer.echo(
        f"\ndone in {seconds['total']:.0f} s; in {out}/:\n"
        "  unconditional.gif, commands.gif, long.gif, inpainted.gif   the generated scenes\n"
        "  viewer.html                                                 open it in a browser (orbit, time slider)\n"
        "  scenes/                                                     the scenes (SynthTown format)\n"
        "  summary.json                                                what was made, and the timings\n"
        f"ego commands read back from the scenes: {summary['commands_read_as']}; "
        f"share of their frames with the ego on road: {summary['ego_on_road_share']}; "
        f"inpainting kept {summary['inpainting_outside_kept']:.1%} of the outside"
    )
    test = summary["two_sample"]
    if test is not None:
        typer.echo(
            f"a classifier tells the generated windows from real ones (SynthTown seed {test['real_seed']}) with "
            f"accuracy {test['accuracy']:.2f} (95% {test['low']:.2f}-{test['high']:.2f}, {test['windows']} a side "
            "scored; 0.5: it cannot tell them apart)"
        )
    drift = summary["long_scene_drift"]
    if drift is not None:
        typer.echo(
            f"the long scene's windows lie {', '.join(f'{r:.1f}' for r in drift['ratio_by_window'])} times as far "
            f"from real windows' class histogram as real windows do (within {drift['limit']:g}x: "
            f"{'yes' if drift['within_limit'] else 'no'})"
        )

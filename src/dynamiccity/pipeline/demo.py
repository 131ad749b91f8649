"""`dynamiccity demo` (`make demo`): new 4D scenes from the shipped models in a newcomer's first minutes.

Unconditional scenes, one scene per ego command, one scene grown to 64 frames window by window, and one
window inpainted; GIFs of each, the viewer page of the long scene, the scenes as a SynthTown dataset, and a
short summary of what was made and how long it took. Everything runs on the CPU.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from dynamiccity.atomic import write_text
from dynamiccity.data import Command, Scene, write_synthtown
from dynamiccity.data.classes import CLASS_NAMES, FREE
from dynamiccity.dit.conditions import Conditions
from dynamiccity.editing.edits import inpaint_with
from dynamiccity.generation.generate import generate_with
from dynamiccity.generation.sampling import SampleSpec, load_pair

COMMANDS = (Command.STATIC, Command.FORWARD, Command.LEFT, Command.RIGHT)


def run_demo(
    out: str | Path,
    vae: str | Path = "synthtown",
    dit: str | Path = "synthtown",
    seed: int = 0,
    frames: int = 64,
    say: Callable[[str], None] = print,
) -> dict:
    """Generate the demo's scenes with DiT `dit` and VAE `vae` (shipped names or run folders) into `out`;
    returns the summary it writes (`summary.json`)."""
    from dynamiccity.metrics.egomotion import window_command
    from dynamiccity.metrics.registration import estimate_trajectory
    from dynamiccity.viz import render_3d, save_animation, tile_images
    from dynamiccity.viz.viewer import write_viewer

    begin = time.perf_counter()
    out, device = Path(out), torch.device("cpu")
    clock: dict[str, float] = {}

    def step(name: str, text: str, work: Callable[[], np.ndarray]) -> np.ndarray:
        say(f"[{len(clock) + 1}/5] {text}")
        start = time.perf_counter()
        result = work()
        clock[name] = round(time.perf_counter() - start, 1)
        return result

    models = load_pair(dit, vae, device)
    manifest = models[0].manifest
    window, voxel = manifest.frames, tuple(manifest.grid.voxel_size)
    spec = SampleSpec("dpmpp", 20, seed=seed, batch=4)
    uncond = step(
        "unconditional", "4 unconditional scenes", lambda: generate_with(*models, 4, spec, device)[0]
    )
    commands = Conditions(command=torch.tensor([c.value for c in COMMANDS]))
    steered = step(
        "commands",
        "one scene per ego command (static, forward, left, right)",
        lambda: generate_with(*models, 4, spec, device, commands)[0],
    )
    long = step(
        "long",
        f"one scene of {frames} frames, window by window",
        lambda: generate_with(*models, 1, spec, device, None, frames)[0][0],
    )
    x, y = manifest.grid.shape[:2]
    region = np.zeros((x, y), bool)
    region[x // 4 : 3 * x // 4, y // 4 : 3 * y // 4] = True
    source = uncond[0]
    inpainted = step(
        "inpainted",
        "the centre of the first scene inpainted",
        lambda: inpaint_with(models, source, region, 1, spec, device)[0],
    )

    say("[5/5] GIFs, viewer page, summary")
    start = time.perf_counter()
    render = lambda labels: [render_3d(f) for f in labels]  # noqa: E731
    gifs = {
        "unconditional.gif": [tile_images(list(f), 2, [f"sample {i}" for i in range(4)])
                              for f in zip(*(render(s) for s in uncond), strict=True)],
        "commands.gif": [tile_images(list(f), 4, [c.name.lower() for c in COMMANDS])
                         for f in zip(*(render(s) for s in steered), strict=True)],
        "long.gif": [tile_images([im], None, [f"frame {t}"]) for t, im in enumerate(render(long))],
        "inpainted.gif": [tile_images(list(f), 2, ["scene", "centre inpainted"])
                          for f in zip(render(source), render(inpainted), strict=True)],
    }  # fmt: skip
    for name, images in gifs.items():
        save_animation(images, out / name, fps=5)
    viewer_bytes = write_viewer(long[:16], out / "viewer.html", voxel, title="DynamicCity: a generated scene")
    poses = lambda n: np.broadcast_to(np.eye(4), (n, 4, 4)).copy()  # noqa: E731
    scenes = [(f"unconditional_{i}", s) for i, s in enumerate(uncond)]
    scenes += [(f"command_{c.name.lower()}", s) for c, s in zip(COMMANDS, steered, strict=True)]
    scenes += [("long", long), ("inpaint_source", source), ("inpainted", inpainted)]
    pairs = [
        (Scene(s, poses(len(s)), None, name=name, meta={"seed": seed}), "generated") for name, s in scenes
    ]
    write_synthtown(out / "scenes", pairs, manifest.grid)
    clock["outputs"] = round(time.perf_counter() - start, 1)

    read = [window_command(estimate_trajectory(s, voxel[:2])).name for s in steered]
    outside = (inpainted == source)[:, ~region].mean()
    every = np.concatenate([s.reshape(-1) for _, s in scenes])
    shares = np.bincount(every, minlength=len(CLASS_NAMES)) / every.size
    summary = {
        "models": {"dit": str(dit), "vae": str(vae), "dit_step": models[0].step, "vae_step": models[1].step},
        "sampler": {"name": spec.sampler, "steps": spec.steps, "seed": seed},
        "window": window,
        "scenes": {name: list(s.shape) for name, s in scenes},
        "occupied_share": round(float(1 - shares[FREE]), 4),
        "class_shares": {
            n: round(float(v), 4) for n, v in zip(CLASS_NAMES, shares, strict=True) if n != "free"
        },
        "commands_read_as": dict(zip((c.name for c in COMMANDS), read, strict=True)),
        "inpainting_outside_kept": round(float(outside), 4),
        "long_scene_occupied_share_by_window": [
            round(float((long[t : t + window] != FREE).mean()), 4) for t in range(0, len(long), window)
        ],
        "viewer_bytes": viewer_bytes,
        "seconds": {**clock, "total": round(time.perf_counter() - begin, 1)},
        "threads": torch.get_num_threads(),
        "cpu": torch.backends.cpu.get_cpu_capability(),
    }
    write_text(out / "summary.json", json.dumps(summary, indent=1) + "\n")
    return summary

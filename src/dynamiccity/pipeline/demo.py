"""`dynamiccity demo` (`make demo`): new 4D scenes from the shipped models in a newcomer's first minutes.

Unconditional scenes, one scene per ego command, one scene grown to 64 frames window by window, and one
window inpainted; GIFs of each, the viewer page of the long scene, the scenes as a SynthTown dataset, and a
short summary of what was made and how long it took. Everything runs on the CPU.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
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
REAL_SEED = 9091
"""The seed of the real SynthTown scenes the demo's windows are told from: one no model here trains or is
scored on."""
DRIFT_SCENES = 16
"""Real scenes (two windows each) the long scene's drift is measured against: half give the mean class
histogram, half how far real windows lie from it."""


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
    begin = time.perf_counter()
    out, clock = Path(out), {}
    models = load_pair(dit, vae, torch.device("cpu"))
    made = _generate(models, seed, frames, _Steps(say, clock))
    say("[5/5] GIFs, viewer page, summary")
    start = time.perf_counter()
    scenes, viewer_bytes = _write_outputs(out, made, models[0].manifest, seed)
    clock["outputs"] = round(time.perf_counter() - start, 1)
    summary = _summary(made, scenes, models, {"dit": str(dit), "vae": str(vae), "seed": seed})
    real = _real_windows(made, models[0].manifest)
    summary["two_sample"] = _two_sample(made, real)
    summary["long_scene_drift"] = _drift(made["long"], real, models[0].manifest)
    summary.update(
        viewer_bytes=viewer_bytes, seconds={**clock, "total": round(time.perf_counter() - begin, 1)}
    )
    summary.update(threads=torch.get_num_threads(), cpu=torch.backends.cpu.get_cpu_capability())
    write_text(out / "summary.json", json.dumps(summary, indent=1) + "\n")
    return summary


@dataclass
class _Steps:
    """The demo's numbered steps: each says what it makes and its seconds go to `clock`."""

    say: Callable[[str], None]
    clock: dict[str, float]

    def __call__(self, name: str, text: str, work: Callable[[], np.ndarray]) -> np.ndarray:
        self.say(f"[{len(self.clock) + 1}/5] {text}")
        start = time.perf_counter()
        result = work()
        self.clock[name] = round(time.perf_counter() - start, 1)
        return result


def _generate(models, seed: int, frames: int, step: _Steps) -> dict[str, np.ndarray]:
    """The demo's scenes: 4 unconditional ones, one per command, a long one, and the first unconditional
    one with its centre `region` inpainted."""
    device, manifest = torch.device("cpu"), models[0].manifest
    made = {"uncond": step("unconditional", "4 unconditional scenes",
                           lambda: generate_with(*models, 4, demo_sampler(seed), device)[0])}  # fmt: skip
    commands = Conditions(command=torch.tensor([c.value for c in COMMANDS]))
    made["steered"] = step(
        "commands",
        "one scene per ego command (static, forward, left, right)",
        lambda: generate_with(*models, 4, demo_sampler(seed), device, commands)[0],
    )
    made["long"] = step(
        "long",
        f"one scene of {frames} frames, window by window",
        lambda: generate_with(*models, 1, demo_sampler(seed), device, None, frames)[0][0],
    )
    x, y = manifest.world_grid.shape[:2]  # an inpaint region of the window the DiT draws
    made["region"] = np.zeros((x, y), bool)
    made["region"][x // 4 : 3 * x // 4, y // 4 : 3 * y // 4] = True
    made["source"] = made["uncond"][0]
    made["inpainted"] = step(
        "inpainted",
        "the centre of the first scene inpainted",
        lambda: inpaint_with(models, made["source"], made["region"], 1, demo_sampler(seed), device)[0],
    )
    return made


def demo_sampler(seed: int) -> SampleSpec:
    """The demo's sampler: DPM-Solver++ for 20 steps, 4 scenes at a time."""
    return SampleSpec("dpmpp", 20, seed=seed, batch=4)


def _write_outputs(out: Path, made: dict, manifest, seed: int) -> tuple[list[tuple[str, np.ndarray]], int]:
    """The GIFs, the viewer page of the long scene and the scenes as a SynthTown dataset; returns the named
    scenes and the viewer page's size."""
    from dynamiccity.viz import render_3d, save_animation, tile_images
    from dynamiccity.viz.viewer import write_viewer

    uncond, steered, long = made["uncond"], made["steered"], made["long"]
    render = lambda labels: [render_3d(f) for f in labels]  # noqa: E731
    gifs = {
        "unconditional.gif": [tile_images(list(f), 2, [f"sample {i}" for i in range(4)])
                              for f in zip(*(render(s) for s in uncond), strict=True)],
        "commands.gif": [tile_images(list(f), 4, [c.name.lower() for c in COMMANDS])
                         for f in zip(*(render(s) for s in steered), strict=True)],
        "long.gif": [tile_images([im], None, [f"frame {t}"]) for t, im in enumerate(render(long))],
        "inpainted.gif": [tile_images(list(f), 2, ["scene", "centre inpainted"])
                          for f in zip(render(made["source"]), render(made["inpainted"]), strict=True)],
    }  # fmt: skip
    for name, images in gifs.items():
        save_animation(images, out / name, fps=5)
    voxel = tuple(manifest.grid.voxel_size)
    viewer_bytes = write_viewer(long[:16], out / "viewer.html", voxel, title="DynamicCity: a generated scene")
    scenes = [(f"unconditional_{i}", s) for i, s in enumerate(uncond)]
    scenes += [(f"command_{c.name.lower()}", s) for c, s in zip(COMMANDS, steered, strict=True)]
    scenes += [("long", long), ("inpaint_source", made["source"]), ("inpainted", made["inpainted"])]
    still = lambda n: np.broadcast_to(np.eye(4), (n, 4, 4)).copy()  # noqa: E731
    pairs = [
        (Scene(s, still(len(s)), None, name=name, meta={"seed": seed}), "generated") for name, s in scenes
    ]
    write_synthtown(out / "scenes", pairs, manifest.grid)
    return scenes, viewer_bytes


def _real_windows(made: dict, manifest) -> list[tuple[int, np.ndarray]] | None:
    """Real SynthTown windows (scene index, (T, X, Y, Z)) on the DiT's grid to hold the generated ones
    against: two of each scene of seed `REAL_SEED`, as many scenes as half the generated windows and at least
    `DRIFT_SCENES`; None unless the DiT's latents were encoded from SynthTown."""
    from dynamiccity.synthtown.dataset import generate_scenes

    if manifest.data.get("format") != "synthtown":
        return None
    t = manifest.frames
    count = max((len(_generated_windows(made, t)) + 1) // 2, DRIFT_SCENES)
    scenes = generate_scenes(count, 2 * t, manifest.grid, REAL_SEED, 0.0)
    return [(i, scene.labels[a : a + t]) for i, (scene, _) in enumerate(scenes) for a in (0, t)]


def _generated_windows(made: dict, t: int) -> list[tuple[int, np.ndarray]]:
    """Every whole window of the unconditional, command and long scenes, with the index of its scene."""
    generated = [*made["uncond"], *made["steered"], made["long"]]
    return [(i, s[a : a + t]) for i, s in enumerate(generated) for a in range(0, len(s) - t + 1, t)]


def _two_sample(made: dict, real: list | None) -> dict | None:
    """Can a classifier tell the demo's generated windows from real ones? The classifier two-sample test on
    scene statistics (`metrics.two_sample`) of every generated window against as many real windows (the
    first of `real`). 0.5: it cannot tell them apart."""
    from dynamiccity.metrics.two_sample import classifier_two_sample, scene_statistics

    if real is None:
        return None
    fake = _generated_windows(made, len(real[0][1]))
    real = real[: 2 * ((len(fake) + 1) // 2)]
    sides = [
        (scene_statistics(np.stack([w for _, w in side]), len(CLASS_NAMES)), np.array([i for i, _ in side]))
        for side in (real, fake)
    ]
    test = classifier_two_sample(sides[0][0], sides[1][0], groups=(sides[0][1], sides[1][1]))
    return {"features": "scene statistics", "real_seed": REAL_SEED, "generated_windows": len(fake), **test}


def _drift(long: np.ndarray, real: list | None, manifest) -> dict | None:
    """How far each window of the long scene lies from real windows in class histogram, in real windows' own
    spread (`metrics.scenes.HistogramDrift`: the first `DRIFT_SCENES` / 2 real scenes give the mean, the next
    ones the real distance); within 2x in every window is the bar."""
    from dynamiccity.metrics.scenes import HistogramDrift

    if real is None:
        return None
    half = DRIFT_SCENES // 2
    sides = [np.stack([w for i, w in real if lo <= i < lo + half]) for lo in (0, half)]
    drift = HistogramDrift.fit(*sides, len(CLASS_NAMES))
    return {
        "real_seed": REAL_SEED,
        "real_windows": [len(s) for s in sides],
        **drift.report(long, manifest.frames),
    }


def _summary(made: dict, scenes: list[tuple[str, np.ndarray]], models, asked: dict) -> dict:
    """What the demo made: the models, the scenes' shapes and class shares, the commands read back from the
    command scenes and the share of their frames whose ego stands on road (`metrics.egomotion.ego_on_road`),
    how much of the outside inpainting kept, and the long scene's occupancy by window."""
    from dynamiccity.metrics.egomotion import ego_on_road, window_command
    from dynamiccity.metrics.registration import estimate_trajectory

    manifest, window, long = models[0].manifest, models[0].manifest.frames, made["long"]
    voxel = tuple(manifest.grid.voxel_size)
    read = [window_command(estimate_trajectory(s, voxel[:2])).name for s in made["steered"]]
    outside = (made["inpainted"] == made["source"])[:, ~made["region"]].mean()
    every = np.concatenate([s.reshape(-1) for _, s in scenes])
    shares = np.bincount(every, minlength=len(CLASS_NAMES)) / every.size
    spec = demo_sampler(asked["seed"])
    return {
        "models": {
            "dit": asked["dit"],
            "vae": asked["vae"],
            "dit_step": models[0].step,
            "vae_step": models[1].step,
        },
        "sampler": {"name": spec.sampler, "steps": spec.steps, "seed": spec.seed},
        "window": window,
        "scenes": {name: list(s.shape) for name, s in scenes},
        "occupied_share": round(float(1 - shares[FREE]), 4),
        "class_shares": {
            n: round(float(v), 4) for n, v in zip(CLASS_NAMES, shares, strict=True) if n != "free"
        },
        "commands_read_as": dict(zip((c.name for c in COMMANDS), read, strict=True)),
        "ego_on_road_share": {
            c.name: round(float(ego_on_road(s).mean()), 4)
            for c, s in zip(COMMANDS, made["steered"], strict=True)
        },
        "inpainting_outside_kept": round(float(outside), 4),
        "long_scene_occupied_share_by_window": [
            round(float((long[t : t + window] != FREE).mean()), 4) for t in range(0, len(long), window)
        ],
    }

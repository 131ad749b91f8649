"""`sample`: generate scenes (`generation.generate`) or edit a real one (`editing.edits`) and write them as a
SynthTown dataset with GIFs and `sample.json`: what `dynamiccity sample` runs."""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

from dynamiccity.atomic import write_text
from dynamiccity.data import Scene, write_synthtown
from dynamiccity.data.egoframe import chained_poses
from dynamiccity.device import pick_device
from dynamiccity.editing.edits import EditRequest, edit_scenes
from dynamiccity.generation.conditioning import ConditionRequest, requested
from dynamiccity.generation.features import NO_FEATURES, Features
from dynamiccity.generation.generate import generate_with
from dynamiccity.generation.sampling import DEFAULT_SPEC, SampleSpec, load_pair


def sample(
    dit_dir: str | Path,
    vae_dir: str | Path,
    num: int,
    out: str | Path,
    spec: SampleSpec = DEFAULT_SPEC,
    gifs: bool = True,
    device: str | None = None,
    request: ConditionRequest | None = None,
    frames: int | None = None,
    edit: EditRequest | None = None,
    features: Features = NO_FEATURES,
) -> dict:
    """Generate (see `generate`), or edit a scene of the request's data (`edit`, see
    `editing.edits`), and write OUT as a SynthTown dataset (scenes sample_XXXX) + gifs/ + sample.json.
    features: what the generation or edit does beyond sampling (`generation.features`)."""
    from dynamiccity.viz import render_3d, save_animation

    device = pick_device(device)
    models = load_pair(dit_dir, vae_dir, device)
    cond, start = requested(request, models, device)
    if edit is None:
        scenes, facts = generate_with(*models, num, spec, device, cond, frames, start, features)
        grid = models[0].manifest.grid
    else:
        if start is not None or frames is not None:
            raise ValueError("an edit works on one window: drop --condition-scene and --extend.")
        begin = time.perf_counter()
        scenes, grid, facts = edit_scenes(models, edit, (request or ConditionRequest()).data, num, spec,
                                          device, cond, features)  # fmt: skip
        facts.update(asdict(spec), **features.facts(), num=num, seconds_per_scene=(time.perf_counter() - begin) / num,
                     conditions=[] if cond is None else list(cond.given()), dit_step=models[0].step)  # fmt: skip
    out = Path(out)
    paths = facts.get("ego_paths")  # the ego poses of a world-coordinate DiT's scenes; else it stands still
    if paths is None:
        poses = [np.broadcast_to(np.eye(4), (scenes.shape[1], 4, 4)).copy()] * len(scenes)
    else:
        poses = [chained_poses(np.asarray(p))[: scenes.shape[1]] for p in paths]
    pairs = [
        (Scene(s, poses[i], None, name=f"sample_{i:04d}", meta={"seed": spec.seed}), "generated")
        for i, s in enumerate(scenes)
    ]
    write_synthtown(out, pairs, grid)
    if gifs:
        for i, s in enumerate(scenes):
            save_animation([render_3d(f) for f in s], out / "gifs" / f"sample_{i:04d}.gif", fps=5)
    write_text(out / "sample.json", json.dumps(facts, indent=1) + "\n")
    return facts

"""Inpainting and outpainting of held-out SynthTown windows measured (docs/editing.md).

    python scripts/editing_synthtown.py PART --dit runs/dit-cond --vae runs/vae \
        --data data/synthtown-heldout --out docs/results/editing-synthtown [--num N]

PART is one of
- inpaint:  a box in the middle of N windows regenerated; outside it, the share of voxels equal to the
            VAE's reconstruction of the original, by Chebyshev distance (voxels) from the box's edge; a BEV
            strip (original | reconstruction | inpainted) of the first windows.
- outpaint: N windows grown by half a window towards +x and +y; across the seam between the kept window
            and the new strip, the share of columns whose top class equals the column on the other side,
            beside the same share across the same line in real windows (continuity of the data) and across
            two unrelated windows (no continuity); a BEV strip of the first ones.
Each part writes PART.json (and PNGs) under --out. Samples use DPM-Solver++ 20 steps, seed 0. With a DiT
of world-coordinate latents every window (and so the real seam it is compared with) is seen from its first
frame throughout, as the DiT's windows are.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from dynamiccity.atomic import write_text
from dynamiccity.data import open_dataset
from dynamiccity.data.egoframe import to_world
from dynamiccity.data.errors import DataError
from dynamiccity.editing.edits import inpaint_with, outpaint_with
from dynamiccity.generation.features import Features, Repaint, Steering
from dynamiccity.generation.sampling import SampleSpec, load_pair
from dynamiccity.viz import render_bev, save_animation, tile_images

SPEC = SampleSpec("dpmpp", 20, seed=0, batch=8)
FEATURES = Features()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("part", choices=("inpaint", "outpaint"))
    parser.add_argument("--dit", required=True)
    parser.add_argument("--vae", required=True)
    parser.add_argument("--data", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--num", type=int, default=16)
    parser.add_argument("--sampler", default="dpmpp")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--resample", type=int, default=1, help="RePaint rounds per step")
    parser.add_argument("--tag", default="", help="suffix of the JSON and PNG names")
    parser.add_argument("--context-steer", type=float, default=0.0, help="steer edits towards what they keep")
    parser.add_argument("--steer-iterations", type=int, default=3)
    args = parser.parse_args()
    global SPEC, FEATURES
    SPEC = SampleSpec(args.sampler, args.steps, seed=0, batch=8)
    FEATURES = Features(
        repaint=Repaint(args.resample),
        steering=Steering(context=args.context_steer, iterations=args.steer_iterations),
    )
    torch.set_grad_enabled(False)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    models = load_pair(args.dit, args.vae, torch.device("cpu"))
    held = open_dataset(
        args.data, "synthtown", frames=models[0].manifest.frames, stride=models[0].manifest.frames
    )
    order = np.random.default_rng(0).permutation(len(held))[: args.num]
    windows = [held[int(i)] for i in order]
    if models[0].manifest.coordinates == "world":
        windows = [to_world(w.labels, w.trajectory, held.grid.extent) for w in windows]
    else:
        windows = [w.labels for w in windows]
    begin = time.perf_counter()
    result = {"inpaint": inpaint_part, "outpaint": outpaint_part}[args.part](models, windows, out, args.tag)
    result.update(part=args.part, dit=args.dit, dit_step=models[0].step, vae=args.vae, data=args.data,
                  num=len(windows), sampler=SPEC.sampler, steps=SPEC.steps, seed=SPEC.seed, resample=FEATURES.repaint.rounds,
                  context_steer=FEATURES.steering.context, steer_iterations=FEATURES.steering.iterations,
                  coordinates=models[0].manifest.coordinates, seconds=round(time.perf_counter() - begin, 1), cpu=torch.backends.cpu.get_cpu_capability(),
                  threads=torch.get_num_threads())  # fmt: skip
    write_text(out / f"{args.part}{args.tag}.json", json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))


def reconstruct(models, labels: np.ndarray) -> np.ndarray:
    vae = models[1].model
    return (
        vae.decode(vae.encode(torch.from_numpy(np.ascontiguousarray(labels))[None]))
        .argmax(-1)[0]
        .to(torch.uint8)
        .numpy()
    )


def inpaint_part(models, windows, out, tag="") -> dict:
    x, y = windows[0].shape[1:3]
    box = (slice(x // 4, 3 * x // 4), slice(y // 4, 3 * y // 4))  # a quarter of the area, in the middle
    region = np.zeros((x, y), bool)
    region[box] = True
    gx, gy = np.meshgrid(np.arange(x), np.arange(y), indexing="ij")
    distance = np.maximum(
        np.maximum(box[0].start - gx, gx - (box[0].stop - 1)),
        np.maximum(box[1].start - gy, gy - (box[1].stop - 1)),
    )  # Chebyshev distance of each column from the box (<= 0 inside)
    bands = {"all outside": distance > 0, **{f">= {d}": distance >= d for d in (2, 4, 8, 12)}}
    same = {name: [] for name in bands}
    inside_changed, images = [], []
    for i, labels in enumerate(windows):
        recon = reconstruct(models, labels)
        edited = inpaint_with(models, labels, region, 1, SPEC, features=FEATURES)[0]
        for name, cols in bands.items():
            same[name].append(float((edited[:, cols] == recon[:, cols]).mean()))
        inside_changed.append(float((edited[:, region] != recon[:, region]).mean()))
        if i < 4:
            images += [render_bev(f[-1], scale=3) for f in (labels, recon, edited)]
    save_animation([tile_images(images, columns=3)], out / f"inpaint{tag}.png")
    return {
        "box_voxels": [[box[0].start, box[0].stop], [box[1].start, box[1].stop]],
        "outside_equal_to_reconstruction": {k: float(np.mean(v)) for k, v in same.items()},
        "outside_equal_min": {k: float(np.min(v)) for k, v in same.items()},
        "inside_changed_from_reconstruction": float(np.mean(inside_changed)),
    }


def top_class(labels: np.ndarray) -> np.ndarray:
    """(T, X, Y, Z) -> (T, X, Y) class of the top-most occupied voxel of each column (0 if empty)."""
    occupied = labels != 0
    top = labels.shape[3] - 1 - np.argmax(occupied[..., ::-1], axis=3)
    return np.where(occupied.any(axis=3), np.take_along_axis(labels, top[..., None], axis=3)[..., 0], 0)


def seam_agreement(a: np.ndarray, b: np.ndarray) -> float:
    """Share of (frame, column) pairs whose top classes agree across a seam: a, b (T, N) top classes of the
    columns on either side."""
    return float((a == b).mean())


def outpaint_part(models, windows, out, tag="") -> dict:
    x, y = windows[0].shape[1:3]
    rows, images = {}, []
    for direction in ("+x", "+y"):
        gen, real, unrelated = [], [], []
        for i, labels in enumerate(windows):
            grown = outpaint_with(models, labels, direction, 1, 1, SPEC, features=FEATURES)[0]
            top = top_class(grown)
            top_real = top_class(labels)
            other = top_class(windows[(i + 1) % len(windows)])
            if direction == "+x":  # seam between x = X-1 (kept) and x = X (new)
                gen.append(seam_agreement(top[:, x - 1], top[:, x]))
                real.append(seam_agreement(top_real[:, x // 2 - 1], top_real[:, x // 2]))
                unrelated.append(seam_agreement(top_real[:, x // 2 - 1], other[:, x // 2]))
            else:
                gen.append(seam_agreement(top[:, :, y - 1], top[:, :, y]))
                real.append(seam_agreement(top_real[:, :, y // 2 - 1], top_real[:, :, y // 2]))
                unrelated.append(seam_agreement(top_real[:, :, y // 2 - 1], other[:, :, y // 2]))
            if i < 3:
                images.append(render_bev(grown[-1], scale=3))
        rows[direction] = {"generated seam": float(np.mean(gen)), "real windows, same line": float(np.mean(real)),
                           "unrelated windows": float(np.mean(unrelated))}  # fmt: skip
    save_animation([tile_images(images, columns=3)], out / f"outpaint{tag}.png")
    return {"column_top_class_agreement": rows}


if __name__ == "__main__":
    try:
        main()
    except (DataError, FileNotFoundError, ValueError) as error:  # bad input: one line, as the CLI says it
        raise SystemExit(f"error: {error}") from None

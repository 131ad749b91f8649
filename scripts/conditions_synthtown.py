"""Each condition of a conditional SynthTown DiT checked by a number (docs/conditions.md).

    python scripts/conditions_synthtown.py PART --dit runs/dit-cond --vae runs/vae \
        --data data/synthtown-heldout --out docs/results/conditions-synthtown [--num N] [--cfg S ...]

PART is one of
- command:    N scenes per ego command; the command that `estimate_command` reads from the generated
              occupancy against the requested one, per command (and the same read from unconditional
              samples, the chance level).
- trajectory: the trajectories of N held-out windows requested; ADE/FDE of the trajectory estimated from
              the generated occupancy against each request (and of unconditional samples against the same
              requests, the floor of not listening).
- layout:     the vehicle layouts of N held-out windows requested; IoU of the generated vehicles' BEV with
              each (and of unconditional samples, and of the VAE's reconstruction of the real window: the
              ceiling); with --layout-steer S ..., also sampled steered towards the layout through the
              decoder at each scale S (`sample --layout-steer`).
- extend:     N scenes grown to --frames frames from a generated seed window and N from real held-out
              windows; per window the class histogram and occupied share against the spread of real windows,
              and its drift in real windows' own spread (`metrics.scenes.HistogramDrift`; the share of scenes
              whose every window stays within 2x); a GIF of each.
- uncond:     N samples with every condition dropped; class-histogram distance to held-out windows.
- timeplanes: per ego command, how much the time planes (tx, ty, tz) vary over t (standard deviation over t
              in normalised latent units) for the encodings of N real held-out windows and for N latents
              generated with that command at each --cfg, and the distance the ego-motion estimator finds
              the generated windows to travel.
- ceiling:    what the VAE lets through: the command read from, and the ADE/FDE of, the VAE's
              reconstructions of N held-out windows per true command, beside the real windows themselves.
Each part writes PART.json (and images) under --out. Samples use DPM-Solver++ 20 steps, seed 0.
"""

from __future__ import annotations

import argparse
import collections
import json
import time
from pathlib import Path

import numpy as np
import torch

from dynamiccity.atomic import write_text
from dynamiccity.data import Command, open_dataset
from dynamiccity.data.derive import bev_layout
from dynamiccity.data.egoframe import to_ego, to_world
from dynamiccity.data.errors import DataError
from dynamiccity.dit.conditions import Conditions
from dynamiccity.generation.conditioning import Start, encode_map
from dynamiccity.generation.features import Features, Steering
from dynamiccity.generation.generate import generate_with
from dynamiccity.generation.sampling import SampleSpec, decode_maps, load_pair, sample_maps
from dynamiccity.metrics.egomotion import trajectory_errors, window_command
from dynamiccity.metrics.layout import layout_iou
from dynamiccity.metrics.reconstruction import ConfusionMatrix
from dynamiccity.metrics.registration import estimate_trajectory
from dynamiccity.metrics.scenes import HistogramDrift, class_histogram, histogram_distance
from dynamiccity.viz import render_3d, save_animation

COMMANDS = ("STATIC", "FORWARD", "LEFT", "RIGHT")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("part", choices=tuple(PARTS))
    parser.add_argument("--dit", required=True)
    parser.add_argument("--vae", required=True)
    parser.add_argument("--data", required=True, help="held-out SynthTown scenes (with poses)")
    parser.add_argument("--out", required=True)
    parser.add_argument("--num", type=int, default=16)
    parser.add_argument("--cfg", type=float, nargs="+", default=[1.0])
    parser.add_argument("--frames", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--layout-steer", type=float, nargs="+", default=[], help="layout part: steer scales")
    args = parser.parse_args()
    torch.set_grad_enabled(False)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    models = load_pair(args.dit, args.vae, torch.device("cpu"))
    window = models[0].manifest.frames
    held = open_dataset(args.data, "synthtown", frames=window, stride=window,
                        layout_factor=models[0].manifest.layout_factor)  # fmt: skip
    begin = time.perf_counter()
    result = PARTS[args.part](args, models, held, out)
    result.update(
        part=args.part, dit=args.dit, dit_step=models[0].step, vae=args.vae, data=args.data, num=args.num,
        sampler="dpmpp", steps=20, seed=args.seed, seconds=round(time.perf_counter() - begin, 1),
        cpu=torch.backends.cpu.get_cpu_capability(), threads=torch.get_num_threads(),
    )  # fmt: skip
    if UNSEEN:
        result["unseen_share_mean"] = float(np.mean(UNSEEN))
    write_text(out / f"{args.part}.json", json.dumps(result, indent=1) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "per_sample"}, indent=1))


def _generate(models, num, cond, args, cfg=1.0, frames=None, start=None, steer=0.0):
    spec = SampleSpec("dpmpp", 20, seed=args.seed, batch=8, cfg_scale=cfg)
    features = Features(steering=Steering(layout=steer))
    scenes, facts = generate_with(*models, num, spec, "cpu", cond, frames, start, features)
    if "unseen_share" in facts:  # a world-coordinate DiT: how much of the shown windows lay beyond its world
        print(f"unseen share {facts['unseen_share']:.4f}", flush=True)
        UNSEEN.append(facts["unseen_share"])
    return scenes, facts["seconds_per_scene"]


UNSEEN: list[float] = []


def _voxel(held) -> tuple[float, float]:
    return tuple(held.grid.voxel_size[:2])


def _pick(held, num: int, seed: int) -> list:
    """`num` held-out windows spread over the scenes (the same ones for every part)."""
    order = np.random.default_rng(seed).permutation(len(held))[:num]
    return [held[int(i)] for i in order]


def command_part(args, models, held, out) -> dict:
    size, rows = _voxel(held), {}
    uncond, _ = _generate(models, args.num, None, args)
    read = [window_command(estimate_trajectory(s, size)).name for s in uncond]
    rows["unconditional"] = {"read": dict(collections.Counter(read))}
    for cfg in args.cfg:
        per = {}
        for name in COMMANDS:
            cond = Conditions(command=torch.tensor([Command[name].value]))
            scenes, sec = _generate(models, args.num, cond, args, cfg)
            read = [window_command(estimate_trajectory(s, size)).name for s in scenes]
            per[name] = {
                "agreement": sum(r == name for r in read) / len(read),
                "read": dict(collections.Counter(read)),
                "seconds_per_scene": sec,
            }
            _strip(scenes[:4], out / f"command-{name.lower()}-cfg{cfg:g}.png")
            print(name, cfg, per[name], flush=True)
        rows[f"cfg {cfg:g}"] = per
    return {"rows": rows}


def trajectory_part(args, models, held, out) -> dict:
    size = _voxel(held)
    windows = _pick(held, args.num, args.seed)
    requests = np.stack([w.trajectory for w in windows])
    rows = {"estimator on the real windows": _errors([w.labels for w in windows], requests, size)}
    uncond, _ = _generate(models, args.num, None, args)
    rows["unconditional"] = _errors(uncond, requests, size)
    rows |= _guided_rows(
        args, models, Conditions(trajectory=torch.from_numpy(requests)),
        lambda scenes: _errors(scenes, requests, size),
        lambda scenes, name: _strip(scenes[:4], out / f"trajectory-{name}.png"),
    )  # fmt: skip
    return {"rows": rows}


def _guided_rows(args, models, cond, score, draw, steers=(0.0,)) -> dict:
    """One row per guidance scale of --cfg (and layout steer of `steers`): score(scenes) of args.num scenes
    sampled with `cond`, and their sampling time; draw(scenes, name) pictures them."""
    rows = {}
    for cfg in args.cfg:
        for steer in steers:
            scenes, sec = _generate(models, args.num, cond, args, cfg, steer=steer)
            name = f"cfg {cfg:g}" + (f", layout steer {steer:g}" if steer else "")
            rows[name] = {**score(scenes), "seconds_per_scene": sec}
            draw(scenes, name.replace(" ", "").replace(",", "-"))
            print(name, rows[name], flush=True)
    return rows


def _errors(scenes, requests, size) -> dict:
    errs = [
        trajectory_errors(estimate_trajectory(np.asarray(s), size), r)
        for s, r in zip(scenes, requests, strict=True)
    ]
    ade, fde = np.array([e["ade"] for e in errs]), np.array([e["fde"] for e in errs])
    travel = np.linalg.norm(requests[:, -1, :2], axis=1)
    return {"ade_mean": float(ade.mean()), "ade_median": float(np.median(ade)), "fde_mean": float(fde.mean()),
            "fde_median": float(np.median(fde)), "requested_final_distance_mean": float(travel.mean())}  # fmt: skip


def layout_part(args, models, held, out) -> dict:
    dit, vae = models
    factor = dit.manifest.layout_factor
    windows = _pick(held, args.num, args.seed)
    layouts = np.stack([bev_layout(w.labels, factor) for w in windows])
    rows = {"VAE reconstruction of the real window": _ious(_reconstruct(vae, windows), layouts, factor)}
    requested, base = layouts, None
    if dit.paths is not None:  # world coordinates: the layout as the DiT sees it, shown along the real path
        extent = dit.manifest.grid.extent
        requested = np.stack([bev_layout(to_world(w.labels, w.trajectory, extent), factor) for w in windows])
        rows["VAE reconstruction in world coordinates, shown along the real path"] = _ious(
            _reconstruct_world(models, windows), layouts, factor
        )
        base = Conditions(trajectory=torch.from_numpy(np.stack([w.trajectory for w in windows])))
    uncond, _ = _generate(models, args.num, base, args)
    rows["unconditional" if base is None else "the real path alone"] = _ious(uncond, layouts, factor)
    given = Conditions(layout=torch.from_numpy(requested))
    if base is not None:
        given = Conditions(layout=given.layout, trajectory=base.trajectory)
    rows |= _guided_rows(
        args, models, given,
        lambda scenes: _ious(scenes, layouts, factor),
        lambda scenes, name: _layout_strip(scenes[:4], layouts[:4], factor, out / f"layout-{name}.png"),
        (0.0, *args.layout_steer),
    )  # fmt: skip
    return {"rows": rows}


def _reconstruct(vae, windows) -> np.ndarray:
    parts = []
    for w in windows:
        hexplane = vae.model.encode(torch.from_numpy(np.ascontiguousarray(w.labels))[None])
        parts.append(vae.model.decode(hexplane).argmax(-1).to(torch.uint8).numpy())
    return np.concatenate(parts)


def _ious(scenes, layouts, factor) -> dict:
    ious = np.array([layout_iou(np.asarray(s), lay, factor) for s, lay in zip(scenes, layouts, strict=True)])
    return {
        "iou_mean": float(ious.mean()),
        "iou_median": float(np.median(ious)),
        "iou_min": float(ious.min()),
    }


def extend_part(args, models, held, out) -> dict:
    dit, _ = models
    window, classes = dit.manifest.frames, dit.manifest.vae_config.num_classes
    real = [held[i].labels for i in range(len(held))]
    spread = _spread(real, classes)
    half = len(real) // 2  # windows come scene by scene: the halves hold different scenes
    drift = HistogramDrift.fit(np.stack(real[:half]), np.stack(real[half:]), classes)
    rows = {"real windows": {"count": len(real), "drift_real_distance": drift.real_distance,
                             **{k: _listed(v) for k, v in spread.items()}}}  # fmt: skip
    grown, _ = _generate(models, args.num, None, args, frames=args.frames)
    rows["from a generated window"] = _inside(grown, window, spread, classes, drift)
    for i, scene in enumerate(grown[:2]):
        save_animation([render_3d(f) for f in scene], out / f"extend-generated-{i}.gif", fps=8)
    starts = _pick(held, min(args.num, 4), args.seed)
    from_real = np.concatenate(
        [
            _generate(models, 1, None, args, frames=args.frames, start=Start(w.labels, w.trajectory))[0]
            for w in starts
        ]
    )
    rows["from a real window"] = _inside(from_real, window, spread, classes, drift)
    save_animation([render_3d(f) for f in from_real[0]], out / "extend-real-0.gif", fps=8)
    return {"frames": args.frames, "rows": rows}


def _window_stats(labels: np.ndarray, classes: int) -> tuple[np.ndarray, float]:
    return class_histogram(labels, classes), float((labels != 0).mean())


def _spread(windows, classes) -> dict:
    hist = np.stack([_window_stats(w, classes)[0] for w in windows])
    occ = np.array([_window_stats(w, classes)[1] for w in windows])
    return {"hist_low": hist.min(0), "hist_high": hist.max(0), "hist_mean": hist.mean(0),
            "occupied_low": occ.min(), "occupied_high": occ.max()}  # fmt: skip


def _inside(scenes, window, spread, classes, drift: HistogramDrift) -> dict:
    per_window, inside = [], []
    for scene in scenes:
        for w in range(0, scene.shape[0] - window + 1, window):
            hist, occ = _window_stats(scene[w : w + window], classes)
            ok = bool(
                spread["occupied_low"] <= occ <= spread["occupied_high"]
                and np.all(hist >= spread["hist_low"] - 1e-9)
                and np.all(hist <= spread["hist_high"] + 1e-9)
            )
            inside.append(ok)
            per_window.append((w // window, occ, histogram_distance(hist, spread["hist_mean"]), ok))
    by_index = collections.defaultdict(list)
    for index, occ, dist, _ in per_window:
        by_index[index].append((occ, dist))
    trend = {str(k): {"occupied": float(np.mean([o for o, _ in v])), "hist_distance": float(np.mean([d for _, d in v]))}
             for k, v in sorted(by_index.items())}  # fmt: skip
    reports = [drift.report(scene, window) for scene in scenes]
    return {"windows": len(inside), "inside_real_spread": float(np.mean(inside)), "per_window_index": trend,
            "scenes_within_drift_limit": float(np.mean([r["within_limit"] for r in reports])),
            "drift_ratio_by_window": [r["ratio_by_window"] for r in reports]}  # fmt: skip


def _listed(value):
    return value.tolist() if isinstance(value, np.ndarray) else float(value)


def uncond_part(args, models, held, out) -> dict:
    classes = models[0].manifest.vae_config.num_classes
    windows = _pick(held, max(args.num, 64), args.seed + 1)
    real = class_histogram(np.stack([w.labels for w in windows]), classes)
    scenes, sec = _generate(models, args.num, None, args)
    half = len(windows) // 2
    floor = histogram_distance(
        class_histogram(np.stack([w.labels for w in windows[:half]]), classes),
        class_histogram(np.stack([w.labels for w in windows[half:]]), classes),
    )
    _strip(scenes[:4], out / "uncond.png")
    return {"hist_distance": histogram_distance(class_histogram(scenes, classes), real),
            "real_vs_real": floor, "seconds_per_scene": sec}  # fmt: skip


def _strip(scenes: np.ndarray, path: Path) -> None:
    """First and last frame of each scene side by side, one PNG."""
    from dynamiccity.viz.animate import tile_images

    images = [render_3d(s[t]) for s in scenes for t in (0, -1)]
    save_animation([tile_images(images, columns=2 * len(scenes))], path)


def _layout_strip(scenes: np.ndarray, layouts: np.ndarray, factor: int, path: Path) -> None:
    """Per scene: requested layout (last frame), generated vehicles' BEV (last frame), the 3D view."""
    from dynamiccity.viz.animate import tile_images

    images = []
    for scene, layout in zip(scenes, layouts, strict=True):
        shown = bev_layout(scene, factor)[-1]
        both = np.zeros((*layout.shape[1:], 3), np.uint8)
        both[..., 0] = layout[-1] * 255  # requested: red
        both[..., 1] = shown * 255  # generated: green; both: yellow
        size = render_3d(scene[-1]).shape[0]
        both = np.kron(both, np.ones((size // both.shape[0], size // both.shape[0], 1), np.uint8))
        images += [both, render_3d(scene[-1])]
    save_animation([tile_images(images, columns=len(images))], path)


def ceiling_part(args, models, held, out) -> dict:
    size, rows = _voxel(held), {}
    for name in COMMANDS:
        windows = [w for w in (held[i] for i in range(len(held))) if w.command == Command[name].value]
        windows = windows[: args.num]
        if not windows:
            continue
        requests = np.stack([w.trajectory for w in windows])
        recon = _reconstruct(models[1], windows)
        world = {}
        if models[0].paths is not None:  # world coordinates: reconstructed there, shown along the real path
            recon_ego, recon = recon, _reconstruct_world(models, windows)
            world = {"reconstruction miou, ego / world coordinates": [_miou(recon_ego, windows, models),
                                                                       _miou(recon, windows, models)]}  # fmt: skip
        rows[name] = {
            "windows": len(windows),
            "real read as": dict(collections.Counter(window_command(estimate_trajectory(w.labels, size)).name
                                                     for w in windows)),
            "reconstruction read as": dict(collections.Counter(window_command(estimate_trajectory(r, size)).name
                                                               for r in recon)),
            "real": _errors([w.labels for w in windows], requests, size),
            "reconstruction": _errors(recon, requests, size),
            **world,
        }  # fmt: skip
        print(name, rows[name], flush=True)
    return {"rows": rows}


def _reconstruct_world(models, windows) -> np.ndarray:
    """The VAE's reconstructions of windows seen in world coordinates, shown along their real paths."""
    extent = models[0].manifest.grid.extent
    still = [w._replace(labels=to_world(w.labels, w.trajectory, extent)) for w in windows]
    recon = _reconstruct(models[1], still)
    return np.stack([to_ego(r, w.trajectory, extent)[0] for r, w in zip(recon, windows, strict=True)])


def _miou(recon, windows, models) -> float:
    matrix = ConfusionMatrix(models[0].manifest.vae_config.num_classes)
    for r, w in zip(recon, windows, strict=True):
        matrix.update(torch.from_numpy(r.astype(np.int64)), torch.from_numpy(w.labels.astype(np.int64)))
    return float(matrix.compute()["miou"])


def timeplanes_part(args, models, held, out) -> dict:
    dit, size, rows = models[0], _voxel(held), {}

    def spread(maps: torch.Tensor) -> dict:
        planes = dit.model.unroll(maps).as_dict()
        return {name: round(planes[name].std(dim=2).mean().item(), 4) for name in ("tx", "ty", "tz")}

    def travelled(maps: torch.Tensor) -> float:
        paths = [estimate_trajectory(s, size) for s in decode_maps(dit, models[1], maps)]
        return round(float(np.mean([np.linalg.norm(p[-1, :2]) for p in paths])), 3)

    g = torch.Generator().manual_seed(args.seed)
    for name in COMMANDS:
        windows = [w for w in (held[i] for i in range(len(held))) if w.command == Command[name].value]
        windows = windows[: args.num]
        real = torch.cat([encode_map(models, w.labels) for w in windows])
        row = {"windows": len(windows), "real": spread(real), "real travelled m": travelled(real)}
        for cfg in args.cfg:
            cond = Conditions(command=torch.full((len(windows),), Command[name].value))
            spec = SampleSpec("dpmpp", 20, seed=args.seed, batch=len(windows), cfg_scale=cfg)
            maps = sample_maps(dit, len(windows), spec, g, "cpu", cond)
            row[f"cfg {cfg:g}"] = spread(maps)
            row[f"cfg {cfg:g} travelled m"] = travelled(maps)
        rows[name] = row
        print(name, row, flush=True)
    return {"rows": rows}


PARTS = {"ceiling": ceiling_part, "command": command_part, "trajectory": trajectory_part, "layout": layout_part,
         "extend": extend_part, "uncond": uncond_part, "timeplanes": timeplanes_part}  # fmt: skip

if __name__ == "__main__":
    try:
        main()
    except (DataError, FileNotFoundError, ValueError) as error:  # bad input: one line, as the CLI says it
        raise SystemExit(f"error: {error}") from None

"""Probe (issue 40): DiTs compared on what they draw in their own latent coordinates (the centred windows),
every side through the same VAE decoder: N samples per DiT (DPM-Solver++ 20, command and trajectory of real
windows; guidance scale CFG, on the steps whose timestep lies in LO..HI when given) against 2N real windows' encodings decoded (halves A, B: B is the floor), by the
SynthTown evaluator v2 (FID 3D, 2D) and the classifier two-sample test, and the generated latents' spread
in raw latent units against the real ones.
    python compare_dits.py OUT.json N NAME=DIT_RUN[@CFG[:LO-HI]] ... [NAME=latents:LATENT_DIR ...]
Run from the folder that holds runs/ and data/. The real windows (data/latents-long-centred-onepass, decoded by
runs/vae-centred-final) are those of the centred DiT (docs/records/2026-12-07-dit-centred-onepass.md); each DiT's
draws are decoded by the VAE that encoded its latents. NAME=latents:DIR scores the same real windows encoded in
DIR (by another VAE) and decoded by that VAE: that VAE's own distance to the real set, the level its DiT can reach."""

import json
import sys
import time

import numpy as np
import torch

from dynamiccity.dit.conditions import Conditions
from dynamiccity.evaluation.generation import _take, features, scores, two_sample
from dynamiccity.generation.sampling import SampleSpec, sample_maps
from dynamiccity.hexplane import PLANES, HexPlane
from dynamiccity.runs.evaluator import load_evaluator
from dynamiccity.runs.latents import LatentSet
from dynamiccity.runs.loading import load_dit, load_vae

torch.set_grad_enabled(False)
out, n = sys.argv[1], int(sys.argv[2])
vaes = {}


def vae_of(run: str):
    if run not in vaes:
        vaes[run] = load_vae(run)
    return vaes[run]


vae = vae_of("runs/vae-centred-final")
ev = load_evaluator("synthtown-v2")
base = LatentSet("data/latents-long-centred-onepass")  # normalised by its manifest
rows = np.linspace(0, len(base) - 1, 2 * n).round().astype(int)
items = [base[int(i)] for i in rows]
batch = {k: torch.stack([r[k] for r in items]) for k in items[0] if isinstance(items[0][k], torch.Tensor)}
raw_real = base.manifest.denormalise(LatentSet.hexplane(batch))


def decode(hp: HexPlane, by=None) -> np.ndarray:
    """Labels (N, T, X, Y, Z) uint8 of raw latents, decoded 8 windows at a time (by `vae` unless told)."""
    out = []
    for i in range(0, hp.xy.shape[0], 8):
        part = HexPlane.from_planes({p: getattr(hp, p)[i : i + 8] for p in PLANES})
        out.append((by or vae).model.decode(part).argmax(-1).numpy().astype(np.uint8))
    return np.concatenate(out)


t0 = time.time()
real = decode(raw_real)
print("decoded real", real.shape, round(time.time() - t0, 1), flush=True)
groups = np.asarray(batch["scene"])
rf = features(ev.model, list(real), torch.device("cpu"))
A, B = _take(rf, range(0, n)), _take(rf, range(n, 2 * n))
first = (real[:n], A, groups[:n])


def spread(hp):
    return {
        p: {
            "std": round(float(getattr(hp, p).std()), 3),
            "across": round(float(getattr(hp, p).std(0).mean()), 3),
        }
        for p in PLANES
    }


res = {"n": n, "real_latents": spread(raw_real)}
fl = scores(A, B)
res["floor"] = {k: round(fl[k]["fid"], 3) for k in ("3d", "2d")}
res["floor"]["two_sample"] = {
    k: round(v["accuracy"], 3) for k, v in two_sample(first, (real[n:], B, groups[n:]), 12).items()
}
print("floor", res["floor"], flush=True)
cond = Conditions(command=batch["command"][:n], trajectory=batch["trajectory"][:n])
for item in sys.argv[3:]:
    name, spec = item.split("=", 1)
    if spec.startswith("latents:"):
        other = LatentSet(spec.removeprefix("latents:"))
        picked = [other[int(i)] for i in rows[:n]]
        hp = LatentSet.hexplane(
            {k: torch.stack([r[k] for r in picked]) for k in ("xy", "xz", "yz", "tx", "ty", "tz")}
        )
        gen = decode(other.manifest.denormalise(hp), vae_of(other.manifest.vae_run))
        gf = features(ev.model, list(gen), torch.device("cpu"))
        s = scores(A, gf)
        res[name] = {"fid": {k: round(s[k]["fid"], 3) for k in ("3d", "2d")}}
        print(name, res[name], flush=True)
        continue
    run, _, guidance = spec.partition("@")
    scale, _, interval = guidance.partition(":")
    steps = tuple(int(v) for v in interval.split("-")) if interval else None
    dit = load_dit(run)
    t0 = time.time()
    sampler = SampleSpec("dpmpp", 20, seed=0, batch=16, cfg_scale=float(scale or 1), guidance_interval=steps)
    maps = sample_maps(dit, n, sampler, torch.Generator().manual_seed(0), "cpu", cond)
    raw = dit.manifest.denormalise(dit.model.unroll(maps))
    gen = decode(raw, vae_of(dit.manifest.vae_run))
    np.save(out.replace(".json", f"-{name}.npy"), gen[:8])
    gf = features(ev.model, list(gen), torch.device("cpu"))
    s = scores(A, gf)
    row = {
        "step": dit.step,
        "fid": {k: round(s[k]["fid"], 3) for k in ("3d", "2d")},
        "two_sample": {
            k: round(v["accuracy"], 3) for k, v in two_sample(first, (gen, gf, np.arange(n) // 1), 12).items()
        },
        "latents": spread(raw),
        "seconds": round(time.time() - t0, 1),
    }
    res[name] = row
    print(name, row["fid"], row["two_sample"], flush=True)
np.save(out.replace(".json", "-real.npy"), real[:8])
with open(out, "w") as f:
    json.dump(res, f, indent=1)

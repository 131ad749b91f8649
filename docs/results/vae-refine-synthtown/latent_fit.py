"""Where a VAE's reconstruction errors (and its temporal ghosts) come from: the encoder or the decoder.

    python docs/results/vae-refine-synthtown/latent_fit.py VAE --data data/synthtown-heldout --out DIR [--windows N] [--steps S ...]

For N held-out windows, the encoder's latent (the posterior mean) is refined by gradient descent on the
training loss of that one window (weighted cross-entropy + Lovasz, class weights from the run's training
data), the decoder frozen; the scores of the decoded window are recorded at each of --steps. With
`--decoder` the decoder is fitted to the window too (a fresh copy per window): what a HexPlane of this size
and this decoder can hold at all. The gap between the encoder's scores and the refined ones is what the
encoder leaves (the amortisation gap); what remains after refinement is the decoder's and the HexPlane's.

Scores per step: mIoU, occupancy IoU, changing voxels mIoU, vehicle IoU, vehicle false positives and their
ghost share (`metrics.GhostCount`), and how far the refined latent moved (relative L2 to the encoder's).
`--prior W` adds W * 0.5 * mean(z^2), the pull towards N(0, I) (`vae.refine.Refinement.prior_weight`).
`--schedule cosine` decays the latent's step size to 0 over the last of --steps (default: constant).

Whether the decoder can draw a class at all: `--containing NAME` keeps only the windows where the class
occurs, `--upweight NAME=F` multiplies its cross-entropy weight by F, and the record lists, per step, each
class's IoU and what the voxels of the upweighted classes are drawn as.
Writes DIR/latent_fit[-decoder][-priorW][-cosine][-NAMExF][-with-NAME].json.
"""

from __future__ import annotations

import argparse
import copy
import json
import time
from pathlib import Path

import numpy as np
import torch

from dynamiccity.atomic import write_text
from dynamiccity.data.classes import CLASS_ID, CLASS_NAMES, VEHICLE
from dynamiccity.metrics import ConfusionMatrix, GhostCount, changing_voxels
from dynamiccity.runs.datasets import DataSpec, open_windows
from dynamiccity.runs.loading import load_vae
from dynamiccity.runs.vae import frequency_counts
from dynamiccity.runs.validation import spread_indices
from dynamiccity.vae.losses import class_weights, vae_loss


class Scores:
    """Confusions and ghosts of the decoded windows at one refinement step; what the voxels of the
    `watched` classes are drawn as."""

    def __init__(self, k: int, watched: tuple[int, ...] = ()) -> None:
        self.all, self.changing, self.ghosts = ConfusionMatrix(k), ConfusionMatrix(k), GhostCount(k)
        self.moved: list[float] = []
        self.drawn_as = {c: torch.zeros(k, dtype=torch.long) for c in watched}

    def update(self, pred: torch.Tensor, target: torch.Tensor, valid: torch.Tensor, moved: float) -> None:
        self.all.update(pred, target, valid)
        self.changing.update(pred, target, valid & changing_voxels(target))
        self.ghosts.update(pred, target, valid)
        self.moved.append(moved)
        for c, counts in self.drawn_as.items():
            counts += torch.bincount(pred[valid & (target == c)].reshape(-1), minlength=len(counts))

    def result(self) -> dict:
        full, changing, ghosts = self.all.compute(), self.changing.compute(), self.ghosts.compute()
        vehicle = ghosts.get(VEHICLE, {"false_positives": 0, "ghost_share": float("nan")})
        return {
            "miou": round(full["miou"], 4),
            "iou": round(full["iou"], 4),
            "changing_miou": round(changing["miou"], 4),
            "vehicle_iou": round(float(full["per_class"][VEHICLE]), 4),
            "vehicle_false_positives": int(vehicle["false_positives"]),
            "vehicle_ghost_share": round(float(vehicle["ghost_share"]), 3),
            "latent_moved": round(float(np.mean(self.moved)), 3),
            "per_class": {CLASS_NAMES[c]: round(float(v), 4) for c, v in full["per_class"].items() if c},
            **{
                f"{CLASS_NAMES[c]}_drawn_as": {CLASS_NAMES[i]: int(n) for i, n in enumerate(counts) if n}
                for c, counts in self.drawn_as.items()
            },
        }


def class_factor(text: str) -> tuple[int, float]:
    """ "bicycle=1000" -> (class id, 1000.0)."""
    name, _, factor = text.partition("=")
    if name not in CLASS_ID or not factor:
        raise argparse.ArgumentTypeError(f"expected NAME=FACTOR with NAME one of {', '.join(CLASS_NAMES)}")
    return CLASS_ID[name], float(factor)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("vae")
    parser.add_argument("--data", required=True)
    parser.add_argument("--format", default="synthtown")
    parser.add_argument("--out", required=True)
    parser.add_argument("--windows", type=int, default=16)
    parser.add_argument("--steps", type=int, nargs="+", default=[0, 10, 25, 50, 100, 200])
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--prior", type=float, default=0.0, help="weight of 0.5 * mean(z^2) in the loss")
    parser.add_argument("--decoder", action="store_true", help="fit the decoder to each window too")
    parser.add_argument("--decoder-lr", type=float, default=1e-3)
    parser.add_argument("--schedule", choices=("constant", "cosine"), default="constant")
    parser.add_argument("--containing", choices=CLASS_NAMES[1:], help="only windows where this class occurs")
    parser.add_argument("--upweight", type=class_factor, action="append", default=[], metavar="NAME=F")
    args = parser.parse_args()

    vae = load_vae(args.vae)
    model, cfg = vae.model, vae.config
    for p in model.parameters():
        p.requires_grad_(False)
    train = open_windows(cfg.data, cfg.model.frames, "train")
    counts = frequency_counts(train, cfg.loss.weight_frames)[: cfg.model.num_classes]
    weights = class_weights(counts, cfg.loss.class_weight_power)
    for c, factor in args.upweight:
        weights[c] *= factor
    held = open_windows(
        DataSpec(args.data, args.format), cfg.model.frames, "all", default_stride=cfg.model.frames
    )
    pool = list(range(len(held)))
    if args.containing:
        pool = [i for i in pool if (held[i].labels == CLASS_ID[args.containing]).any()]
    indices = [pool[j] for j in spread_indices(pool, args.windows)]
    k, steps = cfg.model.num_classes, sorted(set(args.steps))
    watched = tuple(c for c, _ in args.upweight)
    scores = {s: Scores(k, watched) for s in steps}
    begin = time.perf_counter()
    for n, i in enumerate(indices):
        window = held[i]
        labels = torch.from_numpy(window.labels)[None]
        target, valid = labels[0], torch.from_numpy(window.valid)
        start = model.encode(labels)
        net = copy.deepcopy(model) if args.decoder else model
        params = [net.latent_decoder, net.voxel_decoder]
        if args.decoder:
            for module in params:
                module.train()
                for p in module.parameters():
                    p.requires_grad_(True)
        planes = {name: plane.clone().requires_grad_(True) for name, plane in start.as_dict().items()}
        groups = [{"params": list(planes.values()), "lr": args.lr}]
        if args.decoder:
            groups.append({"params": [p for m in params for p in m.parameters()], "lr": args.decoder_lr})
        optim = torch.optim.Adam(groups)
        norm = torch.sqrt(sum((p**2).sum() for p in start.planes()))
        for step in range(steps[-1] + 1):
            latent = type(start).from_planes(planes)
            if step in scores:
                with torch.no_grad():
                    net.eval()
                    pred = net.decode(latent).argmax(dim=-1)[0]
                    moved = torch.sqrt(
                        sum(
                            ((a - b) ** 2).sum() for a, b in zip(latent.planes(), start.planes(), strict=True)
                        )
                    )
                    scores[step].update(pred, target, valid, float(moved / norm))
                    net.train(args.decoder)
            if step == steps[-1]:
                break
            if args.schedule == "cosine":
                optim.param_groups[0]["lr"] = args.lr * 0.5 * (1 + np.cos(np.pi * step / steps[-1]))
            logits = net.decode(latent)
            prior = sum(0.5 * (p**2).sum() for p in planes.values()) / sum(p.numel() for p in planes.values())
            terms = vae_loss(logits, labels, prior, weights, valid[None], cfg.loss.lovasz_weight, args.prior)
            optim.zero_grad(set_to_none=True)
            terms.total.backward()
            optim.step()
        print(
            f"window {n + 1}/{len(indices)}: {scores[steps[-1]].result()} ({time.perf_counter() - begin:.0f} s)"
        )
    result = {
        "vae": args.vae,
        "data": args.data,
        "windows": len(indices),
        "lr": args.lr,
        "prior": args.prior,
        "schedule": args.schedule,
        "upweight": {CLASS_NAMES[c]: f for c, f in args.upweight},
        "containing": args.containing,
        "decoder": args.decoder,
        **({"decoder_lr": args.decoder_lr} if args.decoder else {}),
        "optimizer": "Adam",
        "loss": "weighted cross-entropy + Lovasz (the VAE's training loss without KL)",
        "by_step": {str(s): scores[s].result() for s in steps},
        "seconds": round(time.perf_counter() - begin, 1),
        "cpu": torch.backends.cpu.get_cpu_capability(),
        "threads": torch.get_num_threads(),
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    name = (
        "latent_fit" + ("-decoder" if args.decoder else "") + (f"-prior{args.prior:g}" if args.prior else "")
    )
    name += "-cosine" if args.schedule == "cosine" else ""
    name += "".join(f"-{CLASS_NAMES[c]}x{f:g}" for c, f in args.upweight)
    name += f"-with-{args.containing}" if args.containing else ""
    name += ".json"
    write_text(out / name, json.dumps(result, indent=1) + "\n")
    print(json.dumps(result["by_step"], indent=1))


if __name__ == "__main__":
    main()

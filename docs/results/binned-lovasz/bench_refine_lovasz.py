"""The Lovasz term's ordering in a refinement step: the exact sort against error bins, interleaved.

    python docs/results/binned-lovasz/bench_refine_lovasz.py [--vae synthtown] [--data data/synthtown-heldout] [--bins 4096] --json OUT

On the first window of --data: seconds per refinement step of the VAE (`Refinement(steps=15)`, three times
per setting, the settings alternating), and the Lovasz-softmax loss alone, forward and backward, on that
window's decoded logits (six calls per setting, alternating, the first dropped). Alternating keeps the
comparison fair on a machine whose speed drifts.
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from dynamiccity.atomic import write_text
from dynamiccity.runs.datasets import DataSpec, open_windows
from dynamiccity.runs.loading import load_vae
from dynamiccity.vae.losses import lovasz_softmax
from dynamiccity.vae.refine import Refinement, refine_latent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vae", default="synthtown")
    parser.add_argument("--data", default="data/synthtown-heldout")
    parser.add_argument("--format", default="synthtown")
    parser.add_argument("--bins", type=int, default=4096)
    parser.add_argument("--json", required=True)
    args = parser.parse_args()

    model = load_vae(args.vae).model
    for p in model.parameters():
        p.requires_grad_(False)
    cfg = model.cfg
    windows = open_windows(DataSpec(args.data, args.format), cfg.frames, "all", default_stride=cfg.frames)
    labels = torch.from_numpy(windows[0].labels)[None]
    start = model.encode(labels)
    settings = {"sorted": None, f"bins_{args.bins}": args.bins}

    refine_latent(model, labels, start, spec=Refinement(steps=2))  # warm-up
    step_s: dict[str, list[float]] = {name: [] for name in settings}
    for _ in range(3):
        for name, bins in settings.items():
            begin = time.perf_counter()
            refine_latent(model, labels, start, spec=Refinement(steps=15, lovasz_bins=bins))
            step_s[name].append(round((time.perf_counter() - begin) / 15, 3))

    with torch.no_grad():
        logits = model.decode(start).reshape(-1, cfg.num_classes)
    target = labels.reshape(-1).long()
    loss_ms: dict[str, list[float]] = {name: [] for name in settings}
    for _ in range(6):
        for name, bins in settings.items():
            x = logits.clone().requires_grad_(True)
            begin = time.perf_counter()
            lovasz_softmax(x.softmax(1), target, bins=bins).backward()
            loss_ms[name].append(round((time.perf_counter() - begin) * 1000, 1))

    result = {
        "vae": args.vae,
        "data": args.data,
        "voxels": labels.numel(),
        "refine_step_s": step_s,
        "lovasz_ms": {name: times[1:] for name, times in loss_ms.items()},
        "cpu": torch.backends.cpu.get_cpu_capability(),
        "threads": torch.get_num_threads(),
        "date": time.strftime("%Y-%m-%d"),
    }
    write_text(args.json, json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()

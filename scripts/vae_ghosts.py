"""How many of a VAE's false positives are temporal ghosts: free voxels predicted as a class at a position
that class holds in another frame of the same window.

    python scripts/vae_ghosts.py runs/vae --data data/synthtown64 --format synthtown [--classes vehicle pedestrian]

A factorised 4D latent that cannot tell when something was where draws it along its whole path; this
measures that directly (`eval-vae`'s precision and changing-voxel scores show that something is wrong, this
shows what).
"""

from __future__ import annotations

import argparse

import torch

from dynamiccity.data.classes import CLASS_NAMES, FREE
from dynamiccity.pipeline import DataSpec, load_vae
from dynamiccity.pipeline.datasets import open_windows
from dynamiccity.pipeline.scoring import reconstructions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run")
    parser.add_argument("--data", required=True)
    parser.add_argument("--format", required=True)
    parser.add_argument(
        "--classes", nargs="+", choices=CLASS_NAMES[1:], default=["vehicle", "pedestrian", "other", "bicycle"]
    )
    args = parser.parse_args()
    ids = {name: CLASS_NAMES.index(name) for name in args.classes}
    model = load_vae(args.run).model
    cfg = model.cfg
    windows = open_windows(DataSpec(args.data, args.format), cfg.frames, "val", default_stride=cfg.frames)
    false_pos = dict.fromkeys(ids, 0)
    ghosts = dict.fromkeys(ids, 0)
    indices = list(range(len(windows)))
    for window, pred in reconstructions(model, windows, indices, torch.device("cpu")):
        target, valid = torch.from_numpy(window.labels), torch.from_numpy(window.valid)
        wrong_free = (target == FREE) & valid
        for name, c in ids.items():
            wrong = wrong_free & (pred == c)
            false_pos[name] += int(wrong.sum())
            ghosts[name] += int((wrong & (target == c).any(dim=0)).sum())
    print(f"{len(windows)} held-out windows of {args.data}")
    for name in ids:
        share = ghosts[name] / false_pos[name] if false_pos[name] else float("nan")
        print(f"{name:11s} free voxels predicted as it: {false_pos[name]:8d}, of which ghosts: {share:.2f}")


if __name__ == "__main__":
    main()

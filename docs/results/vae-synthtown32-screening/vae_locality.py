"""How local a VAE's decoder is: replace the latent features an XY box regenerates (as inpainting does,
`dit.editing.regenerated`) by those of another window, decode, and count the voxels outside the box whose
label did not change. Inpainting (paper Eq. 13) keeps the outside of the box only as far as the decoder is
local: a normalisation over whole planes lets a change inside reach every voxel.

    python docs/results/vae-synthtown32-screening/vae_locality.py RUN [RUN ...] --data data/synthtown64 --format synthtown [--windows 8]
"""

from __future__ import annotations

import argparse
import json

import torch

from dynamiccity.dit.editing import latent_mask, regenerated
from dynamiccity.pipeline import DataSpec, load_vae
from dynamiccity.runs.datasets import open_windows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+")
    parser.add_argument("--data", required=True)
    parser.add_argument("--format", required=True)
    parser.add_argument("--windows", type=int, default=8)
    parser.add_argument("--margins", type=int, nargs="+", default=[0, 4, 8])
    args = parser.parse_args()
    torch.set_grad_enabled(False)
    for run in args.runs:
        model = load_vae(run).model
        cfg = model.cfg
        windows = open_windows(DataSpec(args.data, args.format), cfg.frames, "val", default_stride=cfg.frames)
        x, y, _ = cfg.grid
        box = torch.zeros(x, y, dtype=torch.bool)
        box[: x // 2, : y // 2] = True  # a quarter of the window
        sizes = model.encode(torch.from_numpy(windows[0].labels)[None].long()).sizes[1:]
        keep = regenerated(latent_mask(box, sizes[1:3]), sizes)
        same = {m: [0, 0] for m in args.margins}
        count = min(args.windows, len(windows) - 1)
        for i in range(count):
            a, b = (torch.from_numpy(windows[j].labels)[None].long() for j in (i, i + 1))
            la, lb = model.encode(a), model.encode(b)
            mixed = type(la).from_planes(
                {n: torch.where(getattr(keep, n), getattr(lb, n), getattr(la, n)) for n in keep.as_dict()}
            )
            before = model.decode(la).argmax(-1)[0]
            after = model.decode(mixed).argmax(-1)[0]
            for m in args.margins:
                outside = torch.ones(x, y, dtype=torch.bool)
                outside[: x // 2 + m, : y // 2 + m] = False
                equal = (before == after)[:, outside]
                same[m][0] += int(equal.sum())
                same[m][1] += equal.numel()
        result = {
            "run": run, "plane_upsampler": cfg.plane_upsampler, "fused_width": cfg.fused_width, "windows": count,
            "outside_unchanged": {f"beyond {m} voxels": round(s / n, 4) for m, (s, n) in same.items()},
        }  # fmt: skip
        print(json.dumps(result))


if __name__ == "__main__":
    main()

"""How much of the latents a global condition explains linearly (docs/conditions.md).

    python docs/results/conditions-synthtown-drop50/latent_probe.py data/latents-long-release

A ridge regression (lambda 0.1) from each global condition of the training windows (the command one-hot,
the trajectory's x, y in units of 10 m) to their normalised time planes (tx, ty, tz) and xy plane, scored
on the held-out windows: the share of their variance around the training mean that it explains.
"""

from __future__ import annotations

import argparse

import torch
import torch.nn.functional as F

from dynamiccity.data.windows import TRAIN_SPLITS, VAL_SPLITS
from dynamiccity.runs.latents import LatentSet

TARGETS = {"time planes": ("tx", "ty", "tz"), "xy plane": ("xy",)}


def features(data: LatentSet, kind: str) -> torch.Tensor:
    if kind == "command":
        x = F.one_hot(data.conditions["command"].clamp_min(0).long(), 4).float()
    else:
        x = data.conditions["trajectory"][..., :2].flatten(1).float().nan_to_num(0.0) / 10
    return torch.cat([x, torch.ones(len(x), 1)], 1)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("latents")
    args = parser.parse_args()
    train, val = LatentSet(args.latents, TRAIN_SPLITS), LatentSet(args.latents, VAL_SPLITS)
    for target, planes in TARGETS.items():
        y_train = torch.cat([train.planes[p].flatten(1) for p in planes], 1)
        y_val = torch.cat([val.planes[p].flatten(1) for p in planes], 1)
        spread = (y_val - y_train.mean(0)).square().mean()
        for kind in ("command", "trajectory"):
            x_train, x_val = features(train, kind), features(val, kind)
            w = torch.linalg.solve(
                x_train.T @ x_train + 0.1 * torch.eye(x_train.shape[1]), x_train.T @ y_train
            )
            left = (x_val @ w - y_val).square().mean()
            print(f"{target}: {kind} explains {float(1 - left / spread):.3f} of the held-out variance")


if __name__ == "__main__":
    main()

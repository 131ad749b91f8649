"""The ranking of an evaluator (issue 39): the real-vs-real floor, one-pass VAE reconstructions and the
broken generators, each set of 128 windows scored against two disjoint real sets of 128 windows of another
seed; FID in 2D and 3D as mean and spread over the two, and the classifier two-sample test (against the
first). Library calls only (`dynamiccity.evaluation.generation`), so the real features are computed once.

    python docs/results/evaluator-synthtown-v2/ranking.py EVALUATOR OUT.json REAL FAKE_REAL NAME=DIR ...

REAL: 256 windows (seed 4043: `dynamiccity synth real-4043 --scenes 128 --frames 16 --grid 64 64 8 --seed
4043 --val-fraction 0`); FAKE_REAL: 128 windows of another seed (4044, 64 scenes), the floor's second set
and the source of the broken generators; NAME=DIR: further sets (e.g. `dynamiccity reconstruct` outputs of
FAKE_REAL).
"""

from __future__ import annotations

import json
import sys

import numpy as np
import torch

from dynamiccity.broken import BROKEN, broken
from dynamiccity.evaluation.generation import _take, features, scores, two_sample, window_labels
from dynamiccity.runs.datasets import DataSpec
from dynamiccity.runs.evaluator import load_evaluator

N = 128


def _fids(real_parts: list[dict], fake: dict) -> dict:
    runs = [scores(part, fake) for part in real_parts]
    return {
        kind: {"fid": [r[kind]["fid"] for r in runs], "kid": [r[kind]["kid"] for r in runs]}
        for kind in ("2d", "3d")
    }


def main(evaluator: str, out: str, real: str, other: str, *named: str) -> None:
    torch.set_grad_enabled(False)
    trained = load_evaluator(evaluator)
    model, cfg = trained.model, trained.model.cfg
    spec = lambda path: DataSpec(path, "synthtown")  # noqa: E731
    real_labels, real_g = window_labels(spec(real), cfg, 2 * N)
    assert len(real_labels) == 2 * N, f"{real}: {len(real_labels)} windows, need {2 * N}"
    real_f = features(model, real_labels, torch.device("cpu"))
    parts = [_take(real_f, range(0, N)), _take(real_f, range(N, 2 * N))]
    first = (real_labels[:N], parts[0], real_g[:N])
    sets: dict[str, np.ndarray] = {}
    groups: dict[str, np.ndarray] = {}
    other_labels, other_g = window_labels(spec(other), cfg, N)
    sets["real, another seed (floor)"], groups["real, another seed (floor)"] = other_labels, other_g
    for item in named:
        name, path = item.split("=", 1)
        sets[name], groups[name] = window_labels(spec(path), cfg, N)
    for kind in BROKEN:
        sets[kind], groups[kind] = broken(other_labels, kind), other_g
    result = {"evaluator": str(trained.checkpoint), "windows": N, "floor_between_real_halves": {}, "sets": {}}
    floor = scores(parts[0], parts[1])
    result["floor_between_real_halves"] = {
        k: {"fid": floor[k]["fid"], "kid": floor[k]["kid"]} for k in ("2d", "3d")
    }
    for name, labels in sets.items():
        feats = features(model, labels, torch.device("cpu"))
        row = _fids(parts, feats)
        row["two_sample"] = two_sample(first, (labels, feats, groups[name]), cfg.num_classes)
        result["sets"][name] = row
        print(name, {k: np.round(row[k]["fid"], 3).tolist() for k in ("2d", "3d")},
              row["two_sample"]["evaluator"]["accuracy"], flush=True)  # fmt: skip
    with open(out, "w") as f:
        json.dump(result, f, indent=1)


if __name__ == "__main__":
    main(*sys.argv[1:])

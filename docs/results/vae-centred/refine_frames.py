"""Refinement steps on a subset of a window's frames (issue 39): the eval-vae score of a VAE on DATA with
STEPS Adam steps each decoding FRAMES_PER_STEP evenly spaced frames of the window (`Refinement.frames_per_step`,
the offset turning each step). The same as `dynamiccity eval-vae VAE_RUN --data DATA --format synthtown --split
all --refine STEPS --refine-frames FRAMES_PER_STEP --refine-lr LR`, printed as one JSON line.
    python refine_frames.py VAE_RUN DATA STEPS FRAMES_PER_STEP [LR]"""

import json
import sys

from dynamiccity.evaluation.vae import evaluate_vae
from dynamiccity.runs.datasets import DataSpec
from dynamiccity.vae.refine import Refinement

run, data, steps, per_step = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
lr = float(sys.argv[5]) if len(sys.argv) > 5 else 0.05
how = Refinement(steps=steps, lr=lr, frames_per_step=per_step)
result = evaluate_vae(run, DataSpec(data, "synthtown"), "all", None, "cpu", False, how)
print(json.dumps({"steps": steps, "frames_per_step": per_step, "lr": lr, "miou": round(result["miou"], 4),
                  "changing": round(result["changing"]["miou"], 4)}))  # fmt: skip

"""Probe (issue 39): a VAE trained on the pre-made world-coordinate dataset (worldset.py), whose config therefore
says ego coordinates, scored as `eval-vae` scores a VAE of `data.coordinates: world`: every window encoded as
seen from its first frame, its reconstruction shown back along its ego path, scored in ego coordinates.
    python ego_score.py RUN DATA OUT.json [max_windows [refine_steps]]"""

import json
import sys
from pathlib import Path

from dynamiccity.data import open_dataset
from dynamiccity.evaluation.vae import _report
from dynamiccity.metrics.egomotion import EgoMotionThrough
from dynamiccity.runs.loading import load_vae
from dynamiccity.runs.validation import confusions_of, spread_indices
from dynamiccity.vae.refine import Refinement

run, data, out = sys.argv[1:4]
vae = load_vae(run, device="cpu")
windows = open_dataset(data, "synthtown", frames=vae.model.cfg.frames, stride=vae.model.cfg.frames)
indices = spread_indices(windows, int(sys.argv[4])) if len(sys.argv) > 4 else list(range(len(windows)))
refine = Refinement(steps=int(sys.argv[5])) if len(sys.argv) > 5 and int(sys.argv[5]) else None
motion = EgoMotionThrough(tuple(windows.grid.voxel_size[:2]), windows.reader.classes.common)
result = {}
for world in (True,) if refine else (True, False):
    coordinates = "world" if world else "ego"
    scores = confusions_of(vae.model, windows, indices, "cpu", motion if world else None, refine, coordinates)
    result["world_shown_in_ego" if world else "ego_input"] = _report(scores, windows.reader.classes.names)
result.update(
    ego_motion=motion.result(),
    windows=len(indices),
    run=run,
    step=vae.step,
    data=data,
    refine_steps=refine.steps if refine else 0,
)
Path(out).write_text(json.dumps(result, indent=1) + "\n")
print({k: round(v["miou"], 4) for k, v in result.items() if isinstance(v, dict) and "miou" in v})

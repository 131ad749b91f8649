"""Per-class held-out reconstruction of an evaluator's 3D branch, every frame of the first N windows of a dataset.
python recon_by_class.py EVALUATOR_RUN DATA N"""

import sys

import torch

from dynamiccity.data import open_dataset
from dynamiccity.evaluator.render import render_window
from dynamiccity.metrics import ConfusionMatrix, by_class_name
from dynamiccity.runs.evaluator import load_evaluator

ev = load_evaluator(sys.argv[1])
m, cfg = ev.model, ev.config.model
ws = open_dataset(sys.argv[2], "synthtown", frames=cfg.frames, stride=cfg.frames)
cm = ConfusionMatrix(cfg.num_classes)
with torch.no_grad():
    for i in range(min(int(sys.argv[3]), len(ws))):
        w = ws[i]
        lab = torch.from_numpy(w.labels).long()[None]
        bev, view = render_window(w.labels, cfg)
        out = m(lab, torch.from_numpy(bev)[None], torch.from_numpy(view)[None], list(range(cfg.frames)))
        cm.update(out.logits3d[0].argmax(1), lab[0])
r = cm.compute()
print(ev.step, round(r["miou"], 4), {k: round(v, 3) for k, v in by_class_name(r["per_class"]).items()})

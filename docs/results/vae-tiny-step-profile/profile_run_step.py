"""Probe (issue 41): profile one training step of a trained VAE run as it trains (its objective with uniform class
weights, AdamW, clipping) by operator.   OMP_NUM_THREADS=1 python profile_run_step.py RUN [shapes]"""

import sys
import time
from types import SimpleNamespace

import torch

from dynamiccity.bench.vae import structured_labels
from dynamiccity.runs.loading import load_vae
from dynamiccity.runs.vae_objectives import EncodedObjective, LossWeights
from dynamiccity.train.loop import adamw

torch.manual_seed(0)
vae = load_vae(sys.argv[1], device="cpu")
model = vae.model.train()
cfg = vae.config
spec = cfg.loss
obj = EncodedObjective(
    LossWeights(torch.ones(cfg.model.num_classes), spec.lovasz_weight, spec.kl_weight, spec.lovasz_bins),
    torch.device("cpu"),
)
labels = structured_labels(cfg.model, 1)
batch = SimpleNamespace(labels=labels, valid=torch.ones_like(labels, dtype=torch.bool))
opt = adamw(model.parameters(), 1e-4)


def step():
    loss, _ = obj.loss(model, batch)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()


for _ in range(2):
    step()
t = time.perf_counter()
for _ in range(3):
    step()
print(
    "s/step",
    (time.perf_counter() - t) / 3,
    "threads",
    torch.get_num_threads(),
    "lovasz_bins",
    spec.lovasz_bins,
)
with torch.profiler.profile(
    activities=[torch.profiler.ProfilerActivity.CPU], record_shapes=len(sys.argv) > 2
) as prof:
    step()
print(
    prof.key_averages(group_by_input_shape=len(sys.argv) > 2).table(
        sort_by="self_cpu_time_total", row_limit=30, max_name_column_width=50
    )
)

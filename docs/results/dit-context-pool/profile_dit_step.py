"""Probe (issue 41): where a conditional `synthtown-tiny` DiT training step spends its time, by operator: the
world-placed recipe's network (every condition, also placed on its tokens) at batch 16 with condition tokens
pooled k x k, its v-prediction loss, AdamW.   OMP_NUM_THREADS=1 python profile_dit_step.py K [BATCH]"""

import sys
import time

import torch

from dynamiccity.bench.dit import every_condition
from dynamiccity.diffusion.process import Diffusion, DiffusionConfig
from dynamiccity.dit.conditions import CONDITIONS
from dynamiccity.dit.config import dit_preset
from dynamiccity.dit.model import HexPlaneDiT
from dynamiccity.train.loop import adamw

torch.manual_seed(0)
pool, batch = int(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 16
cfg = dit_preset("synthtown-tiny").with_overrides(conditions=CONDITIONS, placed=CONDITIONS, context_pool=pool)
model = HexPlaneDiT(cfg)
diffusion = Diffusion(DiffusionConfig(prediction="v_prediction"))
opt = adamw(model.parameters(), 4e-4)
shape = (cfg.latent_channels, model.rollout.height, model.rollout.width)


def step():
    x0 = torch.randn(batch, *shape) * model.pixel_mask
    cond = every_condition(cfg, shape, batch, "cpu").dropped(0.1, 0.1)
    loss = diffusion.loss(lambda x, t: model(x, t, cond), x0, model.pixel_mask)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()


for _ in range(2):
    step()
start = time.perf_counter()
for _ in range(3):
    step()
print(
    f"context_pool {pool} batch {batch}: {(time.perf_counter() - start) / 3:.3f} s a step, {torch.get_num_threads()} threads"
)
with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
    step()
print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=25, max_name_column_width=45))

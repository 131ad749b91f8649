"""One guided denoiser step of the conditional carlasc DiT (every condition, batch 1 doubled for guidance):
the conditions embedded and their cross-attention keys and values computed at every step, against prepared
once (`HexPlaneDiT.prepare`, what sampling does since 2026-12-07). Same model, same inputs, one process.
    OMP_NUM_THREADS=1 python docs/results/dit-prepared-conditions/prepare_bench.py"""

import time

import torch
from dynamiccity.bench.dit import every_condition
from dynamiccity.dit import HexPlaneDiT
from dynamiccity.dit.config import dit_preset
from dynamiccity.dit.conditions import CONDITIONS
torch.manual_seed(0)
cfg = dit_preset("carlasc").with_overrides(conditions=CONDITIONS)
model = HexPlaneDiT(cfg).eval()
shape = (cfg.latent_channels, model.rollout.height, model.rollout.width)
cond = every_condition(cfg, shape, 1, "cpu").with_null_half()
x = torch.randn(2, *shape); t = torch.tensor([500, 500])
with torch.no_grad():
    model(x, t, cond)
    def tm(f, n=2):
        s = time.perf_counter()
        for _ in range(n): f()
        return (time.perf_counter() - s) / n
    ready = model.prepare(cond, 2)
    prep = tm(lambda: model.prepare(cond, 2))
    a = tm(lambda: model(x, t, cond)); b = tm(lambda: model(x, t, ready)); a2 = tm(lambda: model(x, t, cond))
print(torch.backends.cpu.get_cpu_capability(), torch.get_num_threads(), "tokens", model.num_real_tokens,
      "context", ready.keys_values[0].shape, f"every step prepared: {a:.2f} {a2:.2f} s; prepared once: {b:.2f} s; prepare {prep:.2f} s")

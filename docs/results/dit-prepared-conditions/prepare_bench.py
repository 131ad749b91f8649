"""One guided denoiser step of the conditional carlasc DiT (every condition, batch 1 doubled for guidance):
the conditions embedded and their cross-attention keys and values computed at every step, against prepared
once (`HexPlaneDiT.prepare`, what sampling does since 2026-12-07). Same model, same inputs, one process.
    OMP_NUM_THREADS=1 python docs/results/dit-prepared-conditions/prepare_bench.py"""

import time

import torch

from dynamiccity.bench.dit import every_condition
from dynamiccity.dit import HexPlaneDiT
from dynamiccity.dit.conditions import CONDITIONS
from dynamiccity.dit.config import dit_preset


def seconds(fn, repeats: int = 2) -> float:
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - start) / repeats


torch.manual_seed(0)
cfg = dit_preset("carlasc").with_overrides(conditions=CONDITIONS)
model = HexPlaneDiT(cfg).eval()
shape = (cfg.latent_channels, model.rollout.height, model.rollout.width)
cond = every_condition(cfg, shape, 1, "cpu").with_null_half()
x, t = torch.randn(2, *shape), torch.tensor([500, 500])
with torch.no_grad():
    model(x, t, cond)  # warm-up
    ready = model.prepare(cond, 2)
    prepare = seconds(lambda: model.prepare(cond, 2))
    every_step = [seconds(lambda: model(x, t, cond)), seconds(lambda: model(x, t, ready))]
    every_step.append(seconds(lambda: model(x, t, cond)))
    assert torch.equal(model(x, t, cond), model(x, t, ready))
print(
    f"{torch.backends.cpu.get_cpu_capability()}, {torch.get_num_threads()} threads; {model.num_real_tokens} map "
    f"tokens, {ready.keys_values[0].shape[3]} condition tokens; prepared every step: {every_step[0]:.2f}, "
    f"{every_step[2]:.2f} s; prepared once: {every_step[1]:.2f} s; preparing: {prepare:.2f} s"
)

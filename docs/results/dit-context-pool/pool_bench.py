"""The conditional carlasc DiT's training step (batch 1, every condition) and guided denoiser step (batch 1
doubled, conditions prepared once) with the cross-attention's condition tokens pooled k x k on the patch
grid (`model.context_pool`), beside the unconditional network's step and unguided denoiser step; one
process, the same inputs, the FLOPs of each step against the fp32 matmul peak measured in the same run.
    OMP_NUM_THREADS=2 python docs/results/dit-context-pool/pool_bench.py [repeats] > out.json"""

import json
import sys
import time

import torch

from dynamiccity.bench.dit import GUIDANCE, every_condition
from dynamiccity.bench.flops import machine_peak, step_flops
from dynamiccity.diffusion.process import Diffusion, DiffusionConfig, guided
from dynamiccity.dit import HexPlaneDiT
from dynamiccity.dit.conditions import CONDITIONS
from dynamiccity.dit.config import dit_preset
from dynamiccity.train.loop import adamw


def seconds(fn, repeats: int) -> float:
    fn()  # warm-up
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - start) / repeats


def network(conditions: tuple[str, ...], pool: int, repeats: int) -> dict:
    torch.manual_seed(0)
    cfg = dit_preset("carlasc").with_overrides(conditions=conditions, context_pool=pool)
    model, diffusion = HexPlaneDiT(cfg), Diffusion(DiffusionConfig())
    opt = adamw(model.parameters(), lr=1e-4)
    shape = (cfg.latent_channels, model.rollout.height, model.rollout.width)
    x0 = torch.randn(1, *shape) * model.pixel_mask
    cond = every_condition(cfg, shape, 1, "cpu")

    def train_step():
        loss = diffusion.loss(lambda x, t: model(x, t, cond), x0, model.pixel_mask)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    model.eval()
    denoise = guided(model, cond, GUIDANCE if conditions else 1.0)
    x, t = torch.randn(1, *shape), torch.tensor([500])
    with torch.no_grad():
        denoise(x, t)  # prepares the conditions, as a scene's first step does
        context = 0 if model.conditions is None else model.conditions(cond, 1).context.shape[1]
        step = seconds(lambda: denoise(x, t), repeats)
        step_flop = step_flops(lambda: denoise(x, t))
    model.train()
    return {
        "conditions": list(conditions),
        "context_pool": pool,
        "params": sum(p.numel() for p in model.parameters()),
        "map_tokens": model.num_real_tokens,
        "condition_tokens": context,
        "train_step_s": seconds(train_step, repeats),
        "train_step_flops": step_flops(train_step),
        "denoise_step_s": step,
        "denoise_step_flops": step_flop,
    }


if __name__ == "__main__":
    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 2
    peak = machine_peak("cpu").flop_s(False)
    rows = [network(CONDITIONS, pool, repeats) for pool in (1, 2, 4)] + [network((), 1, repeats)]
    for row in rows:
        for step in ("train_step", "denoise_step"):
            row[f"{step}_share_of_peak"] = row[f"{step}_flops"] / row[f"{step}_s"] / peak
    report = {
        "cpu": torch.backends.cpu.get_cpu_capability(),
        "threads": torch.get_num_threads(),
        "fp32_peak_flop_s": peak,
        "rows": rows,
    }
    print(json.dumps(report, indent=1))

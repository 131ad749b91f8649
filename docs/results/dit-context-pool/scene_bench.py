"""What a guided carlasc scene costs against an unguided one, by denoiser step: the unconditional network's
step, the conditional network's (every condition, conditions prepared once) conditional-only step and its
guided step (batch doubled, scale 4), at context_pool 1, 2 and 4; one VAE decode. A DPM-Solver++ 20 scene
is estimated as its 20 steps (guided ones where the guidance interval holds the step's training timestep,
as `diffusion.process.guided` runs them) plus the decode.
    OMP_NUM_THREADS=2 python docs/results/dit-context-pool/scene_bench.py [repeats] > out.json"""

import json
import sys
import time

import torch

from dynamiccity.bench.dit import GUIDANCE, every_condition
from dynamiccity.diffusion.process import Diffusion, DiffusionConfig, guided
from dynamiccity.dit import HexPlaneDiT
from dynamiccity.dit.conditions import CONDITIONS
from dynamiccity.dit.config import dit_preset
from dynamiccity.vae.config import vae_preset
from dynamiccity.vae.model import HexPlaneVAE

INTERVALS = {"every step": None, "300..700": (300, 700), "400..700": (400, 700)}


def seconds(fn, repeats: int) -> float:
    fn()  # warm-up (and the conditions prepared)
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - start) / repeats


def dpmpp_timesteps(steps: int = 20) -> list[int]:
    seen = []
    diffusion = Diffusion(DiffusionConfig())
    shape = (1, 1, 2, 2)
    diffusion.sample(lambda x, t: seen.append(int(t[0])) or torch.zeros_like(x), shape, "dpmpp", steps)
    return seen


def steps_of(conditions: tuple[str, ...], pool: int, repeats: int) -> dict:
    torch.manual_seed(0)
    cfg = dit_preset("carlasc").with_overrides(conditions=conditions, context_pool=pool)
    model = HexPlaneDiT(cfg).eval()
    shape = (cfg.latent_channels, model.rollout.height, model.rollout.width)
    cond = every_condition(cfg, shape, 1, "cpu")
    x, t = torch.randn(1, *shape), torch.tensor([500])
    with torch.no_grad():
        out = {"conditional": seconds(lambda: guided(model, cond, 1.0)(x, t), repeats)}
        if conditions:
            denoise = guided(model, cond, GUIDANCE)
            out["guided"] = seconds(lambda: denoise(x, t), repeats)
    return out


if __name__ == "__main__":
    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 2
    timesteps = dpmpp_timesteps()
    vae = HexPlaneVAE(vae_preset("carlasc")).eval()
    plain = HexPlaneDiT(dit_preset("carlasc"))
    latent = plain.unroll(torch.randn(1, 16, plain.rollout.height, plain.rollout.width))
    with torch.no_grad():
        decode = seconds(lambda: vae.decode(latent).argmax(-1), 1)
    unconditional = steps_of((), 1, repeats)["conditional"]
    rows = []
    for pool in (1, 2, 4):
        step = steps_of(CONDITIONS, pool, repeats)
        for name, interval in INTERVALS.items():
            lo, hi = interval or (0, 999)
            guided_steps = sum(lo <= t <= hi for t in timesteps)
            scene = (
                guided_steps * step["guided"] + (len(timesteps) - guided_steps) * step["conditional"] + decode
            )
            rows.append(
                {
                    "context_pool": pool,
                    "guidance": name,
                    "guided_steps": guided_steps,
                    **step,
                    "scene_s": scene,
                }
            )
    unguided = len(timesteps) * unconditional + decode
    for row in rows:
        row["scene_over_unguided"] = row["scene_s"] / unguided
    report = {
        "cpu": torch.backends.cpu.get_cpu_capability(),
        "threads": torch.get_num_threads(),
        "dpmpp_20_timesteps": timesteps,
        "decode_s": decode,
        "unconditional_step_s": unconditional,
        "unguided_scene_s": unguided,
        "rows": rows,
    }
    print(json.dumps(report, indent=1))

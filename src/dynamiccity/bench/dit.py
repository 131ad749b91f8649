"""`dynamiccity bench dit`: DiT training-step time and memory, seconds to generate one scene, and the FLOPs
of each timed step against the machine's matmul peak."""

from __future__ import annotations

import time
from dataclasses import asdict

import torch

from dynamiccity.bench.common import PeakMemory, run_isolated, sync, timed
from dynamiccity.bench.flops import Rate, machine_peak, step_flops
from dynamiccity.device import autocast, bf16_pays
from dynamiccity.diffusion.process import Diffusion, DiffusionConfig, guided
from dynamiccity.dit.conditions import CONDITIONS, Conditions
from dynamiccity.dit.config import DiTConfig, dit_preset
from dynamiccity.dit.model import HexPlaneDiT
from dynamiccity.train.loop import adamw

GUIDANCE = 4.0  # the release's scale; guidance doubles the batch of every sampling step


def every_condition(cfg: DiTConfig, shape: tuple[int, ...], batch: int, device: str) -> Conditions | None:
    """Random values of every condition the network takes, so that timings include every condition branch
    (None for an unconditional network)."""
    if not cfg.conditions:
        return None
    values = {
        "command": torch.randint(0, 4, (batch,)),
        "trajectory": torch.randn(batch, cfg.frames, 3),
        "layout": torch.rand(batch, cfg.frames, *cfg.layout_grid) > 0.9,
        "previous": torch.randn(batch, *shape),
        "frame": torch.randn(batch, *shape),
    }
    return Conditions(**{name: values[name] for name in cfg.conditions}).to(device)


def measure(
    preset: str,
    samplers: list[tuple[str, int]],
    repeats: int = 2,
    device: str = "cpu",
    overrides: dict | None = None,
    guidance_interval: tuple[int, int] | None = None,
) -> dict:
    """Time training steps at batch 1 and 8, one guided denoiser step (the conditions prepared at the first
    step of a scene, as sampling does), and whole guided generations, with the network and its inputs
    conditioned on every condition (both insertion branches) unless `overrides` (model config keys) say
    otherwise: `conditions=()` times the unconditional network, whose scenes are unguided. Whole generations
    are guided on the steps in `guidance_interval` only when it is given (`diffusion.process.guided`);
    `guided_steps` counts, per sampler, the denoiser steps that ran both halves.

    `rates` holds the FLOPs of one training step at batch 1 and 8, one guided denoiser step and one decode,
    each against the matmul peak of the dtype it ran in, measured first (before the memory poller starts).
    Whole generations are timed only: their FLOPs are the sampler's denoiser calls and a decode."""
    from dynamiccity.vae.config import vae_preset
    from dynamiccity.vae.model import HexPlaneVAE

    torch.manual_seed(0)
    bf16 = bf16_pays(torch.device(device))
    cfg = dit_preset(preset).with_overrides(**{"conditions": CONDITIONS, **(overrides or {})})
    machine = machine_peak(device)
    memory = PeakMemory(device)
    model = HexPlaneDiT(cfg).to(device)
    diffusion = Diffusion(DiffusionConfig())
    opt = adamw(model.parameters(), lr=1e-4)
    mask = model.pixel_mask
    shape = (cfg.latent_channels, model.rollout.height, model.rollout.width)

    def step(batch: int):
        x0 = torch.randn(batch, *shape, device=device) * mask
        cond = every_condition(cfg, shape, batch, device)
        cond = None if cond is None else cond.dropped(0.1, 0.1)
        with autocast(device):
            loss = diffusion.loss(lambda x, t: model(x, t, cond), x0, mask)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    step_s = timed(lambda: step(1), repeats, device)
    peak_b1 = memory.mb()
    step_b8 = timed(lambda: step(8), 1, device)
    peak_b8 = memory.mb()  # before the VAE and the sampling below, which would otherwise count as batch 8's
    flops = {"train_step": step_flops(lambda: step(1)), "train_step_b8": step_flops(lambda: step(8))}
    model.eval()
    denoise = guided(model, every_condition(cfg, shape, 1, device), GUIDANCE)
    x = torch.randn(1, *shape, device=device)
    t = torch.tensor([500], device=device)
    with torch.no_grad(), autocast(device):
        per_step = timed(lambda: denoise(x, t), repeats, device)
        flops["per_step"] = step_flops(lambda: denoise(x, t))
    vae_cfg = vae_preset(preset)
    vae = HexPlaneVAE(vae_cfg).to(device).eval()
    latent = model.unroll(torch.randn(1, *shape, device=device) * mask)
    with torch.no_grad(), autocast(device):
        decode_s = timed(lambda: vae.decode(latent).argmax(-1), 1, device)
        flops["decode"] = step_flops(lambda: vae.decode(latent).argmax(-1))
    sample_s, guided_steps = {}, {}
    for sampler, steps in samplers:
        batches: list[int] = []  # the batch of every network call: 2 where a step ran both halves
        hook = model.register_forward_pre_hook(lambda _, args, seen=batches: seen.append(args[0].shape[0]))
        start = time.perf_counter()
        # prepared per scene, as sampling does
        scene_denoise = guided(model, every_condition(cfg, shape, 1, device), GUIDANCE, guidance_interval)
        with torch.no_grad(), autocast(device):
            grid = diffusion.sample(
                scene_denoise, (1, *shape), sampler, steps, torch.Generator().manual_seed(0), mask, device
            )
            scene = vae.decode(model.unroll(grid)).argmax(-1)
        sync(device)
        sample_s[f"{sampler}-{steps}"] = time.perf_counter() - start
        hook.remove()
        guided_steps[f"{sampler}-{steps}"] = batches.count(2)
        del scene
    peak_all = memory.mb()
    memory.stop()
    seconds = {"train_step": step_s, "train_step_b8": step_b8, "per_step": per_step, "decode": decode_s}
    peak_flop_s = machine.flop_s(bf16)
    return {
        "preset": preset,
        "device": device,
        "threads": torch.get_num_threads(),
        "autocast_bf16": bf16,
        "params": sum(p.numel() for p in model.parameters()),
        "tokens": model.num_tokens,
        "real_tokens": model.num_real_tokens,
        "train_step_s": step_s,
        "train_step_s_b8": step_b8,
        "peak_mem_mb": peak_b1,
        "peak_mem_mb_with_b8": peak_b8,
        "peak_mem_mb_with_scenes": peak_all,
        "per_step_s": per_step,
        "guidance_scale": GUIDANCE,
        "conditions": list(cfg.conditions),
        "context_pool": cfg.context_pool,
        "overrides": overrides or {},
        "decode_s": decode_s,
        "sample_s": sample_s,
        "guidance_interval": None if guidance_interval is None else list(guidance_interval),
        "guided_steps": guided_steps,
        "sample_s_estimated": {"ddpm-1000": 1000 * per_step + decode_s},
        "machine": asdict(machine),
        "rates": {name: asdict(Rate.of(flops[name], seconds[name], peak_flop_s)) for name in seconds},
    }


def measure_isolated(*args) -> dict:
    """`measure(*args)` in a fresh process, so the peak memory belongs to this run alone."""
    return run_isolated(measure, *args)

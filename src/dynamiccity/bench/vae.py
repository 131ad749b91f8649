"""`dynamiccity bench vae`: training-step time, encode+decode time, peak memory, size of the HexPlane VAE,
and the FLOPs of both against the machine's matmul peak."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch

from dynamiccity.bench.common import PeakMemory, run_isolated, timed
from dynamiccity.bench.flops import MachinePeak, Rate, machine_peak, step_flops
from dynamiccity.device import autocast, bf16_pays
from dynamiccity.train.loop import adamw
from dynamiccity.vae.config import VAEConfig
from dynamiccity.vae.losses import vae_loss


@dataclass
class VAEBench:
    preset: str
    encoder: str
    decoder: str
    batch: int
    threads: int
    train_step_s: float
    infer_s: float
    refine_steps: int
    encode_s: float
    peak_mem_mb: float
    params: int
    compression_ratio: float
    latent_floats: int
    device: str
    autocast_bf16: bool
    recompute: bool
    lovasz_bins: int | None
    machine: MachinePeak
    rates: dict[str, Rate]
    """"train_step", "infer" (encode+decode) and "encode" (the encoding a DiT is given: one pass, then
    `refine_steps` refinement steps on the window, `vae.refine`), each against the peak of the dtype it ran
    in."""
    refine_frames: int | None = None
    """Frames each refinement step decodes (None: all)."""


def structured_labels(cfg: VAEConfig, batch: int) -> torch.Tensor:
    """A real SynthTown window at the model's grid (structure matters for nothing here but realism)."""
    from dynamiccity.data.scene import CARLASC_GRID, GridSpec
    from dynamiccity.synthtown import generate_scene

    spec = GridSpec(cfg.grid, CARLASC_GRID.extent, CARLASC_GRID.hz)
    labels = torch.from_numpy(generate_scene(seed=0, frames=cfg.frames, grid=spec).labels).long()
    return labels[None].repeat(batch, 1, 1, 1, 1).clamp_max(cfg.num_classes - 1)


def measure(
    preset: str,
    cfg: VAEConfig,
    batch: int = 1,
    repeats: int = 2,
    device: str = "cpu",
    lovasz_bins: int | None = None,
    refine: int = 0,
    refine_frames: int | None = None,
) -> VAEBench:
    """Time `repeats` training steps (after one warm-up), `repeats` encode+decode passes and `repeats`
    encodings with `refine` refinement steps, in this process, count the FLOPs of one of each, and measure
    the machine's matmul peak first (before the memory poller starts). `lovasz_bins`: the training loss's
    Lovasz ordering (`vae.losses.lovasz_softmax`; None: an exact sort)."""
    from dynamiccity.vae.model import HexPlaneVAE
    from dynamiccity.vae.refine import Refinement, encode_window

    torch.manual_seed(0)
    bf16 = bf16_pays(torch.device(device))
    labels = structured_labels(cfg, batch).to(device)
    machine = machine_peak(device)
    memory = PeakMemory(device)
    model = HexPlaneVAE(cfg).to(device)
    opt = adamw(model.parameters(), lr=1e-3)

    def step() -> None:
        with autocast(device):
            out = model(labels)
            loss = vae_loss(out.logits, labels, out.posterior.kl(), lovasz_bins=lovasz_bins).total
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    step_s = timed(step, repeats, device)
    train_flops = step_flops(step)
    model.eval()

    def infer() -> None:
        with torch.no_grad(), autocast(device):
            model.decode(model.encode(labels)).argmax(-1)

    infer_s = timed(infer, repeats, device)
    infer_flops = step_flops(infer)
    refinement = Refinement(steps=refine, frames_per_step=refine_frames) if refine else None

    def encode() -> None:
        with torch.no_grad():
            encode_window(model, labels, refine=refinement)

    encode_s = timed(encode, repeats, device)
    encode_flops = step_flops(encode)
    peak = memory.mb()
    memory.stop()
    latent = model.encode(labels[:1]).numel_per_sample()
    voxels = cfg.frames * cfg.grid[0] * cfg.grid[1] * cfg.grid[2]
    peak_flop_s = machine.flop_s(bf16)
    rates = {
        "train_step": Rate.of(train_flops, step_s, peak_flop_s),
        "infer": Rate.of(infer_flops, infer_s, peak_flop_s),
        "encode": Rate.of(encode_flops, encode_s, machine.flop_s(False)),
    }
    return VAEBench(
        preset, cfg.encoder, cfg.decoder, batch, torch.get_num_threads(), step_s, infer_s, refine, encode_s, peak,
        sum(p.numel() for p in model.parameters()), voxels / latent, latent, device, bf16, cfg.recompute, lovasz_bins,
        machine, rates, refine_frames,
    )  # fmt: skip


def _measure_as_dict(
    preset: str,
    cfg: VAEConfig,
    batch: int,
    repeats: int,
    device: str,
    lovasz_bins: int | None,
    refine: int,
    refine_frames: int | None,
) -> dict:
    return asdict(measure(preset, cfg, batch, repeats, device, lovasz_bins, refine, refine_frames))


def measure_isolated(
    preset: str,
    cfg: VAEConfig,
    batch: int = 1,
    repeats: int = 2,
    device: str = "cpu",
    lovasz_bins: int | None = None,
    refine: int = 0,
    refine_frames: int | None = None,
) -> dict:
    """`measure` in a fresh process, so the peak memory belongs to this configuration alone."""
    return run_isolated(
        _measure_as_dict, preset, cfg, batch, repeats, device, lovasz_bins, refine, refine_frames
    )

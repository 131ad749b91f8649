"""`dynamiccity stats`: size, compression, training and inference cost of a trained VAE and DiT (paper
appendix B.4, Tables 10-14).

Unlike `bench vae` and `bench dit`, which build presets with random weights, this measures the models of
two run folders, as they were trained: the run's optimiser settings, gradient clipping, EMA and bf16 choice.
Every measurement runs in a fresh process (`run_isolated`), so its peak memory is its own.

Peak memory (MiB) includes the weights of the models the measurement holds: on CUDA it is the allocator's
peak; on the CPU the size of the weights plus the highest resident set above the one after loading them
(loading reads and verifies the checkpoint, which would otherwise set the peak of a small model).

Each timed call's FLOPs are counted (`bench.flops.step_flops`) and compared with the matmul peak of the
device in the dtype the run trains in, measured once per device by this process, with the measuring
processes' thread count, before they start.
"""

from __future__ import annotations

import copy
import gc
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

import torch
from torch import nn

from dynamiccity.bench.common import PeakMemory, run_isolated, timed
from dynamiccity.bench.flops import MachinePeak, Rate, machine_peak, step_flops
from dynamiccity.bench.vae import structured_labels
from dynamiccity.device import autocast, bf16_pays
from dynamiccity.generation.generate import generate_with
from dynamiccity.generation.sampling import SampleSpec, load_pair
from dynamiccity.hexplane import plane_shapes
from dynamiccity.runs.loading import Trained, load_dit, load_vae
from dynamiccity.train.config import TrainConfig
from dynamiccity.train.loop import adamw, update
from dynamiccity.vae.config import VAEConfig

DEVICES = ("cpu", "cuda")
VAE_BATCHES = (1,)
DIT_BATCHES = (1, 8)
SCENE = SampleSpec("dpmpp", 20, seed=0, batch=1)
"""One generated scene, as the paper times it: DPM-Solver++ for 20 steps, then the VAE's decode."""


@dataclass(frozen=True)
class Cost:
    """Mean seconds of one call over `repeats` after a warm-up, the peak memory (MiB, weights included) of
    the measurement, and the FLOPs of one call; `batch` windows (VAE) or latent maps (DiT) per call."""

    batch: int
    seconds: float
    peak_mb: float
    flops: int


@dataclass(frozen=True)
class ModelStats:
    """One row of the table: a trained model measured on one device.

    weights_mb: its parameters in fp32; checkpoint_mb: its weights file on disk. compression_ratio and
    latent_floats: the VAE's (T * X * Y * Z voxels of a window over the floats of its HexPlane), None for
    the DiT. train: one training step per batch size; infer: encode + decode of one window (VAE), one
    scene of `SCENE` with the VAE's decode (DiT). machine: the device's matmul peaks; train_rates and
    infer_rate: `train` and `infer` against the peak of the dtype the run trains in.
    """

    model: Literal["vae", "dit"]
    device: str
    run: str
    checkpoint: str
    step: int
    params: int
    weights_mb: float
    checkpoint_mb: float
    compression_ratio: float | None
    latent_floats: int | None
    train: tuple[Cost, ...]
    infer: Cost
    autocast_bf16: bool
    threads: int
    repeats: int
    machine: MachinePeak
    train_rates: tuple[Rate, ...]
    infer_rate: Rate


def latent_floats(cfg: VAEConfig) -> int:
    """Floats of one window's HexPlane: `latent_channels` times the six planes' areas."""
    return cfg.latent_channels * sum(rows * cols for rows, cols in plane_shapes(cfg.latent_grid).values())


def compression_ratio(cfg: VAEConfig) -> float:
    """Voxels of a window (T * X * Y * Z) over the floats of its HexPlane."""
    x, y, z = cfg.grid
    return cfg.frames * x * y * z / latent_floats(cfg)


def stats_devices(device: str | None = None) -> list[str]:
    """`device` alone, or the CPU and, where there is one, CUDA."""
    if device is None:
        return ["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"]
    if device not in DEVICES:
        raise ValueError(f"device must be one of {', '.join(DEVICES)}, got {device!r}.")
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("cuda: no CUDA device is available here.")
    return [device]


def weights_mb(*models: nn.Module) -> float:
    """MiB of the models' parameters and buffers, in the dtypes they are held in."""
    tensors = [t for m in models for t in (*m.parameters(), *m.buffers())]
    return sum(t.numel() * t.element_size() for t in tensors) / 2**20


def model_stats(
    vae_run: str | Path, dit_run: str | Path, devices: Sequence[str], repeats: int = 2
) -> list[ModelStats]:
    """A row for the VAE and one for the DiT on each of `devices`. The DiT must have learned the latents of
    this VAE (its run keeps the VAE checkpoint's hash), as for `dynamiccity sample`."""
    vae, dit = load_vae(vae_run), load_dit(dit_run)  # one-line errors naming the folder
    dit.manifest.check_vae(vae.checkpoint)
    threads = torch.get_num_threads()  # the measuring processes take this process's
    vae_dir, dit_dir = str(vae_run), str(dit_run)
    rows = []
    for device in devices:
        machine = machine_peak(device)
        train = run_isolated(_vae_train, vae_dir, device, threads, repeats)
        infer = run_isolated(_vae_infer, vae_dir, device, threads, repeats)
        rows.append(_row("vae", vae, vae_run, machine, repeats, train, infer))
        train = run_isolated(_dit_train, dit_dir, device, threads, repeats)
        infer = run_isolated(_dit_infer, dit_dir, vae_dir, device, threads, repeats)
        rows.append(_row("dit", dit, dit_run, machine, repeats, train, infer))
    return rows


def _row(
    model: Literal["vae", "dit"],
    trained: Trained,
    run: str | Path,
    machine: MachinePeak,
    repeats: int,
    train: list[dict],
    infer: dict,
) -> ModelStats:
    params = sum(p.numel() for p in trained.model.parameters())
    vae_cfg = trained.config.model if model == "vae" else None
    device = machine.device
    bf16 = trained.config.train.bf16 and bf16_pays(torch.device(device))
    train_costs, infer_cost = tuple(Cost(**cost) for cost in train), Cost(**infer)
    return ModelStats(
        model=model,
        device=device,
        run=str(run),
        checkpoint=str(trained.checkpoint),
        step=trained.step,
        params=params,
        weights_mb=params * 4 / 2**20,
        checkpoint_mb=trained.checkpoint.stat().st_size / 2**20,
        compression_ratio=compression_ratio(vae_cfg) if vae_cfg else None,
        latent_floats=latent_floats(vae_cfg) if vae_cfg else None,
        train=train_costs,
        infer=infer_cost,
        autocast_bf16=bf16,
        threads=torch.get_num_threads(),
        repeats=repeats,
        machine=machine,
        train_rates=tuple(_rate(cost, machine.flop_s(bf16)) for cost in train_costs),
        infer_rate=_rate(infer_cost, machine.flop_s(bf16)),
    )


def _rate(cost: Cost, peak_flop_s: float) -> Rate:
    return Rate.of(cost.flops, cost.seconds, peak_flop_s)


# ---- measurements, each in its own process --------------------------------------------------------------


def _seeded(threads: int) -> None:
    torch.set_num_threads(threads)
    torch.manual_seed(0)


def _peak_mb(memory: PeakMemory, resident_mb: float) -> float:
    """The measurement's peak with the weights: CUDA's allocator peak holds them; on the CPU the poller
    reads only the growth above the resident set after loading, so their size is added."""
    return memory.mb() if memory.device.startswith("cuda") else resident_mb + memory.mb()


def _train_costs(
    model: nn.Module,
    cfg: TrainConfig,
    loss: Callable[[nn.Module, torch.Tensor], torch.Tensor],
    inputs: dict[int, torch.Tensor],
    repeats: int,
    device: str,
) -> list[dict]:
    """Seconds and peak of a training step of `model` as its run trains it: the forward pass `loss` under
    the run's autocast, then the trainer's own update (`train.loop.update`: AdamW, gradient clipping, the
    warmed-up EMA), for each batch size of `inputs`, smallest first, and the FLOPs of one step each
    (counted after the timing, so that the peak memory is the timed steps')."""
    opt = adamw(model.parameters(), cfg.lr, cfg.weight_decay)  # imports ~800 modules; its state comes later
    gc.collect()
    resident = weights_mb(model)
    memory = PeakMemory(device)
    model.train()
    ema = copy.deepcopy(model).requires_grad_(False) if cfg.ema else None
    steps = iter(range(1 << 62))

    def step(x: torch.Tensor) -> None:
        with autocast(device, cfg.bf16):
            value = loss(model, x)
        update(model, opt, value, cfg, ema, next(steps))

    costs = []
    for batch, x in sorted(inputs.items()):
        seconds = timed(lambda x=x: step(x), repeats, device)
        peak = _peak_mb(memory, resident)
        costs.append(asdict(Cost(batch, seconds, peak, step_flops(lambda x=x: step(x)))))
    memory.stop()
    return costs


def _vae_train(run: str, device: str, threads: int, repeats: int) -> list[dict]:
    """The run's own objective (`runs.vae_objectives.EncodedObjective`) on structured windows, with every
    voxel valid and uniform class weights (the run's come from its data; they cost the same)."""
    from dynamiccity.runs.vae_objectives import EncodedObjective, LossWeights

    _seeded(threads)
    vae = load_vae(run, device=device)
    spec = vae.config.loss
    classes = torch.ones(vae.config.model.num_classes, device=device)
    objective = EncodedObjective(
        LossWeights(classes, spec.lovasz_weight, spec.kl_weight, spec.lovasz_bins), device
    )

    def loss(model: nn.Module, labels: torch.Tensor) -> torch.Tensor:
        return objective.loss(model, _Windows(labels, torch.ones_like(labels, dtype=torch.bool)))[0]

    inputs = {b: structured_labels(vae.config.model, b).to(device) for b in VAE_BATCHES}
    return _train_costs(vae.model, vae.config.train, loss, inputs, repeats, device)


@dataclass(frozen=True)
class _Windows:
    """A batch as the VAE's objective reads it: labels (B, T, X, Y, Z) and where they are valid."""

    labels: torch.Tensor
    valid: torch.Tensor


def _vae_infer(run: str, device: str, threads: int, repeats: int) -> dict:
    _seeded(threads)
    vae = load_vae(run, device=device)
    labels = structured_labels(vae.config.model, 1).to(device)
    gc.collect()
    resident = weights_mb(vae.model)
    memory = PeakMemory(device)

    def infer() -> None:
        with torch.no_grad(), autocast(device, vae.config.train.bf16):
            vae.model.decode(vae.model.encode(labels)).argmax(-1)

    seconds = timed(infer, repeats, device)
    peak = _peak_mb(memory, resident)
    memory.stop()
    return asdict(Cost(1, seconds, peak, step_flops(infer)))


def _dit_train(run: str, device: str, threads: int, repeats: int) -> list[dict]:
    from dynamiccity.diffusion.process import Diffusion
    from dynamiccity.dit.rollout import loss_weight

    _seeded(threads)
    dit = load_dit(run, device=device)
    model, cfg = dit.model, dit.config
    diffusion = Diffusion(cfg.diffusion)
    weight = loss_weight(model.rollout, cfg.loss_weight).to(device)
    shape = (cfg.model.latent_channels, model.rollout.height, model.rollout.width)
    inputs = {b: torch.randn(b, *shape, device=device) * model.pixel_mask for b in DIT_BATCHES}

    def loss(model: nn.Module, x0: torch.Tensor) -> torch.Tensor:
        return diffusion.loss(model, x0, weight=weight)

    return _train_costs(model, cfg.train, loss, inputs, repeats, device)


def _dit_infer(dit_run: str, vae_run: str, device: str, threads: int, repeats: int) -> dict:
    from dynamiccity.diffusion.process import make_scheduler

    _seeded(threads)
    dit, vae = load_pair(dit_run, vae_run, torch.device(device))
    make_scheduler(dit.config.diffusion, SCENE.sampler)  # diffusers imports ~150 MB of modules lazily
    gc.collect()
    resident = weights_mb(dit.model, vae.model)
    memory = PeakMemory(device)

    def scene() -> None:
        with autocast(device, dit.config.train.bf16):
            generate_with(dit, vae, 1, SCENE, device)

    seconds = timed(scene, repeats, device)
    peak = _peak_mb(memory, resident)
    memory.stop()
    return asdict(Cost(1, seconds, peak, step_flops(scene)))


# ---- the table --------------------------------------------------------------------------------------------


def _cost_cell(cost: Cost, rate: Rate) -> str:
    return (
        f"{cost.seconds:.4g} s, {cost.peak_mb:.1f} MB, "
        f"{rate.flop_s / 1e9:.3g} GFLOP/s ({100 * rate.share_of_peak:.1f}%)"
    )


def _cells(row: ModelStats, batches: Sequence[int]) -> list[str]:
    steps = {
        cost.batch: _cost_cell(cost, rate) for cost, rate in zip(row.train, row.train_rates, strict=True)
    }
    ratio = "-" if row.compression_ratio is None else f"{row.compression_ratio:.2f}"
    peak = row.infer_rate.peak_flop_s / 1e9
    return [
        row.model, row.device, f"{row.params:,}", f"{row.weights_mb:.2f}", f"{row.checkpoint_mb:.2f}", ratio,
        f"{peak:.3g}", *(steps.get(b, "-") for b in batches), _cost_cell(row.infer, row.infer_rate),
    ]  # fmt: skip


def table(rows: Sequence[ModelStats]) -> str:
    """The rows as a Markdown table: sizes (MiB), compression, the device's matmul peak (GFLOP/s, in the
    dtype the run trains in), and for a training step per batch size and for inference: time, peak memory,
    achieved GFLOP/s and its share of that peak."""
    batches = sorted({cost.batch for row in rows for cost in row.train})
    head = ["model", "device", "params", "fp32 MB", "file MB", "compression", "peak GFLOP/s"]
    head += [f"train step, batch {b}" for b in batches] + ["inference"]
    lines = [head, ["---"] * len(head), *(_cells(row, batches) for row in rows)]
    return "\n".join("| " + " | ".join(cells) + " |" for cells in lines)

"""How close a benchmark comes to the machine: the FLOPs of a timed step, and the machine's dense matmul
rate measured in the same run.

FLOPs are counted by `torch.utils.flop_counter.FlopCounterMode`, which counts only matrix products and
convolutions (one multiply-add is 2 FLOPs) and only for the ops it has a formula for:

- counted: `aten.convolution` and `aten.convolution_backward` (Conv2d/Conv3d, ConvTranspose2d/3d, the
  encoder's `F.conv3d`), `mm`, `addmm`, `bmm`, `baddbmm` (every `nn.Linear`, `PointwiseConv3d`), and the
  CUDA kernels of `scaled_dot_product_attention` (flash, memory-efficient and cuDNN, forward and backward);
- added here: the CPU kernel of `scaled_dot_product_attention`
  (`aten._scaled_dot_product_flash_attention_for_cpu` and its backward), which torch 2.13 has no formula
  for, so it counts the DiT's attention on the CPU as 0 FLOPs. We give it torch's own formula for the CUDA
  kernels (`CPU_ATTENTION`);
- not counted: everything elementwise or reducing (group/layer norms, activations, softmax outside SDPA,
  `F.interpolate`, the cross-entropy and Lovasz losses and their sort, the AdamW update), and gathers. They
  cost memory traffic more than arithmetic, so a step dominated by them reaches a small share of the
  matmul peak however well it runs.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch.utils import flop_counter
from torch.utils.flop_counter import FlopCounterMode

from dynamiccity.bench.common import sync
from dynamiccity.device import bf16_pays

PEAK_SECONDS = 0.5
PLATEAU_SIZE = {"cpu": 1024, "cuda": 8192}
"""Side of the square matmuls that time the peak. On the project's 2-core AVX2 CPU, one thread, fp32 is on
its plateau from 256 to 2048 (47-60 GFLOP/s, as noisy between sizes as between runs on the shared machine).
1024 (2.1 GFLOP a product, 4 MiB a matrix, past the caches) leaves each thread of two a large block, and
fits ~10-20 products into `PEAK_SECONDS`, so one descheduling moves the mean little (2048 fits 2-5). On a
GPU, 8192 is the size usually taken to saturate an H100 in bf16 (not yet measured in this project)."""


def _cpu_attention(query_shape, key_shape, value_shape, *args, out_shape=None, **kwargs) -> int:
    return flop_counter.sdpa_flop_count(query_shape, key_shape, value_shape)


def _cpu_attention_backward(
    grad_out_shape, query_shape, key_shape, value_shape, *args, out_shape=None, **kwargs
) -> int:
    return flop_counter.sdpa_backward_flop_count(grad_out_shape, query_shape, key_shape, value_shape)


aten = torch.ops.aten
CPU_ATTENTION = {
    aten._scaled_dot_product_flash_attention_for_cpu: _cpu_attention,
    aten._scaled_dot_product_flash_attention_for_cpu_backward: _cpu_attention_backward,
}


def step_flops(fn: Callable[[], Any]) -> int:
    """FLOPs of one call of fn (its backward too, when fn runs one), counted as the module docstring says.

    fn runs once, under the counter; its side effects (an optimiser step) happen as in any call.
    """
    with FlopCounterMode(display=False, custom_mapping=CPU_ATTENTION) as counter:
        fn()
    return counter.get_total_flops()


def matmul_peak(device: str, dtype: torch.dtype, size: int | None = None) -> float:
    """The dense matmul rate (FLOP/s) of `device` in `dtype` with this process's threads and settings:
    (size x size) @ (size x size) products, one warm-up, then as many as fill ~`PEAK_SECONDS`.

    size: None takes `PLATEAU_SIZE` of the device type.
    """
    size = size or PLATEAU_SIZE[torch.device(device).type]
    a, b = (torch.randn(size, size, device=device).to(dtype) for _ in range(2))
    a @ b
    sync(device)
    start = time.perf_counter()
    a @ b
    sync(device)
    repeats = max(1, math.ceil(PEAK_SECONDS / (time.perf_counter() - start)))
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    sync(device)
    return 2 * size**3 * repeats / (time.perf_counter() - start)


@dataclass(frozen=True)
class MachinePeak:
    """The dense matmul rates (FLOP/s) of one device measured in a benchmark's own process: fp32 always,
    bf16 where `bf16_pays` (where the benches run under bf16 autocast)."""

    device: str
    threads: int
    size: int
    fp32_flop_s: float
    bf16_flop_s: float | None

    def flop_s(self, bf16: bool) -> float:
        """The rate to compare with: bf16's when the step ran under bf16 autocast, else fp32's."""
        if bf16 and self.bf16_flop_s is None:
            raise ValueError(f"no bf16 peak was measured on {self.device}.")
        return self.bf16_flop_s if bf16 else self.fp32_flop_s


def machine_peak(device: str) -> MachinePeak:
    """`matmul_peak` of `device` in fp32, and in bf16 where `bf16_pays`."""
    size = PLATEAU_SIZE[torch.device(device).type]
    bf16 = matmul_peak(device, torch.bfloat16, size) if bf16_pays(torch.device(device)) else None
    return MachinePeak(device, torch.get_num_threads(), size, matmul_peak(device, torch.float32, size), bf16)


@dataclass(frozen=True)
class Rate:
    """One timed step against the machine: its FLOPs, mean seconds, achieved FLOP/s, the peak FLOP/s of the
    dtype it ran in, and achieved over peak (`share_of_peak`, 1.0 = the matmul peak)."""

    flops: int
    seconds: float
    flop_s: float
    peak_flop_s: float
    share_of_peak: float

    @classmethod
    def of(cls, flops: int, seconds: float, peak_flop_s: float) -> Rate:
        achieved = flops / seconds
        return cls(flops, seconds, achieved, peak_flop_s, achieved / peak_flop_s)


def rate_table(rates: dict[str, Rate]) -> str:
    """The rates as a Markdown table, one row per step name."""
    head = "| step | GFLOP | seconds | GFLOP/s | peak GFLOP/s | share of peak |\n|---|---|---|---|---|---|"
    rows = [
        f"| {name} | {r.flops / 1e9:.4g} | {r.seconds:.4g} | {r.flop_s / 1e9:.4g} | "
        f"{r.peak_flop_s / 1e9:.4g} | {100 * r.share_of_peak:.1f}% |"
        for name, r in rates.items()
    ]
    return "\n".join([head, *rows])

"""Where a computation runs and in which precision: the one place that decides, for the trainer, the
benches and inference alike."""

from __future__ import annotations

import torch


def pick_device(device: str | None = None, local_rank: int = 0) -> torch.device:
    """The device a command runs on: `device` when given ("cpu", "cuda"), else CUDA when available.

    Under torchrun each process takes the GPU of its `local_rank`.
    """
    use_cuda = device == "cuda" or (device is None and torch.cuda.is_available())
    return torch.device(f"cuda:{local_rank}" if use_cuda else (device or "cpu"))


def bf16_pays(device: torch.device) -> bool:
    """bf16 autocast helps on CUDA and on CPUs whose oneDNN has native bf16 (AVX-512 BF16 / AMX).

    Elsewhere (e.g. AVX2-only CPUs) bf16 matmuls and convolutions are emulated and 10-100x slower.
    """
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    return False


def autocast(device: torch.device | str, bf16: bool = True) -> torch.autocast:
    """bf16 autocast on `device` when asked for (`bf16`) and where it pays (`bf16_pays`), else a no-op."""
    device = torch.device(device)
    return torch.autocast(device.type, torch.bfloat16, enabled=bf16 and bf16_pays(device))

"""What every benchmark shares: timing, peak memory, and running a measurement in its own process."""

from __future__ import annotations

import multiprocessing as mp
import queue as queue_module
import resource
import time
from collections.abc import Callable
from typing import Any

import torch


def rss_mb() -> float:
    """This process's peak resident memory so far, in MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def peak_mb(device: str, base: float) -> float:
    """Peak memory of the measurement: CUDA's allocator peak, or the peak RSS above `base`."""
    if device.startswith("cuda"):
        return torch.cuda.max_memory_allocated() / 2**20
    return rss_mb() - base


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def timed(fn: Callable[[], Any], repeats: int, device: str) -> float:
    """Mean seconds of `repeats` calls of fn after one warm-up call."""
    fn()
    sync(device)
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    sync(device)
    return (time.perf_counter() - start) / repeats


def _child(results, fn, args) -> None:
    results.put(fn(*args))


def run_isolated(fn: Callable[..., dict], *args: Any) -> dict:
    """fn(*args) in a fresh spawned process, so that its peak memory is its own. fn must be importable."""
    ctx = mp.get_context("spawn")
    results = ctx.Queue()
    proc = ctx.Process(target=_child, args=(results, fn, args))
    proc.start()
    while True:
        try:
            result = results.get(timeout=1.0)
            break
        except queue_module.Empty:
            if not proc.is_alive():
                raise RuntimeError(
                    f"the benchmark process ({fn.__name__}) failed (exit code {proc.exitcode})."
                ) from None
    proc.join()
    return result

"""What every benchmark shares: timing, peak memory, and running a measurement in its own process."""

from __future__ import annotations

import multiprocessing as mp
import os
import queue as queue_module
import resource
import threading
import time
from collections.abc import Callable
from typing import Any

import torch


def current_rss_mb() -> float:
    """This process's resident memory now, in MB (Linux /proc; elsewhere its peak so far)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


class PeakMemory:
    """Peak memory of what runs after construction: CUDA's allocator peak, or on CPU the highest resident
    set a 2 ms poller sees, above the resident set at construction.

    The process's own high-water mark (ru_maxrss) cannot serve: whatever ran before (building the input,
    an earlier measurement) may have set it higher than the measurement ever gets.
    """

    def __init__(self, device: str) -> None:
        self.device = device
        self.base = self.high = current_rss_mb()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()

    def _poll(self) -> None:
        while not self._stop.wait(0.002):
            self.high = max(self.high, current_rss_mb())

    def mb(self) -> float:
        if self.device.startswith("cuda"):
            return torch.cuda.max_memory_allocated() / 2**20
        self.high = max(self.high, current_rss_mb())
        return self.high - self.base

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


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

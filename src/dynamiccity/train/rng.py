"""Random-number state of a training run: per-rank seeds, and the states a resumable checkpoint keeps."""

from __future__ import annotations

import logging

import numpy as np
import torch

from dynamiccity.train.distributed import DistInfo, gather_objects

log = logging.getLogger(__name__)


def rank_seed(seed: int, rank: int) -> int:
    """The seed of rank `rank`'s random stream in a run seeded `seed` (independent streams per rank)."""
    return int(np.random.SeedSequence([seed, rank]).generate_state(1)[0])


def seed_ranks(seed: int, info: DistInfo) -> None:
    """Give every rank of a distributed run its own stream (diffusion noise, timesteps, posterior samples).

    Called once the model is built, so that every rank starts from the same weights. A single process keeps
    the stream `seed` started.
    """
    if info.enabled:
        torch.manual_seed(rank_seed(seed, info.rank))


def _local_states(info: DistInfo) -> dict[str, torch.Tensor]:
    states = {"torch": torch.get_rng_state()}
    if info.device.type == "cuda":
        states["cuda"] = torch.cuda.get_rng_state(info.device)
    return states


def rng_states(info: DistInfo) -> dict[str, torch.Tensor]:
    """Every rank's generator states {"torch.<rank>", "cuda.<rank>"} (a collective: every rank calls it)."""
    out = {}
    for rank, states in enumerate(gather_objects(_local_states(info), info)):
        out.update({f"{kind}.{rank}": state for kind, state in states.items()})
    return out


def restore_rng(saved: dict[str, torch.Tensor], info: DistInfo, seed: int, step: int) -> None:
    """Put this rank's generators back where the checkpoint left them.

    Checkpoints from before per-rank states hold one "torch" state. A rank the checkpoint has no state for
    (the run resumes on more processes than it was saved from) starts a fresh stream seeded from (seed, rank,
    step), so that resuming stays deterministic, if no longer identical to an uninterrupted run.
    """
    rank = info.rank
    cpu = saved.get(f"torch.{rank}", saved.get("torch"))  # "torch": one state for all ranks (older runs)
    if cpu is None:
        log.warning("rank %d: no saved random state; seeding from (seed, rank, step)", rank)
        torch.manual_seed(int(np.random.SeedSequence([seed, rank, step]).generate_state(1)[0]))
        return
    torch.set_rng_state(cpu)
    if info.device.type == "cuda" and f"cuda.{rank}" in saved:
        torch.cuda.set_rng_state(saved[f"cuda.{rank}"], info.device)

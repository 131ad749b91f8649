"""What a VAE run trains on: its encoder's latents (Eq. 4), or a bank of refined latents (an auto-decoder).

Two swappable objectives with one interface, picked by the run config (`VAERunConfig.bank`):

- `EncodedObjective`: the paper's Eq. (4) on the encoder's posterior sample, what every VAE run trains on.
- `BankObjective`: the decoder alone learns (the encoder frozen: `finetune.learn: decoder`), from two
  latents per window: its latent in a `vae.bank.LatentBank`, refined by a few Adam steps at each visit and
  kept between visits, and a sample of the encoder's posterior, so that every latent the encoder gives (and a
  DiT trained on them learns) still decodes. Both terms are Eq. (4) without KL (the encoder is frozen: KL
  is a constant). Under DDP every rank keeps the whole bank: after each step the ranks exchange the windows
  they refined, so rank 0's checkpoint holds every rank's progress.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from dynamiccity.data.windows import Window, WindowDataset
from dynamiccity.hexplane import HexPlane
from dynamiccity.train.loop import Stateless
from dynamiccity.vae.bank import LatentBank
from dynamiccity.vae.losses import vae_loss
from dynamiccity.vae.model import HexPlaneVAE
from dynamiccity.vae.scale import scale_equivariance_loss

COARSE_FACTOR = 2
"""How many cells of X and of Y the scale-equivariance term averages into one."""


@dataclass(frozen=True)
class LossWeights:
    """The loss settings an objective needs: CE class weights (K,) float, Lovasz and KL weights, bins, and
    the weight of the scale-equivariance term (`vae.scale`; 0: none)."""

    classes: torch.Tensor
    lovasz: float
    kl: float
    lovasz_bins: int | None
    scale_equivariance: float = 0.0


class Objective(Protocol):
    def start(self, model: HexPlaneVAE) -> None:
        """Called once the model holds its starting weights, before any step (and before a resume)."""
        ...

    def loss(self, model: nn.Module, batch) -> tuple[torch.Tensor, dict[str, float]]:
        """The training loss of `batch` (collated `Window`s) and scalars to log; `model` may be DDP-wrapped."""
        ...

    def state_tensors(self) -> dict[str, torch.Tensor]:
        """What a resumable checkpoint must keep beside the model and optimizer (empty: nothing)."""
        ...

    def load_state_tensors(self, tensors: dict[str, torch.Tensor]) -> None: ...


class EncodedObjective(Stateless):
    """Eq. (4) on the encoder's posterior sample: CE + lovasz * Lovasz-softmax + kl * KL; with a
    scale-equivariance weight, plus that weight times the coarse latent's cross-entropy against the coarse
    scene (`vae.scale`)."""

    def __init__(self, weights: LossWeights, device: torch.device) -> None:
        self.weights, self.device = weights, device

    def start(self, model: HexPlaneVAE) -> None:
        pass

    def loss(self, model: nn.Module, batch) -> tuple[torch.Tensor, dict[str, float]]:
        labels, valid = batch.labels.to(self.device), batch.valid.to(self.device)
        w = self.weights
        out = model(labels, coarse=COARSE_FACTOR if w.scale_equivariance else 1)
        terms = vae_loss(
            out.logits, labels, out.posterior.kl(), w.classes, valid, w.lovasz, w.kl, w.lovasz_bins
        )
        logged = {"ce": float(terms.ce), "lovasz": float(terms.lovasz), "kl": float(terms.kl)}
        if not w.scale_equivariance:
            return terms.total, logged
        coarse = scale_equivariance_loss(out.coarse_logits, labels, valid, w.classes, COARSE_FACTOR)
        return terms.total + w.scale_equivariance * coarse, logged | {"coarse_ce": float(coarse.detach())}


class WindowSubset:
    """Windows `indices` of `data`, in that order (a dataset the trainer draws batches from)."""

    def __init__(self, data: WindowDataset, indices: list[int]) -> None:
        self.data, self.indices, self.frames = data, indices, data.frames

    def __len__(self) -> int:
        return len(self.indices)

    def key(self, i: int) -> tuple[int, int]:
        """(scene, start) of window `i`, as its `Window` gives them, without reading it."""
        return self.data.index[self.indices[i]]

    def __getitem__(self, i: int) -> Window:
        return self.data[self.indices[i]]


def bank_windows(data: WindowDataset, size: int, containing: int | None, seed: int) -> list[int]:
    """`size` window indices of `data`, drawn with `seed`: when `containing` is a class id, half of them
    (or as many as there are) among the windows where that class occurs, the rest among the others."""
    rng = np.random.default_rng(seed)
    if containing is None:
        return sorted(rng.permutation(len(data))[:size].tolist())
    has = np.array([bool((data[i].labels == containing).any()) for i in range(len(data))])
    holding, others = rng.permutation(np.flatnonzero(has)), rng.permutation(np.flatnonzero(~has))
    first = holding[: max(size // 2, size - len(others))]
    return sorted([*first.tolist(), *others[: size - len(first)].tolist()])


class BankObjective:
    """The decoder trained on refined latents kept in a bank (module docstring); `windows` are the bank's
    windows in slot order, `inner_steps` and `inner_lr` the Adam steps on a window's latent at each visit."""

    def __init__(
        self,
        weights: LossWeights,
        windows: WindowSubset,
        inner_steps: int,
        inner_lr: float,
        device: torch.device,
    ) -> None:
        self.weights, self.windows, self.device = weights, windows, device
        self.inner_steps, self.inner_lr = inner_steps, inner_lr
        self.slots = {windows.key(i): i for i in range(len(windows))}
        self.bank: LatentBank | None = None

    @torch.no_grad()
    def start(self, model: HexPlaneVAE) -> None:
        """Every bank latent starts as the encoder's posterior mean of its window."""
        latents = [
            model.encode(torch.from_numpy(self.windows[i].labels)[None].to(self.device))
            for i in range(len(self.windows))
        ]
        self.bank = LatentBank.starting_at(HexPlane.cat(latents))

    def _loss(self, logits: torch.Tensor, labels: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        w = self.weights
        return vae_loss(
            logits, labels, logits.new_zeros(()), w.classes, valid, w.lovasz, 0.0, w.lovasz_bins
        ).total

    def loss(self, model: nn.Module, batch) -> tuple[torch.Tensor, dict[str, float]]:
        vae = model.module if isinstance(model, nn.parallel.DistributedDataParallel) else model
        labels, valid = batch.labels.to(self.device), batch.valid.to(self.device)
        slots = [self.slots[(int(s), int(t))] for s, t in zip(batch.scene, batch.start, strict=True)]
        for b, slot in enumerate(slots):
            window = labels[b : b + 1], valid[b : b + 1]
            self.bank.visit(
                slot, lambda z, w=window: self._loss(vae.decode(z), *w), self.inner_steps, self.inner_lr
            )
        self._share(slots)
        encoded = self._loss(model(labels).logits, labels, valid)  # through the DDP wrapper: gradients reduce
        refined = self._loss(vae.decode(self.bank.latent(slots)), labels, valid)
        return refined + encoded, {"refined": float(refined.detach()), "encoded": float(encoded.detach())}

    def _share(self, slots: list[int]) -> None:
        """Give every rank the windows every other rank refined this step."""
        if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
            return
        world = dist.get_world_size()
        ids = torch.tensor(slots, device=self.device)
        every_ids = [torch.empty_like(ids) for _ in range(world)]
        dist.all_gather(every_ids, ids)
        rows = {}
        for name, tensor in self.bank.rows(slots).items():
            parts = [torch.empty_like(tensor) for _ in range(world)]
            dist.all_gather(parts, tensor.contiguous())
            rows[name] = torch.cat(parts)
        self.bank.set_rows(torch.cat(every_ids).tolist(), rows)

    def state_tensors(self) -> dict[str, torch.Tensor]:
        return dict(self.bank.state)

    def load_state_tensors(self, tensors: dict[str, torch.Tensor]) -> None:
        bank = LatentBank({k: v.to(self.device) for k, v in tensors.items()})
        if len(bank) != len(self.windows):
            raise ValueError(
                f"the checkpoint's latent bank holds {len(bank)} windows, this run's {len(self.windows)}."
            )
        self.bank = bank

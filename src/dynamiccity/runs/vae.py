"""A VAE run: its resolved configuration and its training task for the shared Trainer."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from torch import nn

from dynamiccity.config import StrictConfig, YamlRunFile
from dynamiccity.data.egoframe import is_world
from dynamiccity.data.windows import WindowDataset
from dynamiccity.runs.checkpoints import pretrained_vae
from dynamiccity.runs.datasets import DataSpec, check_grid, open_windows
from dynamiccity.runs.vae_objectives import (
    BankObjective,
    EncodedObjective,
    LossWeights,
    Objective,
    WindowSubset,
    bank_windows,
)
from dynamiccity.runs.validation import spread_indices, validation_scores
from dynamiccity.train.config import TrainConfig
from dynamiccity.vae.config import VAEConfig
from dynamiccity.vae.losses import class_weights
from dynamiccity.vae.model import DECODER_PARTS, ENCODER_PARTS, HexPlaneVAE
from dynamiccity.vae.refine import Refinement

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LossSpec:
    """Eq. (4): class-weighted CE + lovasz_weight * Lovasz-softmax + kl_weight * KL. The CE weight of class
    c is (max_share / share_c) ** class_weight_power, shares counted over `weight_frames` training frames.
    lovasz_bins: None sorts the Lovasz term's errors exactly (as the paper), an integer orders them by that
    many error bins instead (`vae.losses.binned_lovasz_grad`; the same loss to about 1e-6, without a sort).
    scale_equivariance: the weight of a term that asks the latent averaged over 2 x 2 cells in X and Y to
    decode to the scene's class shares over the same blocks (`vae.scale`; ours, for latents a DiT learns
    coarse to fine); 0, the paper's loss."""

    lovasz_weight: float = 1.0
    kl_weight: float = 0.005
    weight_frames: int = 200
    class_weight_power: float = 1.0 / 3.0
    lovasz_bins: int | None = None
    scale_equivariance: float = 0.0

    def __post_init__(self) -> None:
        if self.lovasz_bins is not None and self.lovasz_bins < 1:
            raise ValueError(f"loss.lovasz_bins must be None or >= 1, got {self.lovasz_bins}.")
        if self.scale_equivariance < 0:
            raise ValueError(f"loss.scale_equivariance must be >= 0, got {self.scale_equivariance}.")


@dataclass(frozen=True)
class FineTune(StrictConfig):
    """A run that starts from a trained VAE's weights. weights: its run folder or shipped name (the run's
    model config is that VAE's). learn: "all" its parameters; "encoder" alone (embedding, encoders,
    plane encoder, latent head), the decoder frozen: the encoder keeps learning to give the latents this
    decoder decodes best (the amortisation gap of docs/vae.md), and whatever a DiT learned from the VAE
    still decodes as before; or "decoder" alone (`DECODER_PARTS`), the encoder frozen: every latent
    encodes as before, so a DiT trained on the VAE's latents stays its pair, and the decoder learns what it
    draws badly (a class it never draws, say) from the same latents. encoder: where the encoder starts,
    from the "weights" or "fresh" (initialised anew; then the encoder's own model keys,
    `vae.config.ENCODER_KEYS`, may differ from the weights' VAE, to try another encoder against a trained
    decoder)."""

    label = "finetune config"

    weights: str
    learn: Literal["all", "encoder", "decoder"] = "encoder"
    encoder: Literal["weights", "fresh"] = "weights"

    def __post_init__(self) -> None:
        if self.learn not in ("all", "encoder", "decoder"):
            raise ValueError(f"finetune.learn must be 'all', 'encoder' or 'decoder', got {self.learn!r}.")
        if self.learn == "decoder" and self.encoder == "fresh":
            raise ValueError(
                "finetune.learn=decoder keeps the encoder it starts from: encoder must be 'weights'."
            )
        if self.encoder not in ("weights", "fresh"):
            raise ValueError(f"finetune.encoder must be 'weights' or 'fresh', got {self.encoder!r}.")


@dataclass(frozen=True)
class BankSpec(StrictConfig):
    """The decoder trained on a bank of refined latents (`runs.vae_objectives.BankObjective`), the
    encoder frozen (`finetune.learn: decoder`). windows: how many training windows the bank holds (drawn with
    `train.seed`); containing: a class name, or None: half of the bank's windows are drawn among those where
    it occurs (a class the decoder draws badly); inner_steps, inner_lr: the Adam steps on a window's latent
    at each visit, and their step size in latent units."""

    label = "bank config"

    windows: int = 32
    containing: str | None = None
    inner_steps: int = 3
    inner_lr: float = 0.2

    def __post_init__(self) -> None:
        if self.windows < 1 or self.inner_steps < 1 or not self.inner_lr > 0:
            raise ValueError("bank.windows and bank.inner_steps must be >= 1 and bank.inner_lr > 0.")


@dataclass(frozen=True)
class Refining(StrictConfig):
    """A number of refinement steps on each window (`vae.refine`): refine: 0, the encoder's latent as it is;
    N > 0, that latent refined by N Adam steps of step size `refine_lr`, each decoding `refine_frames` of the
    window's frames (None: all; `Refinement.frames_per_step`)."""

    label = "refining config"

    refine: int = 0
    refine_lr: float = 0.2
    refine_frames: int | None = None

    def __post_init__(self) -> None:
        section = self.label.removesuffix(" config")
        if self.refine < 0 or not self.refine_lr > 0:
            raise ValueError(f"{section}.refine must be >= 0 and {section}.refine_lr > 0.")
        if self.refine_frames is not None and self.refine_frames < 1:
            raise ValueError(f"{section}.refine_frames must be None or >= 1.")

    def refinement(self) -> Refinement | None:
        """The `Refinement` these settings ask for, None for the encoder's latent as it is."""
        if not self.refine:
            return None
        return Refinement(steps=self.refine, lr=self.refine_lr, frames_per_step=self.refine_frames)


@dataclass(frozen=True)
class Validation(Refining):
    """How a run scores its held-out windows (`data.val_windows` of them): refined as `Refining` says, which
    is what `eval-vae --refine N` scores; with N > 0 it logs the encoder's latents alone as encoder_miou and
    encoder_iou."""

    label = "validation config"


@dataclass(frozen=True)
class Encoding(Refining):
    """How the VAE encodes a window when asked for no other way, refined as `Refining` says: what `encode`
    gives a DiT and what `eval-vae` and `reconstruct` score without --refine. A few-step refinement belongs
    here for a decoder trained to draw refined latents (a `bank:` run)."""

    label = "encoding config"


def encoding_of(cfg: VAERunConfig, asked: Refinement | None) -> Refinement | None:
    """The refinement an encoding uses: `asked` when given (steps 0: one pass), else the VAE's own
    (`VAERunConfig.encoding`). None: one pass."""
    chosen = cfg.encoding.refinement() if asked is None else asked
    return chosen if chosen is not None and chosen.steps else None


@dataclass(frozen=True)
class VAERunConfig(YamlRunFile):
    """Everything that defines a VAE run; saved as RUN_DIR/config.yaml and inside every checkpoint."""

    preset: str
    model: VAEConfig
    train: TrainConfig
    data: DataSpec
    loss: LossSpec = LossSpec()
    finetune: FineTune | None = None
    bank: BankSpec | None = None
    validation: Validation = Validation()
    encoding: Encoding = Encoding()

    def __post_init__(self) -> None:
        if self.bank is not None and (self.finetune is None or self.finetune.learn != "decoder"):
            raise ValueError(
                "a bank of refined latents trains a decoder alone: it needs finetune.learn = decoder."
            )
        if self.loss.scale_equivariance and (self.bank is not None or self.model.decoder != "ess"):
            raise ValueError(
                "loss.scale_equivariance trains on the encoder's latents (no bank) with a decoder that draws "
                "the grid of the planes it is given: model.decoder must be 'ess'."
            )
        if self.data.world_margin and not is_world(self.data.coordinates):
            raise ValueError(
                f"data.world_margin widens the grid of windows seen in world coordinates, not of "
                f"{self.data.coordinates} ones: set data.coordinates to world or centred, or the margin to 0."
            )


def frequency_counts(data: WindowDataset, max_frames: int) -> np.ndarray:
    """Per-class voxel counts over up to `max_frames` frames spread evenly over the training scenes."""
    counts = np.zeros(256, dtype=np.int64)
    picks = np.linspace(0, len(data) - 1, num=min(len(data), max(1, max_frames // data.frames))).astype(int)
    for i in np.unique(picks):
        window = data[int(i)]
        counts += np.bincount(window.labels[window.valid].reshape(-1), minlength=256)
    return counts


class VAETask:
    """The VAE's training task for the shared Trainer: its data, model and objective
    (`runs.vae_objectives`: the encoder's latents, or a bank of refined latents)."""

    def __init__(self, cfg: VAERunConfig, device: torch.device) -> None:
        self.cfg, self.device = cfg, device
        every = open_windows(cfg.data, cfg.model.frames, "train")
        if len(every) == 0:
            raise ValueError(f"{cfg.data.path}: no training windows of {cfg.model.frames} frames.")
        check_grid(every, cfg.model)
        self.train_data = every if cfg.bank is None else self._bank_subset(every, cfg.bank)
        val = open_windows(cfg.data, cfg.model.frames, "val")
        self.val_split = "val" if len(val) else "train"
        self.val_data = val if len(val) else every
        if not len(val):
            log.warning("%s: no held-out windows; validation scores training windows", cfg.data.path)
        counts = frequency_counts(self.train_data, cfg.loss.weight_frames)[: cfg.model.num_classes]
        loss = cfg.loss
        weights = class_weights(counts, loss.class_weight_power).to(device)
        log.info("class weights %s", np.round(weights.cpu().numpy(), 3).tolist())
        spec = LossWeights(
            weights, loss.lovasz_weight, loss.kl_weight, loss.lovasz_bins, loss.scale_equivariance
        )
        self.objective: Objective = (
            EncodedObjective(spec, device)
            if cfg.bank is None
            else BankObjective(spec, self.train_data, cfg.bank.inner_steps, cfg.bank.inner_lr, device)
        )

    def _bank_subset(self, data: WindowDataset, bank: BankSpec) -> WindowSubset:
        containing = None
        if bank.containing is not None:
            names = data.reader.classes.names
            if bank.containing not in names:
                raise ValueError(f"bank.containing: no class {bank.containing!r} in {', '.join(names)}.")
            containing = names.index(bank.containing)
        picks = bank_windows(data, bank.windows, containing, self.cfg.train.seed)
        log.info("latent bank: %d of %d training windows", len(picks), len(data))
        return WindowSubset(data, picks)

    def build_model(self) -> nn.Module:
        model = HexPlaneVAE(self.cfg.model)
        if self.cfg.finetune is not None:
            start_from(model, self.cfg.finetune)
        self.objective.start(model.to(self.device))
        return model

    def train_dataset(self) -> WindowDataset | WindowSubset:
        return self.train_data

    def files(self) -> dict[str, str]:
        """bank.json: the bank's windows (scene name and first frame), in slot order."""
        if self.cfg.bank is None:
            return {}
        data = self.train_data
        keys = [data.key(i) for i in range(len(data))]
        windows = [{"scene": data.data.scenes[scene].name, "start": start} for scene, start in keys]
        return {"bank.json": json.dumps(windows, indent=1) + "\n"}

    def loss(self, model: nn.Module, batch) -> tuple[torch.Tensor, dict[str, float]]:
        return self.objective.loss(model, batch)

    def state_tensors(self) -> dict[str, torch.Tensor]:
        return self.objective.state_tensors()

    def load_state_tensors(self, tensors: dict[str, torch.Tensor]) -> None:
        self.objective.load_state_tensors(tensors)

    @torch.no_grad()
    def evaluate(self, model: nn.Module) -> dict[str, float]:
        indices = spread_indices(self.val_data, self.cfg.data.val_windows)
        check = self.cfg.validation
        refine = check.refinement()
        return validation_scores(model, self.val_data, indices, self.device, refine)


def start_from(model: HexPlaneVAE, finetune: FineTune) -> None:
    """Load `finetune.weights` into `model` (built from the same model config) and freeze what it does not
    learn."""
    source = pretrained_vae(finetune.weights)
    fresh = finetune.encoder == "fresh"
    theirs, ours = source.config, model.cfg
    if (theirs.decoder_side() != ours.decoder_side()) if fresh else (theirs != ours):
        raise ValueError(
            f"{finetune.weights}: its model config differs from this run's; a fine-tune keeps it."
        )
    if fresh:  # the decoder's weights alone; the encoder keeps its initialisation
        for part in DECODER_PARTS:
            getattr(model, part).load_state_dict(getattr(source.model, part).state_dict())
    else:
        model.load_state_dict(source.model.state_dict())
    frozen = {"all": (), "encoder": DECODER_PARTS, "decoder": ENCODER_PARTS}[finetune.learn]
    for part in frozen:
        getattr(model, part).requires_grad_(False)
    log.info(
        "started from %s (step %d); encoder: %s; learning: %s",
        source.checkpoint, source.step, finetune.encoder, finetune.learn,
    )  # fmt: skip

"""DiT configuration: one frozen dataclass, named presets, strict loading."""

from __future__ import annotations

from dataclasses import dataclass

from dynamiccity.config import StrictConfig
from dynamiccity.dit.conditions import check_conditions
from dynamiccity.dit.rollout import ROLLOUTS


@dataclass(frozen=True)
class DiTConfig(StrictConfig):
    """The HexPlane DiT (paper Sec. 4.2; DESIGN.md, DiT).

    latent_sizes: the HexPlane's (T', X', Y', Z'); latent_channels its width C. rollout: "padded" (PRO),
    "vertical" or "unfold" (Table 5 ablations). The map is cut into patch x patch tokens of width `hidden`.
    conditions: what the network can be conditioned on (`dit.conditions.CONDITIONS`; empty: unconditional);
    frames and layout_grid: a window's T and its BEV layout's (X/d, Y/d), the shapes of the trajectory and
    layout conditions (unused without them; training takes them from the latents, as the latent sizes).
    placed: conditions also added, token by token, to the latent tokens they lie on (`dit.conditions`, the
    placed branch; a subset of `conditions`; empty: the paper's two branches only).
    context_pool: the cross-attention attends to the condition tokens averaged over context_pool x
    context_pool blocks of the patch grid (`dit.pooling`; 1: every token, the paper's).
    """

    label = "DiT config"

    latent_channels: int = 16
    latent_sizes: tuple[int, int, int, int] = (8, 64, 64, 4)
    rollout: str = "padded"
    patch: int = 2
    hidden: int = 384
    depth: int = 16
    heads: int = 8
    mlp_ratio: float = 4.0
    freq_dim: int = 256
    conditions: tuple[str, ...] = ()
    frames: int = 16
    layout_grid: tuple[int, int] = (64, 64)
    placed: tuple[str, ...] = ()
    context_pool: int = 1
    output_conv: bool = False

    def __post_init__(self) -> None:
        check_conditions(self.conditions, self.placed)
        if self.rollout not in ROLLOUTS:
            raise ValueError(f"rollout must be one of {tuple(ROLLOUTS)}, got {self.rollout!r}.")
        if self.hidden % self.heads:
            raise ValueError(f"hidden {self.hidden} must be divisible by heads {self.heads}.")
        if self.context_pool < 1:
            raise ValueError(f"context_pool must be >= 1, got {self.context_pool}.")
        if self.hidden % 4:
            raise ValueError(f"hidden {self.hidden} must be divisible by 4 (2D sin-cos position embedding).")


DIT_PRESETS: dict[str, DiTConfig] = {
    "carlasc": DiTConfig(latent_sizes=(8, 64, 64, 4), hidden=384, depth=16, heads=8),
    "occ3d-waymo": DiTConfig(latent_sizes=(8, 100, 100, 8), hidden=768, depth=18, heads=12),
    "occ3d-nuscenes": DiTConfig(latent_sizes=(8, 100, 100, 8), hidden=768, depth=18, heads=12),
    "synthtown-tiny": DiTConfig(latent_sizes=(4, 32, 32, 4), hidden=128, depth=6, heads=4),
    "synthtown-micro": DiTConfig(
        latent_channels=8, latent_sizes=(2, 16, 16, 2), hidden=64, depth=2, heads=2, freq_dim=64
    ),
}


def dit_preset(name: str) -> DiTConfig:
    if name not in DIT_PRESETS:
        raise ValueError(f"unknown DiT preset {name!r}; choose one of {', '.join(DIT_PRESETS)}.")
    return DIT_PRESETS[name]

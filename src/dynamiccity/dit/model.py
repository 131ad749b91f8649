"""The HexPlane DiT (paper Sec. 4.2): a rolled-out HexPlane map -> real tokens -> adaLN-Zero DiT -> map."""

from __future__ import annotations

import torch
from einops import rearrange
from torch import nn

from dynamiccity.dit.blocks import DiTBlock, FinalLayer, TimestepEmbedder, sincos_2d
from dynamiccity.dit.conditions import ConditionEmbedder, Conditions
from dynamiccity.dit.config import DiTConfig
from dynamiccity.dit.rollout import build_rollout
from dynamiccity.hexplane import HexPlane


class HexPlaneDiT(nn.Module):
    """Denoiser over rolled-out HexPlane maps (B, C, H, W).

    Patches become tokens by one linear layer; padding tokens are dropped right after it, so they never
    enter attention, and come back as zeros when the map is rebuilt. A network built with conditions
    (`cfg.conditions`) embeds them in `ConditionEmbedder`: one vector joins the timestep embedding in every
    adaLN-Zero modulation, image-like (and placed) conditions add a cross-attention to their tokens in every
    block, and placed conditions (`cfg.placed`) are also added to the tokens they lie on.
    Without conditions the network is the plain DiT, and its checkpoints are those of earlier versions.
    """

    def __init__(self, cfg: DiTConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.rollout = build_rollout(cfg.rollout, cfg.latent_sizes, cfg.patch)
        p, c = cfg.patch, cfg.latent_channels
        rows, cols = self.rollout.token_grid
        mask = self.rollout.token_mask()
        self.register_buffer("real", mask.nonzero().squeeze(1), persistent=False)
        self.register_buffer("pixel_mask", self.rollout.pixel_mask().float(), persistent=False)
        self.register_buffer("pos", sincos_2d(cfg.hidden, rows, cols)[mask], persistent=False)
        self.embed = nn.Linear(c * p * p, cfg.hidden)
        self.time = TimestepEmbedder(cfg.hidden, cfg.freq_dim)
        self.conditions = (
            ConditionEmbedder(
                cfg.conditions,
                self.rollout,
                self.pos,
                self.real,
                cfg.hidden,
                cfg.frames,
                cfg.layout_grid,
                c,
                cfg.placed,
            )
            if cfg.conditions
            else None
        )
        cross = self.conditions is not None and bool(self.conditions.token_names)
        self.blocks = nn.ModuleList(
            DiTBlock(cfg.hidden, cfg.heads, cfg.mlp_ratio, cross) for _ in range(cfg.depth)
        )
        self.final = FinalLayer(cfg.hidden, c * p * p)

    @property
    def num_tokens(self) -> int:
        rows, cols = self.rollout.token_grid
        return rows * cols

    @property
    def num_real_tokens(self) -> int:
        return int(self.real.numel())

    def tokens(self, grid: torch.Tensor) -> torch.Tensor:
        """map (B, C, H, W) -> the real patches (B, N_real, C*p*p)."""
        p = self.cfg.patch
        patches = rearrange(grid * self.pixel_mask, "b c (i p) (j q) -> b (i j) (p q c)", p=p, q=p)
        return patches[:, self.real]

    def untokens(self, patches: torch.Tensor) -> torch.Tensor:
        """(B, N_real, C*p*p) -> map (B, C, H, W), zero on padding patches."""
        b, p = patches.shape[0], self.cfg.patch
        rows, cols = self.rollout.token_grid
        full = patches.new_zeros(b, rows * cols, patches.shape[2])
        full[:, self.real] = patches
        grid = rearrange(full, "b (i j) (p q c) -> b c (i p) (j q)", i=rows, p=p, q=p)
        return grid * self.pixel_mask

    def forward(self, grid: torch.Tensor, t: torch.Tensor, cond: Conditions | None = None) -> torch.Tensor:
        """grid: (B, C, H, W) noisy map; t: (B,) timesteps; cond: the conditions (None or a condition left
        out: its null condition) -> (B, C, H, W)."""
        x = self.embed(self.tokens(grid)) + self.pos
        c, context = self.time(t), None
        if self.conditions is not None:
            embedded = self.conditions(cond, grid.shape[0])
            c, context = c + embedded.vector, embedded.context
            if embedded.added is not None:
                x = x + embedded.added
        elif cond is not None and cond.given():
            raise ValueError(f"this DiT was trained without conditions; got {', '.join(cond.given())}.")
        for block in self.blocks:
            x = block(x, c, context)
        return self.untokens(self.final(x, c))

    def unroll(self, grid: torch.Tensor) -> HexPlane:
        """map (B, C, H, W) -> the HexPlane it holds (`Rollout.unroll`)."""
        return self.rollout.unroll(grid)

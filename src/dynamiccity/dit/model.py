"""The HexPlane DiT (paper Sec. 4.2): a rolled-out HexPlane map -> real tokens -> adaLN-Zero DiT -> map."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from einops import rearrange
from torch import nn

from dynamiccity.dit.blocks import DiTBlock, FinalLayer, PlaneConvs, TimestepEmbedder, sincos_2d
from dynamiccity.dit.conditions import ConditionEmbedder, Conditions
from dynamiccity.dit.config import DiTConfig
from dynamiccity.dit.rollout import build_rollout
from dynamiccity.hexplane import PLANES, HexPlane


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
                cfg.context_pool,
            )
            if cfg.conditions
            else None
        )
        cross = self.conditions is not None and bool(self.conditions.token_names)
        self.blocks = nn.ModuleList(
            DiTBlock(cfg.hidden, cfg.heads, cfg.mlp_ratio, cross) for _ in range(cfg.depth)
        )
        self.final = FinalLayer(cfg.hidden, c * p * p)
        self.output_conv = PlaneConvs(c, PLANES) if cfg.output_conv else None

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

    def prepare(self, cond: Conditions | None, batch: int) -> Prepared:
        """What the conditions of a batch of `batch` samples give every step: their embedding and each
        block's cross-attention keys and values. They do not depend on the noisy map or the timestep, so a
        sampler prepares them once per scene and passes the result as `cond` at every step."""
        if self.conditions is None:
            if cond is not None and cond.given():
                raise ValueError(f"this DiT was trained without conditions; got {', '.join(cond.given())}.")
            return Prepared(batch)
        embedded = self.conditions(cond, batch)
        keys_values = (
            None
            if embedded.context is None
            else tuple(block.cross.keys_values(embedded.context) for block in self.blocks)
        )
        return Prepared(batch, embedded.vector, embedded.added, keys_values)

    def forward(
        self, grid: torch.Tensor, t: torch.Tensor, cond: Conditions | Prepared | None = None
    ) -> torch.Tensor:
        """grid: (B, C, H, W) noisy map; t: (B,) timesteps; cond: the conditions (None or a condition left
        out: its null condition), or those conditions already `prepare`d -> (B, C, H, W)."""
        b = grid.shape[0]
        ready = cond if isinstance(cond, Prepared) else self.prepare(cond, b)
        if ready.batch != b:
            raise ValueError(f"conditions prepared for {ready.batch} samples given for a batch of {b}.")
        x = self.embed(self.tokens(grid)) + self.pos
        c = self.time(t)
        if ready.vector is not None:
            c = c + ready.vector
        if ready.added is not None:
            x = x + ready.added
        for i, block in enumerate(self.blocks):
            x = block(x, c, None if ready.keys_values is None else ready.keys_values[i])
        out = self.untokens(self.final(x, c))
        if self.output_conv is None:
            return out
        return self.rollout.roll(HexPlane.from_planes(self.output_conv(self.unroll(out).as_dict())))

    def unroll(self, grid: torch.Tensor) -> HexPlane:
        """map (B, C, H, W) -> the HexPlane it holds (`Rollout.unroll`)."""
        return self.rollout.unroll(grid)


@dataclass(frozen=True)
class Prepared:
    """A batch's conditions as every denoising step uses them (`HexPlaneDiT.prepare`): `vector` (B, hidden)
    joins the timestep embedding, `added` (B, N_real, hidden) the tokens, `keys_values` holds each block's
    cross-attention keys and values; None where the model has no such branch."""

    batch: int
    vector: torch.Tensor | None = None
    added: torch.Tensor | None = None
    keys_values: tuple[torch.Tensor, ...] | None = None

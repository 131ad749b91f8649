"""The Projection Module (paper Sec. 4.1, Eq. 1) and its average-pooling ablation.

Both turn per-frame feature volumes into six full-time-resolution planes of width C:
    spatial, temporal: (B, T, C, X', Y', Z')  ->  dict of xy (B,C,X',Y'), xz, yz, tx (B,C,T,X'), ty, tz.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from dynamiccity.hexplane import plane_shapes
from dynamiccity.vae.config import VAEConfig

MAX_SEQUENCES = 16384
"""Sequences per attention call: CUDA kernels put the batch in a grid axis of at most 65535 blocks, and the
Occ3D presets reduce ~80,000 sequences (x heads) at once: cuDNN fails outright there."""


def chunked_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Fused attention over (N, H, L, D) in slices of at most MAX_SEQUENCES sequences.

    No dropout on the weights: that would force the unfused path (9x slower on CPU).
    """
    if q.shape[0] <= MAX_SEQUENCES:
        return F.scaled_dot_product_attention(q, k, v)
    parts = zip(q.split(MAX_SEQUENCES), k.split(MAX_SEQUENCES), v.split(MAX_SEQUENCES), strict=True)
    return torch.cat([F.scaled_dot_product_attention(*part) for part in parts])


class ProjectionBlock(nn.Module):
    """Pre-LN transformer layer; with `first_only` it computes the first token's output alone.

    Dropout acts on the attention output and the MLP, not on the attention weights: weight dropout makes
    PyTorch fall back from the fused attention kernel to one that materialises the maps (9x slower on CPU).
    """

    def __init__(self, dim: int, heads: int, mlp: int, dropout: float) -> None:
        super().__init__()
        self.heads = heads
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.q, self.kv, self.proj = nn.Linear(dim, dim), nn.Linear(dim, 2 * dim), nn.Linear(dim, dim)
        self.mlp = nn.Sequential(nn.Linear(dim, mlp), nn.GELU(), nn.Linear(mlp, dim))
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, first_only: bool = False) -> torch.Tensor:
        """x: (N, L, C) -> (N, L, C), or (N, 1, C) with `first_only`."""
        h = self.norm1(x)
        if first_only:
            x, query = x[:, :1], h[:, :1]
        else:
            query = h
        q = rearrange(self.q(query), "n l (h d) -> n h l d", h=self.heads)
        k, v = rearrange(self.kv(h), "n l (two h d) -> two n h l d", two=2, h=self.heads)
        attn = chunked_attention(q, k, v)
        x = x + self.drop(self.proj(rearrange(attn, "n h l d -> n l (h d)")))
        return x + self.drop(self.mlp(self.norm2(x)))


class TokenReadout(nn.Module):
    """The learned token after the last layer, layer-normalised."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(dim)

    def forward(self, token: torch.Tensor, inputs: torch.Tensor) -> torch.Tensor:
        return self.norm(token)


class PooledReadout(TokenReadout):
    """The mean of the input tokens plus a zero-initialised projection of the read token: average pooling
    at the start, attention learned on top."""

    def __init__(self, dim: int) -> None:
        super().__init__(dim)
        self.read = nn.Linear(dim, dim)
        nn.init.zeros_(self.read.weight)
        nn.init.zeros_(self.read.bias)

    def forward(self, token: torch.Tensor, inputs: torch.Tensor) -> torch.Tensor:
        return inputs.mean(dim=1) + self.read(super().forward(token, inputs))


READOUTS = {"token": TokenReadout, "pooled": PooledReadout}


class ProjectionNet(nn.Module):
    """h_S of Eq. (1): reduce a length-L token axis to one feature, read from a learned token.

    A learned token is prepended, a learned positional encoding added to all L + 1 tokens, and the output
    is read from the learned token after the last layer (the release reads the first data token instead):
    layer-normalised ("token" readout), or projected by a zero-initialised linear map and added to the mean
    of the input tokens ("pooled" readout: average pooling at the start, attention learned on top).
    """

    def __init__(self, dim: int, length: int, cfg: VAEConfig) -> None:
        super().__init__()
        self.token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos = nn.Parameter(torch.zeros(1, length + 1, dim))
        nn.init.trunc_normal_(self.token, std=0.02)
        nn.init.trunc_normal_(self.pos, std=0.02)
        self.blocks = nn.ModuleList(
            ProjectionBlock(dim, cfg.proj_heads, cfg.proj_mlp, cfg.proj_dropout)
            for _ in range(cfg.proj_layers)
        )
        self.readout = READOUTS[cfg.proj_readout](dim)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs) -> None:
        # checkpoints written before the readouts were components hold their layers as `norm` and `read`
        for old in [k for k in state_dict if k.startswith((f"{prefix}norm.", f"{prefix}read."))]:
            state_dict[f"{prefix}readout.{old.removeprefix(prefix)}"] = state_dict.pop(old)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (N, L, C) -> (N, C)."""
        tokens = torch.cat([self.token.expand(x.shape[0], -1, -1), x], dim=1) + self.pos
        for block in self.blocks[:-1]:
            tokens = block(tokens)
        return self.readout(self.blocks[-1](tokens, first_only=True)[:, 0], x)


class ProjectionEncoder(nn.Module):
    """Seven projection networks: h_t (T -> xyz volume), then h_z, h_y, h_x; and h_tx, h_ty, h_tz."""

    def __init__(self, cfg: VAEConfig) -> None:
        super().__init__()
        c, t, (x, y, z) = cfg.channels, cfg.frames, cfg.feature_grid
        lengths = {"t": t, "z": z, "y": y, "x": x, "tx": y * z, "ty": x * z, "tz": x * y}
        self.nets = nn.ModuleDict({name: ProjectionNet(c, n, cfg) for name, n in lengths.items()})

    def _reduce(self, name: str, tokens: torch.Tensor) -> torch.Tensor:
        return self.nets[name](tokens)

    def forward(self, spatial: torch.Tensor, temporal: torch.Tensor) -> dict[str, torch.Tensor]:
        b, t, _, x, y, z = spatial.shape
        vol = self._reduce("t", rearrange(spatial, "b t c x y z -> (b x y z) t c"))
        vol = rearrange(vol, "(b x y z) c -> b x y z c", b=b, x=x, y=y, z=z)
        planes = {
            "xy": self._reduce("z", rearrange(vol, "b x y z c -> (b x y) z c")),
            "xz": self._reduce("y", rearrange(vol, "b x y z c -> (b x z) y c")),
            "yz": self._reduce("x", rearrange(vol, "b x y z c -> (b y z) x c")),
            "tx": self._reduce("tx", rearrange(temporal, "b t c x y z -> (b t x) (y z) c")),
            "ty": self._reduce("ty", rearrange(temporal, "b t c x y z -> (b t y) (x z) c")),
            "tz": self._reduce("tz", rearrange(temporal, "b t c x y z -> (b t z) (x y) c")),
        }
        sizes = plane_shapes((t, x, y, z))
        return {
            name: rearrange(p, "(b u v) c -> b c u v", b=b, u=sizes[name][0], v=sizes[name][1])
            for name, p in planes.items()
        }


class AvgPoolEncoder(nn.Module):
    """Ablation: every plane is the mean of the features over its reduced axes."""

    def __init__(self, cfg: VAEConfig) -> None:
        super().__init__()

    def forward(self, spatial: torch.Tensor, temporal: torch.Tensor) -> dict[str, torch.Tensor]:
        vol = spatial.mean(dim=1)  # (B, C, X, Y, Z)
        return {
            "xy": vol.mean(dim=4),
            "xz": vol.mean(dim=3),
            "yz": vol.mean(dim=2),
            "tx": rearrange(temporal.mean(dim=(4, 5)), "b t c x -> b c t x"),
            "ty": rearrange(temporal.mean(dim=(3, 5)), "b t c y -> b c t y"),
            "tz": rearrange(temporal.mean(dim=(3, 4)), "b t c z -> b c t z"),
        }


class IterativeEncoder(nn.Module):
    """Ours: average pooling, then `cfg.encoder_rounds` rounds that fit the six planes to the features
    jointly, as a factorisation is fitted, where pooling sets each plane from its own marginal alone.

    Each round expands the planes to a volume the way the decoder does (ESS: the per-channel product of
    the six broadcast planes, each through a learned 1x1 map and tanh), and every plane adds the mean over
    its reduced axes of what that volume leaves unexplained in the features (spatial plus temporal, per
    frame), through a zero-initialised 1x1 map: the encoder starts as average pooling.
    """

    def __init__(self, cfg: VAEConfig) -> None:
        super().__init__()
        c = cfg.channels
        self.pool = AvgPoolEncoder(cfg)
        self.expand = nn.ModuleList(
            nn.ModuleDict({p: nn.Conv2d(c, c, 1) for p in PLANE_AXES}) for _ in range(cfg.encoder_rounds)
        )
        self.update = nn.ModuleList(
            nn.ModuleDict({p: nn.Conv2d(c, c, 1) for p in PLANE_AXES}) for _ in range(cfg.encoder_rounds)
        )
        for round_ in self.update:
            for conv in round_.values():
                nn.init.zeros_(conv.weight)
                nn.init.zeros_(conv.bias)

    def forward(self, spatial: torch.Tensor, temporal: torch.Tensor) -> dict[str, torch.Tensor]:
        planes = self.pool(spatial, temporal)
        target = rearrange(spatial + temporal, "b t c x y z -> b c t x y z")
        for expand, update in zip(self.expand, self.update, strict=True):
            volume = None
            for name, axes in PLANE_AXES.items():
                part = torch.tanh(expand[name](planes[name])).view(_broadcast(planes[name], axes))
                volume = part if volume is None else volume * part
            residual = target - volume  # (B, C, T, X, Y, Z)
            planes = {
                name: planes[name] + update[name](residual.mean(dim=_reduced(axes)))
                for name, axes in PLANE_AXES.items()
            }
        return planes


PLANE_AXES = {"xy": "xy", "xz": "xz", "yz": "yz", "tx": "tx", "ty": "ty", "tz": "tz"}
"""The axes each plane spans, in the order of its rows and columns."""
_VOLUME_AXES = "txyz"


def _broadcast(plane: torch.Tensor, axes: str) -> tuple[int, ...]:
    """The view (B, C, T|1, X|1, Y|1, Z|1) of a plane (B, C, rows, cols) spanning `axes`."""
    b, c, rows, cols = plane.shape
    sizes = dict(zip(axes, (rows, cols), strict=True))
    return (b, c, *(sizes.get(axis, 1) for axis in _VOLUME_AXES))


def _reduced(axes: str) -> tuple[int, ...]:
    """The dims of a (B, C, T, X, Y, Z) volume that a plane spanning `axes` averages over."""
    return tuple(2 + i for i, axis in enumerate(_VOLUME_AXES) if axis not in axes)


def build_plane_encoder(cfg: VAEConfig) -> nn.Module:
    """The encoder component named by `cfg.encoder`."""
    if cfg.encoder == "projection":
        return ProjectionEncoder(cfg)
    if cfg.encoder == "avgpool":
        return AvgPoolEncoder(cfg)
    if cfg.encoder == "iterative":
        return IterativeEncoder(cfg)
    raise ValueError(f"unknown encoder {cfg.encoder!r}.")

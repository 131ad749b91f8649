"""DiT building blocks: embeddings, attention, MLP, the adaLN-Zero block and the final layer."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn


def sincos_1d(dim: int, positions: torch.Tensor) -> torch.Tensor:
    """(N,) positions -> (N, dim) [sin | cos] at frequencies 1 / 10000^(2i/dim)."""
    omega = 1.0 / 10000 ** (torch.arange(dim // 2, dtype=torch.float64) / (dim / 2))
    angles = positions.double()[:, None] * omega[None]
    return torch.cat([angles.sin(), angles.cos()], dim=1).float()


def sincos_2d(dim: int, rows: int, cols: int) -> torch.Tensor:
    """(rows * cols, dim) fixed 2D position embedding, row-major: half the width for rows, half for cols."""
    r, c = torch.meshgrid(torch.arange(rows), torch.arange(cols), indexing="ij")
    return torch.cat([sincos_1d(dim // 2, r.reshape(-1)), sincos_1d(dim // 2, c.reshape(-1))], dim=1)


class TimestepEmbedder(nn.Module):
    """Diffusion timestep -> sinusoidal features -> MLP -> (B, hidden)."""

    def __init__(self, hidden: int, freq_dim: int = 256) -> None:
        super().__init__()
        self.freq_dim = freq_dim
        self.mlp = nn.Sequential(nn.Linear(freq_dim, hidden), nn.SiLU(), nn.Linear(hidden, hidden))

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        half = self.freq_dim // 2
        freqs = torch.exp(
            -math.log(10000.0) * torch.arange(half, device=t.device, dtype=torch.float32) / half
        )
        angles = t.float()[:, None] * freqs[None]
        return self.mlp(torch.cat([angles.cos(), angles.sin()], dim=1))


class Attention(nn.Module):
    """Multi-head self-attention through `scaled_dot_product_attention` (no attention maps kept)."""

    def __init__(self, hidden: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(hidden, 3 * hidden)
        self.proj = nn.Linear(hidden, hidden)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, k, v = rearrange(self.qkv(x), "b n (three h d) -> three b h n d", three=3, h=self.heads)
        out = F.scaled_dot_product_attention(q, k, v)
        return self.proj(rearrange(out, "b h n d -> b n (h d)"))


class CrossAttention(nn.Module):
    """Multi-head attention of the tokens to a context of condition tokens."""

    def __init__(self, hidden: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.q = nn.Linear(hidden, hidden)
        self.kv = nn.Linear(hidden, 2 * hidden)
        self.proj = nn.Linear(hidden, hidden)

    def keys_values(self, context: torch.Tensor) -> torch.Tensor:
        """context (B, M, hidden) -> its keys and values (2, B, heads, M, d): they depend on the conditions
        only, so a sampler computes them once per scene (`HexPlaneDiT.prepare`)."""
        return rearrange(self.kv(context), "b m (two h d) -> two b h m d", two=2, h=self.heads)

    def forward(self, x: torch.Tensor, keys_values: torch.Tensor) -> torch.Tensor:
        """x (B, N, hidden) attends to the context given as `keys_values(context)`."""
        q = rearrange(self.q(x), "b n (h d) -> b h n d", h=self.heads)
        k, v = keys_values.unbind(0)
        out = F.scaled_dot_product_attention(q, k, v)
        return self.proj(rearrange(out, "b h n d -> b n (h d)"))


def modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    return x * (1 + scale[:, None]) + shift[:, None]


class DiTBlock(nn.Module):
    """Pre-LN transformer block whose norms are modulated by the condition (adaLN-Zero: gates start at 0).

    With `cross`, a cross-attention to condition tokens sits between self-attention and the MLP, modulated
    and gated the same way (paper Fig. 5); without, the block is the plain DiT block.
    """

    def __init__(self, hidden: int, heads: int, mlp_ratio: float, cross: bool = False) -> None:
        super().__init__()
        self.cross = CrossAttention(hidden, heads) if cross else None
        self.norm_cross = nn.LayerNorm(hidden, elementwise_affine=False, eps=1e-6) if cross else None
        self.norm1 = nn.LayerNorm(hidden, elementwise_affine=False, eps=1e-6)
        self.attn = Attention(hidden, heads)
        self.norm2 = nn.LayerNorm(hidden, elementwise_affine=False, eps=1e-6)
        width = int(hidden * mlp_ratio)
        self.mlp = nn.Sequential(
            nn.Linear(hidden, width), nn.GELU(approximate="tanh"), nn.Linear(width, hidden)
        )
        self.ada = nn.Sequential(nn.SiLU(), nn.Linear(hidden, (9 if cross else 6) * hidden))
        nn.init.zeros_(self.ada[1].weight)
        nn.init.zeros_(self.ada[1].bias)

    def forward(self, x: torch.Tensor, c: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        """x: (B, N, hidden) tokens; c: (B, hidden) timestep + conditions; context: the condition tokens'
        keys and values (`CrossAttention.keys_values`; required with `cross`)."""
        mods = self.ada(c).chunk(9 if self.cross is not None else 6, dim=1)
        shift1, scale1, gate1, shift2, scale2, gate2 = mods[:6]
        x = x + gate1[:, None] * self.attn(modulate(self.norm1(x), shift1, scale1))
        if self.cross is not None:
            shift3, scale3, gate3 = mods[6:]
            x = x + gate3[:, None] * self.cross(modulate(self.norm_cross(x), shift3, scale3), context)
        return x + gate2[:, None] * self.mlp(modulate(self.norm2(x), shift2, scale2))


class FinalLayer(nn.Module):
    """adaLN-modulated norm, then a zero-initialised projection to patch pixels."""

    def __init__(self, hidden: int, out_dim: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(hidden, elementwise_affine=False, eps=1e-6)
        self.ada = nn.Sequential(nn.SiLU(), nn.Linear(hidden, 2 * hidden))
        self.out = nn.Linear(hidden, out_dim)
        for layer in (self.ada[1], self.out):
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        shift, scale = self.ada(c).chunk(2, dim=1)
        return self.out(modulate(self.norm(x), shift, scale))


class PlaneConvs(nn.Module):
    """A residual 3 x 3 convolution per HexPlane plane, zero-initialised (so a network starts as without it):
    planes (B, C, U, V) -> plane + conv(plane), each plane by its own convolution, zero padding at its edges, so
    no plane reads another's cells."""

    def __init__(self, channels: int, planes: tuple[str, ...]) -> None:
        super().__init__()
        self.convs = nn.ModuleDict({name: nn.Conv2d(channels, channels, 3, padding=1) for name in planes})
        for conv in self.convs.values():
            nn.init.zeros_(conv.weight)
            nn.init.zeros_(conv.bias)

    def forward(self, planes: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return {name: plane + self.convs[name](plane) for name, plane in planes.items()}

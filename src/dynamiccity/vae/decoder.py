"""Decoding a HexPlane to voxel logits: Expansion & Squeeze (paper Eq. 2-3) and the per-point query ablation.

Both decoders take the six planes at full time resolution and width C, and return channels-first logits
(B*T, K, X, Y, Z) for the frames of each sample in order.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from dynamiccity.hexplane import HexPlane, plane_shapes
from dynamiccity.vae.config import VAEConfig
from dynamiccity.vae.encoder import InstanceNorm, PointwiseConv3d, ResBlock3d


def sinusoids(length: int, freqs: int) -> torch.Tensor:
    """(length, 2 * freqs) sin/cos encodings of cell centres p = (i + 0.5) / length at 2^k * pi."""
    p = (torch.arange(length, dtype=torch.float32) + 0.5) / length
    angles = p[:, None] * (math.pi * 2.0 ** torch.arange(freqs, dtype=torch.float32))[None]
    return torch.cat([angles.sin(), angles.cos()], dim=1)


class PositionalHead(nn.Module):
    """Eq. (3): concat(features, PE(t, x, y, z)) -> 1x1 conv -> LeakyReLU -> 1x1 conv -> logits.

    The PE is a concatenation of per-axis encodings, so its share of the first 1x1 convolution is a sum of
    four per-axis terms, broadcast: the same result as concatenating, without a (T, X, Y, Z, 8F) tensor.
    """

    def __init__(
        self, in_channels: int, hidden: int, num_classes: int, sizes: tuple[int, ...], freqs: int
    ) -> None:
        super().__init__()
        self.frames = sizes[0]
        self.features = PointwiseConv3d(in_channels, hidden)
        self.axes = nn.ModuleList(nn.Linear(2 * freqs, hidden, bias=False) for _ in sizes)
        for i, n in enumerate(sizes):
            self.register_buffer(f"pe{i}", sinusoids(n, freqs), persistent=False)
        self.out = PointwiseConv3d(hidden, num_classes)

    def forward(self, x: torch.Tensor, frames: torch.Tensor | None = None) -> torch.Tensor:
        """x: (B*T, C, X, Y, Z) -> logits (B*T, K, X, Y, Z), a channels-last view; with `frames` (F,), x
        holds those frames of each window alone, (B*F, C, X, Y, Z), and each is given its own frame's PE."""
        n, _, sx, sy, sz = x.shape
        # work on (B, T, X, Y, Z, H), hidden last: a free view of a channels-last input, and the layout in
        # which the 1x1x1 maps are plain matrix products and backward's reductions of the PE terms run fast
        count = self.frames if frames is None else len(frames)
        h = self.features.hidden_last(x.permute(0, 2, 3, 4, 1))
        h = h.reshape(n // count, count, sx, sy, sz, -1)
        lengths = enumerate(zip(self.axes, (self.frames, sx, sy, sz), strict=True))
        t, px, py, pz = (axis(self._pe(i, size)) for i, (axis, size) in lengths)  # (size, H)
        t = t if frames is None else t[frames]
        pe = t[:, None, None, None] + px[:, None, None] + py[:, None] + pz  # (T, X, Y, Z, H)
        h = F.leaky_relu(h + pe, 0.1).reshape(n, sx, sy, sz, -1)
        return self.out.hidden_last(h).permute(0, 4, 1, 2, 3)

    def _pe(self, axis: int, length: int) -> torch.Tensor:
        """The encodings of an axis's cell centres: the stored ones, or for a grid coarser than the one the
        head was built for (`vae.scale`), those of its own cells, in the same [0, 1] coordinates."""
        stored = getattr(self, f"pe{axis}")
        if length == len(stored):
            return stored
        return sinusoids(length, stored.shape[1] // 2).to(stored)


def expand_and_squeeze(planes: HexPlane, fusion: str) -> torch.Tensor:
    """Eq. (2): broadcast the six planes to (B, T, C, X, Y, Z) and fuse them (Hadamard product, or sum).

    The volume is built channels-last in memory, (B, T, X, Y, Z, C), and returned as a (B, T, C, X, Y, Z)
    view, so that its (B*T, C, X, Y, Z) reshape is a free channels_last_3d tensor for the convolutions.
    """
    if fusion not in ("product", "sum"):
        raise ValueError(f"unknown fusion {fusion!r}.")
    combine = torch.mul if fusion == "product" else torch.add
    xy, xz, yz, tx, ty, tz = (p.movedim(1, -1).contiguous() for p in planes.planes())
    # xy (B, X, Y, C), xz (B, X, Z, C), yz (B, Y, Z, C); tx (B, T, X, C), ty (B, T, Y, C), tz (B, T, Z, C)
    space = combine(combine(xy[:, :, :, None], xz[:, :, None]), yz[:, None])  # (B, X, Y, Z, C)
    time = combine(combine(tx[:, :, :, None, None], ty[:, :, None, :, None]), tz[:, :, None, None])
    vol = combine(space[:, None], time)  # (B, T, X, Y, Z, C)
    return vol.permute(0, 1, 5, 2, 3, 4)


class ESSDecoder(nn.Module):
    """ESS at latent resolution, then g_phi per frame: 1x1 conv, residual blocks, transposed conv, head."""

    def __init__(self, cfg: VAEConfig) -> None:
        super().__init__()
        self.fusion = cfg.fusion
        factors = cfg.downsample[1:]
        self.inp = PointwiseConv3d(cfg.fused_width, cfg.dec_channels)
        self.blocks = nn.Sequential(*(ResBlock3d(cfg.dec_channels) for _ in range(cfg.dec_blocks)))
        self.up = nn.ConvTranspose3d(cfg.dec_channels, cfg.out_channels, kernel_size=factors, stride=factors)
        self.up_norm = InstanceNorm()
        sizes = (cfg.frames, *cfg.grid)
        self.head = PositionalHead(cfg.out_channels, cfg.out_channels, cfg.num_classes, sizes, cfg.pe_freqs)

    def forward(self, planes: HexPlane, frames: torch.Tensor | None = None) -> torch.Tensor:
        """planes, their time planes at full T -> logits (B*T, K, X, Y, Z); with `frames` (F,), of those
        frames alone (B*F, ...): every stage after the planes works on each frame by itself, so they are
        the same logits as those frames' of the whole window."""
        vol = expand_and_squeeze(planes if frames is None else planes.at_frames(frames), self.fusion)
        x = vol.reshape(-1, *vol.shape[2:])  # (B*T, C, X', Y', Z')
        x = self.blocks(self.inp(x))
        x = F.leaky_relu(self.up_norm(self.up(x)), 0.1)  # (B*T, C_out, X, Y, Z)
        return self.head(x, frames)


class QueryDecoder(nn.Module):
    """Ablation: sample every plane at each voxel centre (bilinear), fuse per point, decode per point.

    Bilinear sampling of a plane at the centres of a regular finer grid equals bilinear upsampling with
    align_corners=False, which is how the samples are taken.
    """

    def __init__(self, cfg: VAEConfig) -> None:
        super().__init__()
        self.fusion, self.grid, self.frames = cfg.fusion, cfg.grid, cfg.frames
        sizes = (cfg.frames, *cfg.grid)
        self.head = PositionalHead(cfg.fused_width, cfg.query_hidden, cfg.num_classes, sizes, cfg.pe_freqs)

    def forward(self, planes: HexPlane, frames: torch.Tensor | None = None) -> torch.Tensor:
        """As `ESSDecoder.forward`: logits of every frame, or of `frames` alone."""
        sizes = plane_shapes((self.frames, *self.grid))
        full = HexPlane.from_planes(
            {
                name: F.interpolate(p, size=sizes[name], mode="bilinear", align_corners=False)
                for name, p in planes.as_dict().items()
            }
        )
        vol = expand_and_squeeze(full if frames is None else full.at_frames(frames), self.fusion)
        return self.head(vol.reshape(-1, *vol.shape[2:]), frames)


def build_voxel_decoder(cfg: VAEConfig) -> nn.Module:
    """The decoder component named by `cfg.decoder`."""
    if cfg.decoder == "ess":
        return ESSDecoder(cfg)
    if cfg.decoder == "query":
        return QueryDecoder(cfg)
    raise ValueError(f"unknown decoder {cfg.decoder!r}.")

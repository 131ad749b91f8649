"""The evaluator's networks: a 3D voxel autoencoder and a 2D render network, each with classifier heads."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

import torch
from einops import rearrange
from torch import nn

from dynamiccity.data.classes import FREE
from dynamiccity.evaluator.config import HEADS, EvaluatorConfig


def _block(kind: str, cin: int, cout: int, stride) -> nn.Sequential:
    conv = {"3d": nn.Conv3d, "2d": nn.Conv2d}[kind]
    return nn.Sequential(conv(cin, cout, 3, stride=stride, padding=1), nn.GroupNorm(4, cout), nn.SiLU())


def _strides3d(cfg: EvaluatorConfig) -> list[tuple[int, int, int]]:
    """Per down stage: halve X and Y, and Z while it is at least 2."""
    z, out = cfg.grid[2], []
    for _ in cfg.widths3d[1:]:
        out.append((2, 2, 2 if z >= 2 else 1))
        z = z // 2 if z >= 2 else z
    return out


class VoxelAutoencoder(nn.Module):
    """One frame (N, X, Y, Z) class ids -> bottleneck (N, C, X', Y', Z') and logits (N, K, X, Y, Z)."""

    def __init__(self, cfg: EvaluatorConfig) -> None:
        super().__init__()
        w, strides = cfg.widths3d, _strides3d(cfg)
        self.embed = nn.Embedding(cfg.num_classes, cfg.embed_dim)
        self.down = nn.Sequential(
            _block("3d", cfg.embed_dim, w[0], 1),
            *(_block("3d", a, b, s) for a, b, s in zip(w[:-1], w[1:], strides, strict=True)),
        )
        up = []
        for a, b, s in reversed(list(zip(w[:-1], w[1:], strides, strict=True))):
            up += [nn.ConvTranspose3d(b, a, s, stride=s), nn.GroupNorm(4, a), nn.SiLU()]
            up += [_block("3d", a, a, 1) for _ in range(cfg.decoder_convs)]
        self.up = nn.Sequential(*up, nn.Conv3d(w[0], cfg.num_classes, 1))

    def encode(self, labels: torch.Tensor) -> torch.Tensor:
        x = rearrange(self.embed(labels.long()), "n x y z c -> n c x y z")
        return self.down(x)

    def forward(self, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        code = self.encode(labels)
        return code, self.up(code)


def bev_classes(labels: torch.Tensor) -> torch.Tensor:
    """Frames (N, X, Y, Z) class ids -> (N, X, Y) the top occupied class of each column (FREE where empty),
    in the BEV image's orientation (`viz.render_bev`: +x up, +y left, so both axes reversed)."""
    occupied = labels != FREE
    depth = labels.shape[-1]
    top = depth - 1 - occupied.flip(-1).long().argmax(dim=-1, keepdim=True)
    return labels.gather(-1, top)[..., 0].flip(1, 2)


class RenderNet(nn.Module):
    """The protocol's images -> one feature: a conv stack per view, average-pooled, concatenated; with
    `bev_decoder`, also the BEV frames' top classes decoded from the BEV stack's map."""

    def __init__(self, cfg: EvaluatorConfig) -> None:
        super().__init__()
        w = cfg.widths2d

        def branch(cin: int) -> nn.Sequential:
            return nn.Sequential(_block("2d", cin, w[0], 1), *(_block("2d", a, b, 2) for a, b in pairwise(w)))

        self.bev = branch(3 * len(cfg.bev_frames))
        self.view = branch(3)
        self.bev_up = _bev_decoder(cfg) if cfg.bev_decoder else None

    def forward(self, bev: torch.Tensor, view: torch.Tensor) -> torch.Tensor:
        """bev (B, 9, X, Y), view (B, 3, H, W) in [0, 1] -> (B, 2 * widths2d[-1])."""
        return self._feature(self.bev(bev), view)

    def maps(self, bev: torch.Tensor, view: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The feature of `forward`, and the BEV frames' class logits (B, F, K, X, Y) (None without a
        decoder); the features alone (`forward`) skip the decoder."""
        bev_map = self.bev(bev)
        feature = self._feature(bev_map, view)
        if self.bev_up is None:
            return feature, None
        return feature, self.bev_up(bev_map).unflatten(1, (bev.shape[1] // 3, -1))

    def _feature(self, bev_map: torch.Tensor, view: torch.Tensor) -> torch.Tensor:
        return torch.cat([bev_map.mean(dim=(2, 3)), self.view(view).mean(dim=(2, 3))], dim=1)


def _bev_decoder(cfg: EvaluatorConfig) -> nn.Sequential:
    """The BEV stack's map back to full size: one transposed conv per down stage, then per shown frame a
    class score per pixel."""
    w, layers = cfg.widths2d, []
    for a, b in reversed(list(pairwise(w))):
        layers += [nn.ConvTranspose2d(b, a, 2, stride=2), nn.GroupNorm(4, a), nn.SiLU()]
    return nn.Sequential(*layers, nn.Conv2d(w[0], len(cfg.bev_frames) * cfg.num_classes, 1))


@dataclass
class EvaluatorOutput:
    """frame3d (B, T, C3) per-frame features; window3d (B, 2 * C3); logits3d (B, T, K, X, Y, Z) the
    reconstruction; feature2d (B, C2); heads3d / heads2d {head: (B, classes)} logits; logits_bev
    (B, F, K, X, Y) the BEV frames' top classes (None without a BEV decoder)."""

    frame3d: torch.Tensor
    window3d: torch.Tensor
    logits3d: torch.Tensor
    feature2d: torch.Tensor
    heads3d: dict[str, torch.Tensor]
    heads2d: dict[str, torch.Tensor]
    logits_bev: torch.Tensor | None = None


class Evaluator(nn.Module):
    """Both feature extractors of `EvaluatorConfig`, with a linear classifier head per configured head."""

    def __init__(self, cfg: EvaluatorConfig) -> None:
        super().__init__()
        self.cfg = cfg
        dims = cfg.feature_dims
        self.voxels = VoxelAutoencoder(cfg)
        self.renders = RenderNet(cfg)
        self.heads3d = nn.ModuleDict({h: nn.Linear(dims["3d"], len(HEADS[h])) for h in cfg.heads})
        self.heads2d = nn.ModuleDict({h: nn.Linear(dims["2d"], len(HEADS[h])) for h in cfg.heads})

    def features3d(self, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """labels (B, T, X, Y, Z) -> per-frame features (B, T, C), window features (B, 2C) and the frames'
        bottlenecks (B, T, C, X', Y', Z')."""
        b = labels.shape[0]
        code = rearrange(self.voxels.encode(labels.flatten(0, 1)), "(b t) c x y z -> b t c x y z", b=b)
        frame = code.mean(dim=(3, 4, 5))
        if self.cfg.change3d == "pooled":
            change = (frame[:, 1:] - frame[:, :-1]).abs().mean(dim=1)
        else:
            change = (code[:, 1:] - code[:, :-1]).abs().mean(dim=(1, 3, 4, 5))
        return frame, torch.cat([frame.mean(dim=1), change], dim=1), code

    def forward(
        self, labels: torch.Tensor, bev: torch.Tensor, view: torch.Tensor, recon: list[int] | None = None
    ) -> EvaluatorOutput:
        """labels (B, T, X, Y, Z), the protocol's images; `recon`: the frames to reconstruct (None: all)."""
        frame, window, code = self.features3d(labels)
        code = code if recon is None else code[:, recon]
        logits = rearrange(
            self.voxels.up(code.flatten(0, 1)), "(b t) k x y z -> b t k x y z", b=labels.shape[0]
        )
        feature2d, logits_bev = self.renders.maps(bev, view)
        return EvaluatorOutput(
            frame, window, logits, feature2d,
            {h: head(window) for h, head in self.heads3d.items()},
            {h: head(feature2d) for h, head in self.heads2d.items()},
            logits_bev,
        )  # fmt: skip

"""The latent side of the VAE: plane heads, temporal down/up-sampling, the Gaussian posterior and KL."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from dynamiccity.hexplane import PLANES, TIME_PLANES, HexPlane
from dynamiccity.vae.config import VAEConfig

INITIAL_LOGVAR = -6.0


@dataclass
class Posterior:
    """Diagonal Gaussian over HexPlanes: `mean` and `logvar` share the latent's shapes."""

    mean: HexPlane
    logvar: HexPlane

    def sample(self, generator: torch.Generator | None = None) -> HexPlane:
        """Reparameterised sample mean + exp(logvar / 2) * eps."""
        return self.mean.zip_map(
            self.logvar,
            lambda m, lv: (
                m + torch.exp(0.5 * lv) * torch.randn(m.shape, generator=generator, device=m.device)
            ),
        )

    def kl(self) -> torch.Tensor:
        """KL(q || N(0, I)) summed over the six planes, divided by the number of latent elements."""
        total = sum(
            0.5 * (m.float().pow(2) + lv.float().exp() - 1.0 - lv.float()).sum()
            for m, lv in zip(self.mean.planes(), self.logvar.planes(), strict=True)
        )
        return total / sum(m.numel() for m in self.mean.planes())


class LatentHead(nn.Module):
    """Encoder side: per plane 1x1 conv - tanh - 1x1 conv, then `cfg.head_blocks` residual 3x3 plane blocks
    (ours; 0 as released: every latent position is read from its own pooled feature alone); T halved on
    time planes; moments per position."""

    def __init__(self, cfg: VAEConfig) -> None:
        super().__init__()
        c, cl, dt = cfg.channels, cfg.latent_channels, cfg.downsample[0]
        self.heads = nn.ModuleDict(
            {p: nn.Sequential(nn.Conv2d(c, c, 1), nn.Tanh(), nn.Conv2d(c, c, 1)) for p in PLANES}
        )
        self.time_down = nn.ModuleDict({p: nn.Conv2d(c, c, (dt, 1), stride=(dt, 1)) for p in TIME_PLANES})
        self.moments = nn.ModuleDict({p: nn.Conv2d(c, 2 * cl, 1) for p in PLANES})
        for conv in self.moments.values():
            # start nearly deterministic (std ~0.05): with logvar ~0 the samples would drown the small initial
            # means and the decoder would learn to ignore the latent before the KL term could matter
            nn.init.constant_(conv.bias[cl:], INITIAL_LOGVAR)
        # after the released layers, so that their initialisation draws the same numbers with or without
        self.blocks = (
            nn.ModuleDict(
                {p: nn.Sequential(*(PlaneBlock(c, c) for _ in range(cfg.head_blocks))) for p in PLANES}
            )
            if cfg.head_blocks
            else None
        )

    def forward(self, planes: dict[str, torch.Tensor]) -> Posterior:
        means, logvars = {}, {}
        for name in PLANES:
            h = self.heads[name](planes[name])
            if self.blocks is not None:
                h = self.blocks[name](h)
            if name in TIME_PLANES:
                h = self.time_down[name](h)
            means[name], logvar = self.moments[name](h).chunk(2, dim=1)
            logvars[name] = logvar.clamp(-30.0, 20.0)
        return Posterior(HexPlane.from_planes(means), HexPlane.from_planes(logvars))


class PlaneBlock(nn.Module):
    """Decoder side, per plane: shortcut(x) + zero-init conv3(SiLU(GroupNorm(conv3(x))))."""

    def __init__(self, in_channels: int, channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, channels, 3, padding=1)
        self.norm = nn.GroupNorm(1, channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)
        nn.init.zeros_(self.conv2.weight)
        nn.init.zeros_(self.conv2.bias)
        self.shortcut = nn.Conv2d(in_channels, channels, 1) if in_channels != channels else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.shortcut(x) + self.conv2(nn.functional.silu(self.norm(self.conv1(x))))


class TransposeUpsampler(nn.Module):
    """Per plane: a transposed conv restoring T on a time plane; a spatial plane passes unchanged."""

    def __init__(self, channels: int, dt: int, time_plane: bool) -> None:
        super().__init__()
        self.up = nn.ConvTranspose2d(channels, channels, (dt, 1), stride=(dt, 1)) if time_plane else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x if self.up is None else self.up(x)


class ReleaseUpsampler(nn.Module):
    """Per plane, the release's capacity: transposed conv (restoring T on a time plane, 1x1 on a spatial
    one), instance norm, LeakyReLU, 3x3 conv, instance norm, LeakyReLU."""

    def __init__(self, channels: int, dt: int, time_plane: bool) -> None:
        super().__init__()
        rate = (dt, 1) if time_plane else (1, 1)
        self.layers = nn.Sequential(
            nn.ConvTranspose2d(channels, channels, rate, stride=rate),
            nn.InstanceNorm2d(channels, affine=True),
            nn.LeakyReLU(0.2),
            nn.Conv2d(channels, channels, 3, padding=1),
            nn.InstanceNorm2d(channels, affine=True),
            nn.LeakyReLU(0.2),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


UPSAMPLERS = {"release": ReleaseUpsampler, "transpose": TransposeUpsampler}


class LatentDecoderHead(nn.Module):
    """Decoder side: a plane block per plane widening the latent to the fused width, then the plane
    upsampler named by `cfg.plane_upsampler` (which restores T on the time planes)."""

    def __init__(self, cfg: VAEConfig) -> None:
        super().__init__()
        c, cl, dt = cfg.fused_width, cfg.latent_channels, cfg.downsample[0]
        self.blocks = nn.ModuleDict({p: PlaneBlock(cl, c) for p in PLANES})
        upsampler = UPSAMPLERS[cfg.plane_upsampler]
        self.upsample = nn.ModuleDict({p: upsampler(c, dt, p in TIME_PLANES) for p in PLANES})

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs) -> None:
        # checkpoints written before the upsamplers were components name the transposed convs time_up.<plane>
        for name in TIME_PLANES:
            for param in ("weight", "bias"):
                old = f"{prefix}time_up.{name}.{param}"
                if old in state_dict:
                    state_dict[f"{prefix}upsample.{name}.up.{param}"] = state_dict.pop(old)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def forward(self, latent: HexPlane) -> HexPlane:
        return HexPlane.from_planes(
            {name: self.upsample[name](self.blocks[name](plane)) for name, plane in latent.as_dict().items()}
        )

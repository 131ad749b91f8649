"""VAE configuration: one frozen dataclass, named presets, strict loading."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from dynamiccity.config import StrictConfig

EncoderKind = Literal["projection", "avgpool", "iterative"]
DecoderKind = Literal["ess", "query"]
FusionKind = Literal["product", "sum"]
UpsamplerKind = Literal["release", "transpose"]
ReadoutKind = Literal["token", "pooled"]
TemporalInputKind = Literal["frames", "change"]


@dataclass(frozen=True)
class VAEConfig(StrictConfig):
    """The HexPlane VAE (paper Sec. 4.1; DESIGN.md, VAE).

    frames, grid: the input window (T, (X, Y, Z)). downsample: (dT, dX, dY, dZ), the HexPlane is
    (T/dT, X/dX, Y/dY, Z/dZ). encoder: "projection" (transformers reading a learned token), "avgpool"
    (ablation) or "iterative" (ours: average pooling, then planes fitted jointly). decoder: "ess" (Expansion & Squeeze then a conv decoder) or "query" (ablation: sample the
    planes at every voxel and decode per point). fusion: "product" (Hadamard, Eq. 2) or "sum" (ablation).
    fused_channels: the width of the decoder-side planes that ESS (or the query decoder) fuses: 64 as
    released (its `query_channels`); None fuses at `channels` (the narrow ablation). The latent keeps
    `latent_channels` either way: a wider fusion lets the product of six planes hold more distinct patterns
    (each fused channel is a product of six 2D maps) at no cost in compression.
    plane_upsampler: what runs on each decoder-side plane after the block that widens it: "release" (a
    transposed conv restoring T on the time planes, 1x1 on the others, then instance norm, LeakyReLU, 3x3
    conv, instance norm, LeakyReLU, as released) or "transpose" (the transposed conv alone; runs trained
    before the release's upsampler was built read as this).
    temporal_input: what the temporal encoder (which feeds the time planes) reads: "frames" (every frame's
    class embedding, as released) or "change" (every frame's embedding minus the window's mean: the static
    world is zero there, so the time planes see only what moves or slides past).
    proj_readout: how a projection network reads its output: "token" (the learned token after the last
    layer, layer-normalised) or "pooled" (the mean of the input tokens plus a zero-initialised projection
    of the learned token: the network starts as average pooling and learns attention on top).
    encoder_rounds: with `encoder="iterative"` (ours), the rounds that fit the planes to the features jointly
        after average pooling (`vae.projection.IterativeEncoder`).
    head_blocks: residual 3x3 conv blocks on each pooled plane before the posterior's moments (ours; 0 as
        released): each latent position then reads its neighbours' features, not its own alone, so the
        encoder can place what pooling spread over a row or column.
    recompute: in training, keep only the inputs of the encoders, the plane encoder and the voxel decoder,
    and recompute their insides during backward (activation checkpointing): the same gradients for less
    memory and one more forward pass. It changes how the model runs, not what it computes.
    """

    label = "VAE config"

    num_classes: int = 12
    frames: int = 16
    grid: tuple[int, int, int] = (128, 128, 8)
    downsample: tuple[int, int, int, int] = (2, 2, 2, 2)
    embed_dim: int = 16
    channels: int = 16
    latent_channels: int = 16
    proj_layers: int = 2
    proj_heads: int = 2
    proj_mlp: int = 32
    proj_dropout: float = 0.1
    dec_channels: int = 128
    dec_blocks: int = 1
    out_channels: int = 32
    query_hidden: int = 64
    pe_freqs: int = 4
    fused_channels: int | None = 64
    plane_upsampler: UpsamplerKind = "release"
    proj_readout: ReadoutKind = "token"
    temporal_input: TemporalInputKind = "frames"
    encoder: EncoderKind = "projection"
    decoder: DecoderKind = "ess"
    fusion: FusionKind = "product"
    head_blocks: int = 0
    encoder_rounds: int = 2
    recompute: bool = False

    def __post_init__(self) -> None:
        choices = {
            "encoder": EncoderKind,
            "decoder": DecoderKind,
            "fusion": FusionKind,
            "plane_upsampler": UpsamplerKind,
            "proj_readout": ReadoutKind,
            "temporal_input": TemporalInputKind,
        }
        for name, kind in choices.items():
            if getattr(self, name) not in kind.__args__:
                raise ValueError(f"{name} must be one of {kind.__args__}, got {getattr(self, name)!r}.")
        dims = (self.frames, *self.grid)
        for size, rate, axis in zip(dims, self.downsample, "TXYZ", strict=True):
            if rate < 1 or size % rate:
                raise ValueError(f"downsample rate {rate} does not divide {axis}={size}.")
        if self.fused_channels is not None and self.fused_channels < 1:
            raise ValueError(f"fused_channels must be positive or None, got {self.fused_channels}.")
        if self.encoder_rounds < 1:
            raise ValueError(f"encoder_rounds must be >= 1, got {self.encoder_rounds}.")
        if self.head_blocks < 0:
            raise ValueError(f"head_blocks must be >= 0, got {self.head_blocks}.")
        if self.channels % self.proj_heads:
            raise ValueError(f"channels {self.channels} must be divisible by proj_heads {self.proj_heads}.")

    @classmethod
    def from_dict(cls, data: dict) -> VAEConfig:
        """A stored config. One written before a field existed means what the model then did: no release
        plane upsampler, and (older still) fusion at `channels`."""
        legacy = {"plane_upsampler": "transpose", "fused_channels": None}
        return super().from_dict({**{k: v for k, v in legacy.items() if k not in data}, **data})

    @property
    def fused_width(self) -> int:
        """Channels of the six planes the voxel decoder fuses."""
        return self.channels if self.fused_channels is None else self.fused_channels

    def decoder_side(self) -> dict:
        """What shapes the decoder (every field but the encoder's, with the fused width in place of
        `fused_channels`): two configs that agree here build decoders that take each other's weights."""
        side = {k: v for k, v in self.to_dict().items() if k not in ENCODER_KEYS | {"fused_channels"}}
        return {**side, "fused_width": self.fused_width}

    @property
    def latent_grid(self) -> tuple[int, int, int, int]:
        """(T', X', Y', Z') of the HexPlane."""
        dims = (self.frames, *self.grid)
        return tuple(s // r for s, r in zip(dims, self.downsample, strict=True))

    @property
    def feature_grid(self) -> tuple[int, int, int]:
        """(X', Y', Z') of the per-frame encoder features."""
        return self.latent_grid[1:]


ENCODER_KEYS = frozenset(
    {"embed_dim", "channels", "proj_layers", "proj_heads", "proj_mlp", "proj_dropout", "proj_readout",
     "temporal_input", "encoder", "head_blocks", "encoder_rounds"}
)  # fmt: skip
"""The fields that shape only the encoder side (with `channels` the fused width when `fused_channels` is
None)."""

VAE_PRESETS: dict[str, VAEConfig] = {
    "carlasc": VAEConfig(num_classes=12, frames=16, grid=(128, 128, 8)),
    "occ3d-waymo": VAEConfig(num_classes=12, frames=16, grid=(200, 200, 16)),
    "occ3d-nuscenes": VAEConfig(num_classes=12, frames=16, grid=(200, 200, 16)),
    # 0.2 m voxels: downsampling by 4 in space keeps the latent cell at 0.8 m, as the presets above have it
    "semantickitti": VAEConfig(num_classes=12, frames=16, grid=(256, 256, 32), downsample=(2, 4, 4, 4)),
    "synthtown-tiny": VAEConfig(frames=8, grid=(64, 64, 8), dec_channels=64, query_hidden=32),
    "synthtown-micro": VAEConfig(
        frames=4, grid=(32, 32, 4), channels=8, embed_dim=8, latent_channels=8, proj_mlp=16,
        dec_channels=16, out_channels=16, query_hidden=16, pe_freqs=2, fused_channels=16,
        plane_upsampler="transpose",  # the test scale: no instance norm over planes (docs/vae.md, locality)
    ),
}  # fmt: skip


def vae_preset(name: str) -> VAEConfig:
    if name not in VAE_PRESETS:
        raise ValueError(f"unknown VAE preset {name!r}; choose one of {', '.join(VAE_PRESETS)}.")
    return VAE_PRESETS[name]

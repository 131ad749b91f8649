"""The HexPlane: six 2D feature planes of a 4D scene (paper Sec. 3), the VAE's latent and the DiT's data."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields

import torch

PLANES = ("xy", "xz", "yz", "tx", "ty", "tz")
TIME_PLANES = ("tx", "ty", "tz")


def plane_shapes(sizes: tuple[int, int, int, int]) -> dict[str, tuple[int, int]]:
    """(T, X, Y, Z) -> each plane's (rows, cols) as the HexPlane stores it: the one place that says which
    axes a plane spans."""
    t, x, y, z = sizes
    return {"xy": (x, y), "xz": (x, z), "yz": (y, z), "tx": (t, x), "ty": (t, y), "tz": (t, z)}


@dataclass
class HexPlane:
    """Six channels-first planes, named by their axes.

    xy (B, C, X', Y'), xz (B, C, X', Z'), yz (B, C, Y', Z'), tx (B, C, T', X'), ty (B, C, T', Y'),
    tz (B, C, T', Z').
    """

    xy: torch.Tensor
    xz: torch.Tensor
    yz: torch.Tensor
    tx: torch.Tensor
    ty: torch.Tensor
    tz: torch.Tensor

    def planes(self) -> tuple[torch.Tensor, ...]:
        return tuple(getattr(self, name) for name in PLANES)

    def map(self, fn: Callable[[torch.Tensor], torch.Tensor]) -> HexPlane:
        """Apply `fn` to every plane."""
        return HexPlane(*(fn(p) for p in self.planes()))

    def zip_map(self, other: HexPlane, fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> HexPlane:
        return HexPlane(*(fn(a, b) for a, b in zip(self.planes(), other.planes(), strict=True)))

    @classmethod
    def from_planes(cls, planes: dict[str, torch.Tensor]) -> HexPlane:
        return cls(**{name: planes[name] for name in PLANES})

    def as_dict(self) -> dict[str, torch.Tensor]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @property
    def batch_size(self) -> int:
        return self.xy.shape[0]

    @property
    def sizes(self) -> tuple[int, int, int, int, int]:
        """(C, T', X', Y', Z')."""
        return (self.xy.shape[1], self.tx.shape[2], self.xy.shape[2], self.xy.shape[3], self.xz.shape[3])

    def numel_per_sample(self) -> int:
        return sum(p[0].numel() for p in self.planes())

    def at_frames(self, frames: torch.Tensor) -> HexPlane:
        """The time planes' rows of `frames` (F,) alone (their T' axis indexed), the space planes as they
        are: a window's planes for those frames."""
        return HexPlane.from_planes(
            {n: (p.index_select(2, frames) if n in TIME_PLANES else p) for n, p in self.as_dict().items()}
        )

    def __getitem__(self, index) -> HexPlane:
        """Batch indexing: hexplane[i:j]."""
        return self.map(lambda p: p[index])

    @staticmethod
    def cat(items: list[HexPlane]) -> HexPlane:
        return HexPlane(*(torch.cat(ps) for ps in zip(*(h.planes() for h in items), strict=True)))

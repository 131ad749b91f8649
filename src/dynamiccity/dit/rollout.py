"""HexPlane <-> one 2D feature map for the DiT (paper Sec. 4.2, Fig. 4; Table 5 ablations).

A rollout places the six planes of a HexPlane in a (C, H, W) map that a DiT patchifies with patch size p.
It is exactly invertible on the real region and says which p x p patches hold real features (`token_mask`)
so that padding tokens can be dropped after patch embedding. Three layouts, all the same interface:

- `PaddedRollout` (the paper's PRO): a square map whose rows and columns share axes,

      rows \\ cols | Y'   | Z' | T'
      X'          | xy   | xz | tx^T
      T'          | ty   | tz | 0
      Z'          | yz^T | 0  | 0

- `VerticalConcat`: the six planes stacked top to bottom as they are, right-padded to the widest.
- `DirectUnfold`: every plane cut into patches, the patches laid side by side in one strip (no padding).

Nothing here depends on the batch size: masks are per map and apply to any batch.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Literal

import torch
from einops import rearrange

from dynamiccity.hexplane import PLANES, HexPlane, plane_shapes

RolloutKind = Literal["padded", "vertical", "unfold"]


@dataclass(frozen=True)
class Placement:
    """Plane `name`, transposed or not, with its top-left corner at (row, col) of the map."""

    name: str
    transpose: bool
    row: int
    col: int


class Rollout(ABC):
    """A layout of the six planes in one (C, H, W) map, cut into patch x patch tokens."""

    def __init__(self, sizes: tuple[int, int, int, int], patch: int) -> None:
        self.sizes = tuple(sizes)
        self.patch = patch
        self.shapes = plane_shapes(self.sizes)
        self.height, self.width = self._map_size()
        if self.height % patch or self.width % patch:
            raise ValueError(
                f"{type(self).__name__}: the {self.height}x{self.width} map of HexPlane sizes {self.sizes} "
                f"is not divisible by patch {patch}."
            )

    @abstractmethod
    def _map_size(self) -> tuple[int, int]:
        """(H, W) of the map."""

    @abstractmethod
    def roll(self, hexplane: HexPlane) -> torch.Tensor:
        """HexPlane (B, C, ...) -> map (B, C, H, W), zero outside the planes."""

    @abstractmethod
    def unroll(self, grid: torch.Tensor) -> HexPlane:
        """map (B, C, H, W) -> HexPlane: the exact inverse of `roll` on the real region."""

    @abstractmethod
    def pixel_mask(self) -> torch.Tensor:
        """(H, W) bool: True where a plane feature lies."""

    def token_mask(self) -> torch.Tensor:
        """(H/p * W/p,) bool in patch row-major order: True for patches holding any real feature."""
        p = self.patch
        blocks = rearrange(self.pixel_mask(), "(i p) (j q) -> (i j) (p q)", p=p, q=p)
        return blocks.any(dim=1)

    @property
    def token_grid(self) -> tuple[int, int]:
        """(rows, cols) of the patch grid."""
        return self.height // self.patch, self.width // self.patch

    def _check(self, hexplane: HexPlane) -> None:
        for name in PLANES:
            got = tuple(getattr(hexplane, name).shape[-2:])
            if got != self.shapes[name]:
                raise ValueError(f"plane {name} is {got}, the rollout expects {self.shapes[name]}.")

    def _check_map(self, grid: torch.Tensor) -> None:
        if grid.ndim != 4 or tuple(grid.shape[-2:]) != (self.height, self.width):
            raise ValueError(f"expected a (B, C, {self.height}, {self.width}) map, got {tuple(grid.shape)}.")


class PlacedRollout(Rollout):
    """A rollout that places each whole plane (possibly transposed) at a corner of the map."""

    @abstractmethod
    def placements(self) -> list[Placement]:
        """Where each of the six planes goes."""

    def _extent(self, place: Placement) -> tuple[int, int]:
        rows, cols = self.shapes[place.name]
        return (cols, rows) if place.transpose else (rows, cols)

    def roll(self, hexplane: HexPlane) -> torch.Tensor:
        self._check(hexplane)
        first = hexplane.xy
        out = first.new_zeros(first.shape[0], first.shape[1], self.height, self.width)
        planes = hexplane.as_dict()
        for place in self.placements():
            plane = planes[place.name]
            plane = plane.transpose(-1, -2) if place.transpose else plane
            h, w = plane.shape[-2:]
            out[:, :, place.row : place.row + h, place.col : place.col + w] = plane
        return out

    def unroll(self, grid: torch.Tensor) -> HexPlane:
        self._check_map(grid)
        planes = {}
        for place in self.placements():
            h, w = self._extent(place)
            plane = grid[:, :, place.row : place.row + h, place.col : place.col + w]
            planes[place.name] = plane.transpose(-1, -2) if place.transpose else plane
        return HexPlane.from_planes({k: v.contiguous() for k, v in planes.items()})

    def pixel_mask(self) -> torch.Tensor:
        mask = torch.zeros(self.height, self.width, dtype=torch.bool)
        for place in self.placements():
            h, w = self._extent(place)
            mask[place.row : place.row + h, place.col : place.col + w] = True
        return mask


class PaddedRollout(PlacedRollout):
    """The Padded Rollout Operation: an (X'+T'+Z') x (Y'+Z'+T') map (square when X' = Y')."""

    def _map_size(self) -> tuple[int, int]:
        t, x, y, z = self.sizes
        return x + t + z, y + z + t

    def placements(self) -> list[Placement]:
        t, x, y, z = self.sizes
        return [
            Placement("xy", False, 0, 0),
            Placement("xz", False, 0, y),
            Placement("tx", True, 0, y + z),
            Placement("ty", False, x, 0),
            Placement("tz", False, x, y),
            Placement("yz", True, x + t, 0),
        ]


class VerticalConcat(PlacedRollout):
    """Ablation: the planes stacked vertically as stored, each padded on the right to the widest plane."""

    def _map_size(self) -> tuple[int, int]:
        return sum(r for r, _ in self.shapes.values()), max(c for _, c in self.shapes.values())

    def placements(self) -> list[Placement]:
        out, row = [], 0
        for name in PLANES:
            out.append(Placement(name, False, row, 0))
            row += self.shapes[name][0]
        return out


class DirectUnfold(Rollout):
    """Ablation: each plane cut into p x p patches, all patches side by side in a (p, N*p) strip.

    The DiT's 2D position embedding over a 1 x N patch grid is then a 1D embedding of the token index.
    """

    def _map_size(self) -> tuple[int, int]:
        p = self.patch
        for name, (r, c) in self.shapes.items():
            if r % p or c % p:
                raise ValueError(f"DirectUnfold: plane {name} ({r}x{c}) is not divisible by patch {p}.")
        return p, sum(r * c for r, c in self.shapes.values()) // p

    def roll(self, hexplane: HexPlane) -> torch.Tensor:
        self._check(hexplane)
        p = self.patch
        strips = [rearrange(t, "b c (i p) (j q) -> b c p (i j q)", p=p, q=p) for t in hexplane.planes()]
        return torch.cat(strips, dim=-1)

    def unroll(self, grid: torch.Tensor) -> HexPlane:
        self._check_map(grid)
        p, planes, col = self.patch, {}, 0
        for name in PLANES:
            r, c = self.shapes[name]
            strip = grid[..., col : col + r * c // p]
            planes[name] = rearrange(strip, "b c p (i j q) -> b c (i p) (j q)", i=r // p, q=p).contiguous()
            col += r * c // p
        return HexPlane.from_planes(planes)

    def pixel_mask(self) -> torch.Tensor:
        return torch.ones(self.height, self.width, dtype=torch.bool)


ROLLOUTS: dict[str, type[Rollout]] = {
    "padded": PaddedRollout,
    "vertical": VerticalConcat,
    "unfold": DirectUnfold,
}


LOSS_WEIGHTS = ("uniform", "plane")
"""How the denoising loss weighs the map's real positions (see `loss_weight`)."""


def loss_weight(rollout: Rollout, kind: str) -> torch.Tensor:
    """(H, W) weights of the denoising loss over the map, 0 on padding, mean 1 over the real positions.

    "uniform": every real position alike, so a plane counts by its size (xy dominates).
    "plane": every plane alike, each position weighted by 1 / (cells in its plane). Each voxel the VAE
    decodes reads one cell of every plane, so a cell's reach in the decoded volume is inversely proportional
    to its plane's size: a tz cell (4x4 of them in `synthtown-tiny`) sets a whole (X, Y) slab of one frame.
    """
    if kind not in LOSS_WEIGHTS:
        raise ValueError(f"loss weight must be one of {LOSS_WEIGHTS}, got {kind!r}.")
    mask = rollout.pixel_mask()
    if kind == "uniform":
        return mask.float()
    weight = per_plane(rollout, {name: 1.0 / (h * w) for name, (h, w) in rollout.shapes.items()})
    return weight / weight[mask].mean()


def per_plane(rollout: Rollout, values: dict[str, float]) -> torch.Tensor:
    """(H, W) map holding values[plane] on every real position of that plane (0 on padding and on planes
    not named)."""
    fill = {n: torch.full((1, 1, *shape), float(values.get(n, 0.0))) for n, shape in rollout.shapes.items()}
    return rollout.roll(HexPlane.from_planes(fill))[0, 0] * rollout.pixel_mask()


def build_rollout(kind: str, sizes: tuple[int, int, int, int], patch: int) -> Rollout:
    """The rollout named `kind` for HexPlane sizes (T', X', Y', Z') and patch size `patch`."""
    if kind not in ROLLOUTS:
        raise ValueError(f"unknown rollout {kind!r}; choose one of {', '.join(ROLLOUTS)}.")
    return ROLLOUTS[kind](sizes, patch)

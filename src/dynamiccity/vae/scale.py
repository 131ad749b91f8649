"""Scale equivariance of the decoder: a latent averaged over 2 x 2 cells in X and Y decodes to the scene
averaged the same way (Skorokhodov et al. 2025, "Improving the Diffusability of Autoencoders", carried
from images to HexPlanes).

Why: a latent whose detail sits in single cells (the one-pass SynthTown VAE's xy plane decodes at 0.37 mIoU
once each 2 x 2 block of it is averaged) is one a DiT, which forms a scene coarse to fine, learns last and
worst. Asking the decoder to draw the coarse scene from the coarse latent makes the latent's coarse part a
latent in its own right, so what it holds moves from cell-sized detail to the scales a DiT learns first.

Only X and Y are coarsened: the time planes keep their frames and Z its heights. The decoder must derive its
output grid from the planes it is given (the ESS decoder does; the query decoder samples at the full grid).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from dynamiccity.hexplane import HexPlane
from dynamiccity.vae.losses import IGNORE

# which of a plane's two axes are X or Y: (rows, cols) as `hexplane.plane_shapes` names them
_POOLED = {
    "xy": (True, True),
    "xz": (True, False),
    "yz": (True, False),
    "tx": (False, True),
    "ty": (False, True),
}


def coarsen(latent: HexPlane, factor: int = 2) -> HexPlane:
    """The latent with every run of `factor` cells along X and along Y averaged into one (tz unchanged)."""
    _, _, x, y, _ = latent.sizes
    if x % factor or y % factor:
        raise ValueError(f"a latent of {x} x {y} cells in X and Y does not split into blocks of {factor}.")
    planes = latent.as_dict()
    for name, (rows, cols) in _POOLED.items():
        kernel = (factor if rows else 1, factor if cols else 1)
        planes[name] = F.avg_pool2d(planes[name], kernel)
    return HexPlane.from_planes(planes)


def coarse_targets(
    labels: torch.Tensor, valid: torch.Tensor, classes: int, factor: int = 2
) -> tuple[torch.Tensor, torch.Tensor]:
    """labels, valid (B, T, X, Y, Z) -> the class shares (B, T, X / f, Y / f, Z, K) of the observed voxels
    of every f x f block in X and Y, and (B, T, X / f, Y / f, Z) bool: blocks holding any observed voxel."""
    b, t, x, y, z = labels.shape
    known = valid.bool() & (labels != IGNORE)
    onehot = F.one_hot(labels.long().clamp(0, classes - 1), classes).float() * known[..., None]
    blocks = onehot.reshape(b, t, x // factor, factor, y // factor, factor, z, classes).sum(dim=(3, 5))
    count = blocks.sum(-1)
    return blocks / count.clamp_min(1.0)[..., None], count > 0


def scale_equivariance_loss(
    coarse_logits: torch.Tensor,
    labels: torch.Tensor,
    valid: torch.Tensor,
    weights: torch.Tensor | None = None,
    factor: int = 2,
) -> torch.Tensor:
    """Class-weighted cross-entropy of the coarse latent's logits (B, T, X / f, Y / f, Z, K) against the
    class shares of each block of the labels (B, T, X, Y, Z), over blocks with an observed voxel."""
    k = coarse_logits.shape[-1]
    shares, keep = coarse_targets(labels, valid, k, factor)
    if tuple(shares.shape) != tuple(coarse_logits.shape):
        raise ValueError(
            f"coarse logits {tuple(coarse_logits.shape)} do not match the labels coarsened by {factor} "
            f"{tuple(shares.shape)}: the decoder must draw the grid of the planes it is given."
        )
    if not keep.any():
        return coarse_logits.sum() * 0.0
    return F.cross_entropy(coarse_logits[keep].float(), shares[keep], weight=weights)

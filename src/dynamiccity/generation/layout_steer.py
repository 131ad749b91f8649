"""Steering generation towards a requested layout through the VAE's decoder (`diffusion.steering`).

The layout condition tells the DiT where vehicles should be; how closely it follows depends on how much it
learned, and a small DiT learns it loosely. The decoder says exactly what a latent will look like, so the
sampler can be told at every step how far its estimate's vehicles are from the request: the objective is
one minus the soft IoU of the decoded vehicles' bird's-eye view (the vehicle probability, maximal over
height and over each layout cell, as `data.derive.bev_layout` pools labels) with the requested layout.
The layout is compared in the DiT's own frame, the one its layout condition is given in (a world-coordinate
DiT's world).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from dynamiccity.data.classes import VEHICLE
from dynamiccity.diffusion.steering import Steer
from dynamiccity.dit.conditions import Conditions


def vehicle_bev(logits: torch.Tensor, factor: int) -> torch.Tensor:
    """Decoder logits (B, T, X, Y, Z, K) -> the soft vehicle BEV (B, T, X/factor, Y/factor) in [0, 1]."""
    b, t, x, y = logits.shape[:4]
    column = logits.softmax(-1)[..., VEHICLE].amax(-1)
    return F.max_pool2d(column.reshape(b * t, 1, x, y), factor).reshape(b, t, x // factor, y // factor)


def soft_iou(soft: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-sample soft IoU (B,) of maps in [0, 1] (B, ...) with a target of the same shape; 1 when both are
    empty."""
    dims = tuple(range(1, soft.dim()))
    inter = (soft * target).sum(dims)
    union = (soft + target - soft * target).sum(dims)
    return torch.where(union > 0, inter / union.clamp_min(1e-12), torch.ones_like(union))


def layout_steer(
    decode: Callable[[torch.Tensor], torch.Tensor],
    factor: int,
    cond: Conditions | None,
    scale: float,
    iterations: int,
) -> Steer | None:
    """The steer towards `cond`'s layout (module docstring) of samples whose clean estimates `decode` turns
    into decoder logits (B, T, X, Y, Z, K) (`generation.sampling.decode_logits`), the layout pooled by
    `factor`; None when there is nothing to steer: scale 0, or no layout given. Samples whose layout is null
    are not steered."""
    if scale == 0 or cond is None or cond.layout is None:
        return None
    target = cond.layout.float()
    weight = (~cond.null["layout"]).float() if "layout" in cond.null else torch.ones(len(target))
    if not weight.any():
        return None

    def objective(x0: torch.Tensor) -> torch.Tensor:
        soft = vehicle_bev(decode(x0), factor)
        return (1 - soft_iou(soft, target.to(x0.device))) * weight.to(x0.device)

    return Steer(objective, scale, iterations)

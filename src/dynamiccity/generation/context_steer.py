"""Steering an edit towards its context through the VAE's decoder (`diffusion.steering`).

An edit keeps part of the latent and generates the rest (inpainting, outpainting, the strips ahead of a
forecast). Keeping the latent does not make the new part continue the old one: the decoder turns the
features on both sides of the edge into the voxels along it, and a new feature that does not fit the kept
ones shows as a road that stops at the seam. The decoder says exactly what the kept part looks like with
the new features beside it, so the sampler can be told at every step how far that is from the scene being
edited: the objective is the decoder's cross-entropy against the scene's voxels where it is kept, and the
steer moves only the features the edit generates. The kept voxels themselves are then what a road must
run on into the new part.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from dynamiccity.diffusion.steering import Steer


def context_steer(
    decode: Callable[[torch.Tensor], torch.Tensor],
    context: torch.Tensor,
    kept: torch.Tensor,
    region: torch.Tensor,
    scale: float,
    iterations: int,
) -> Steer | None:
    """The steer of an edit towards its context (module docstring), or None at scale 0.

    decode: clean estimates (B, C, H, W) -> decoder logits (B, T, X, Y, Z, K)
    (`generation.sampling.decode_logits`). context: the scene being edited, (T, X, Y, Z) or (B, T, X, Y, Z)
    class ids, as the edited window sees it. kept: where the context holds, broadcastable to (B, T, X, Y)
    columns (for example (X, Y)). region: where the latent is generated (1) and may move, broadcastable to
    the estimates (`Known.keep`'s complement)."""
    if scale == 0:
        return None
    target = context.long()
    weight = kept.float()
    if not weight.any():
        return None

    def objective(x0: torch.Tensor) -> torch.Tensor:
        logits = decode(x0)
        b, t, x, y = logits.shape[:4]
        labels = target.to(x0.device).expand(b, t, x, y, -1)
        loss = F.cross_entropy(logits.movedim(-1, 1), labels, reduction="none").mean(-1)  # (B, T, X, Y)
        w = weight.to(x0.device).expand(b, t, x, y)
        return (loss * w).flatten(1).sum(1) / w.flatten(1).sum(1).clamp_min(1)

    return Steer(objective, scale, iterations, region)

"""What the probes of this folder share: decoding a DiT's normalised HexPlanes and the mIoU between two windows."""

import numpy as np

from dynamiccity.hexplane import PLANES, HexPlane


def decode(dit, vae, z: HexPlane) -> np.ndarray:
    """Labels (N, T, X, Y, Z) uint8 of HexPlanes in `dit`'s normalised units, decoded by `vae` 8 at a time."""
    raw = dit.manifest.denormalise(z)
    parts = []
    for i in range(0, raw.xy.shape[0], 8):
        part = HexPlane.from_planes({p: getattr(raw, p)[i : i + 8] for p in PLANES})
        parts.append(vae.model.decode(part).argmax(-1).numpy().astype(np.uint8))
    return np.concatenate(parts)


def miou(a: np.ndarray, b: np.ndarray, classes: int = 12) -> float:
    """mIoU of a against b over the classes either holds, free left out."""
    ious = []
    for c in range(1, classes):
        x, y = a == c, b == c
        union = (x | y).sum()
        if union:
            ious.append((x & y).sum() / union)
    return float(np.mean(ious))

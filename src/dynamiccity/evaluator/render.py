"""The 2D render protocol of the evaluator: which views of a window, at which size, in which colours.

Scores are comparable only between runs with the same protocol, so it is fixed here and written beside
every trained evaluator (`protocol()`).
"""

from __future__ import annotations

import numpy as np

from dynamiccity.evaluator.config import HEADS, EvaluatorConfig


def render_window(labels: np.ndarray, cfg: EvaluatorConfig) -> tuple[np.ndarray, np.ndarray]:
    """labels (T, X, Y, Z) uint8 -> (bev (3 * len(bev_frames), X, Y) float32 in [0, 1], view (3, H, W)
    float32 in [0, 1]): the semantic-colour BEV of the protocol's frames (one pixel a voxel column), and
    the default 3D camera's view of the middle frame at `view_size` (W, H)."""
    from dynamiccity.viz import render_3d, render_bev

    bev = np.concatenate([render_bev(labels[t], scale=1) for t in cfg.bev_frames], axis=2)
    view = render_3d(labels[cfg.frames // 2], size=cfg.view_size)
    return (
        bev.transpose(2, 0, 1).astype(np.float32) / 255.0,
        view.transpose(2, 0, 1).astype(np.float32) / 255.0,
    )


def protocol(cfg: EvaluatorConfig) -> dict:
    """What a score computed with this evaluator depends on, for the record beside its weights."""
    return {
        "window": {"frames": cfg.frames, "grid": list(cfg.grid), "stride": "T (windows side by side)"},
        "views_2d": {
            "bev": {
                "frames": list(cfg.bev_frames),
                "pixels_per_voxel": 1,
                "colormap": "dynamiccity.data.COLORMAP",
            },
            "3d": {
                "frame": cfg.frames // 2,
                "size_wh": list(cfg.view_size),
                "camera": "viz.Camera() default",
            },
        },
        "features": cfg.feature_dims,
        "change_3d": cfg.change3d,
        "heads": {h: list(HEADS[h]) for h in cfg.heads},
    }

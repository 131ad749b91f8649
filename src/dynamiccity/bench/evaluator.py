"""`dynamiccity bench evaluator`: seconds to score a set of scenes with both extractors and every metric."""

from __future__ import annotations

import time

import numpy as np
import torch

from dynamiccity.evaluator import Evaluator, EvaluatorConfig


def synthtown_windows(count: int, cfg: EvaluatorConfig, seed: int = 0) -> np.ndarray:
    """(count, T, X, Y, Z) SynthTown windows at the evaluator's grid (0.4 m voxels)."""
    from dynamiccity.synthtown import generate_scene
    from dynamiccity.synthtown.dataset import scene_seed, synth_grid

    x, y, _ = cfg.grid
    grid = synth_grid(cfg.grid, (-0.2 * x, -0.2 * y, -2.0, 0.2 * x, 0.2 * y, 1.0))
    return np.stack(
        [generate_scene(seed=scene_seed(seed, i), frames=cfg.frames, grid=grid).labels for i in range(count)]
    )


def measure(scenes: int = 256, device: str = "cpu") -> dict:
    """Time `eval-gen`'s work on `scenes` generated against `scenes` real windows of 16x64x64x8: rendering,
    both extractors and every metric (the evaluator's weights do not change the cost)."""
    from dynamiccity.evaluation.generation import features, scores

    torch.manual_seed(0)
    cfg = EvaluatorConfig()
    model = Evaluator(cfg).to(device)
    real, fake = synthtown_windows(scenes, cfg, seed=1), synthtown_windows(scenes, cfg, seed=2)
    start = time.perf_counter()
    real_f = features(model, real, torch.device(device))
    fake_f = features(model, fake, torch.device(device))
    extract = time.perf_counter() - start
    result = scores(real_f, fake_f)
    total = time.perf_counter() - start
    return {
        "scenes": scenes,
        "window": [cfg.frames, *cfg.grid],
        "device": device,
        "threads": torch.get_num_threads(),
        "features_s": extract,
        "metrics_s": total - extract,
        "total_s": total,
        "fid_3d_untrained": result["3d"]["fid"],
    }

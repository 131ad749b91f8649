"""`dynamiccity reconstruct`: windows through a trained VAE, written as scenes with side-by-side GIFs."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dynamiccity.data import Scene, write_synthtown
from dynamiccity.device import pick_device
from dynamiccity.runs.datasets import DataSpec
from dynamiccity.runs.loading import load_vae
from dynamiccity.runs.vae import encoding_of
from dynamiccity.runs.validation import reconstructions, shown_windows
from dynamiccity.vae.refine import Refinement


def reconstruct(
    run_dir: str | Path,
    data: DataSpec,
    out: str | Path,
    split: str = "val",
    max_windows: int | None = 8,
    gifs: bool = True,
    device: str | None = None,
    refine: Refinement | None = None,
) -> int:
    """Reconstruct the first `max_windows` windows of `split` (stride T unless `data` sets one), encoded as
    the VAE encodes by default (`VAERunConfig.encoding`) unless `refine` says otherwise (`vae.refine`); write them as a SynthTown dataset plus
    GIFs of input (left) and reconstruction (right), in ego coordinates (a VAE of world coordinates' shown
    back along each window's ego path: `runs.validation.reconstructions`). Returns how many."""
    from dynamiccity.viz import render_3d, save_animation, tile_images

    device = pick_device(device)
    vae = load_vae(run_dir, device=device)
    model, cfg = vae.model, vae.model.cfg
    windows = shown_windows(vae, data, split)
    refine = encoding_of(vae.config, refine)
    common = windows.reader.classes.common  # the scenes written and drawn are in the common class set
    indices = list(range(len(windows) if max_windows is None else min(max_windows, len(windows))))
    pairs = []
    for i, (w, pred) in zip(
        indices,
        reconstructions(model, windows, indices, device, refine, vae.config.data.coordinates),
        strict=True,
    ):
        recon, labels = common(pred.numpy().astype(np.uint8)), common(w.labels)
        name = f"{windows.scenes[w.scene].name.replace('/', '_')}_t{w.start:04d}"
        pairs.append((Scene(recon, w.poses, None, name=name, meta={"source_window": i}), "recon"))
        if gifs:
            frames = [
                tile_images(
                    [render_3d(labels[t], w.valid[t]), render_3d(recon[t])], captions=["input", "VAE"]
                )
                for t in range(cfg.frames)
            ]
            save_animation(frames, Path(out) / "gifs" / f"{name}.gif", fps=5)
    write_synthtown(out, pairs, windows.grid)
    return len(pairs)

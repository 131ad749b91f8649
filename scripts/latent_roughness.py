"""Per-plane roughness of a DiT's sampled HexPlanes against the latents it was trained on.

    python scripts/latent_roughness.py --dit runs/dit-s1 --num 4 dpmpp-20 ddim-50 ddpm-1000

Roughness of a plane: the mean squared difference between neighbouring cells along both of its axes, in
the normalised latent space the DiT works in. Samples rougher than the data carry noise the sampler left
behind; the decoder's Hadamard product turns it into clutter (spatial planes) and flicker (time planes).
"""

from __future__ import annotations

import argparse
import time

import torch

from dynamiccity.data.errors import DataError
from dynamiccity.diffusion.process import Diffusion
from dynamiccity.hexplane import PLANES
from dynamiccity.pipeline import LatentSet, load_dit


def roughness(plane: torch.Tensor) -> float:
    """plane (..., U, V) -> mean of the squared neighbour differences along U and along V."""
    du = (plane[..., 1:, :] - plane[..., :-1, :]).square().mean()
    dv = (plane[..., :, 1:] - plane[..., :, :-1]).square().mean()
    return float(du + dv) / 2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dit", required=True)
    parser.add_argument("--num", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("samplers", nargs="+", help="NAME-STEPS")
    args = parser.parse_args()
    trained = load_dit(args.dit)
    dit, cfg = trained.model, trained.config
    data = LatentSet(cfg.latents)
    diffusion = Diffusion(cfg.diffusion)
    shape = (args.num, cfg.model.latent_channels, dit.rollout.height, dit.rollout.width)
    print(f"{'data':12s}", " ".join(f"{n} {roughness(data.planes[n]):.3f}" for n in PLANES))
    for spec in args.samplers:
        name, steps = spec.split("-")
        start = time.perf_counter()
        grid = diffusion.sample(
            dit, shape, name, int(steps), torch.Generator().manual_seed(args.seed), dit.pixel_mask
        )
        planes = dit.unroll(grid)
        rough = " ".join(f"{n} {roughness(getattr(planes, n)):.3f}" for n in PLANES)
        print(f"{spec:12s}", rough, f"({time.perf_counter() - start:.0f} s)", flush=True)


if __name__ == "__main__":
    try:
        main()
    except (DataError, FileNotFoundError, ValueError) as error:  # bad input: one line, as the CLI says it
        raise SystemExit(f"error: {error}") from None

"""A micro VAE and a conditional DiT shared by the sampling and editing tests of this folder."""

from __future__ import annotations

import pytest

from tests.conftest import TINY_VAE, cli

DIT_SET = ["--set", "ema=0.9", "--set", "ckpt_every=2", "--set", "eval_every=2", "--set", "val_windows=2"]


@pytest.fixture(scope="session")
def runs(tmp_path_factory):
    """A micro VAE and a DiT trained with every condition on 10-frame scenes (so windows have previous
    windows)."""
    from dynamiccity.synthtown.dataset import synthesize

    root = tmp_path_factory.mktemp("conditional")
    synthesize(root / "town", scenes=3, frames=10, grid=(16, 16, 4), seed=5, val_fraction=0.34)
    cli("train-vae", "--preset", "synthtown-micro", "--data", root / "town", "--format", "synthtown",
        "--out", root / "vae", "--steps", "2", *TINY_VAE)  # fmt: skip
    cli("encode", root / "vae", "--data", root / "town", "--format", "synthtown", "--out", root / "lat",
        "--device", "cpu")  # fmt: skip
    cli("train-dit", "--preset", "synthtown-micro", "--latents", root / "lat", "--out", root / "dit",
        "--steps", "2", *DIT_SET)  # fmt: skip
    return root


def world_dit(runs, root, coordinates: str):
    """The shared micro VAE's latents encoded in world `coordinates` (world or centred) under `root`, and a
    DiT trained on them for 2 steps; returns root."""
    cli("encode", runs / "vae", "--data", runs / "town", "--format", "synthtown", "--out", root / "lat",
        "--device", "cpu", "--coordinates", coordinates)  # fmt: skip
    cli("train-dit", "--preset", "synthtown-micro", "--latents", root / "lat", "--out", root / "dit",
        "--steps", "2", *DIT_SET)  # fmt: skip
    return root

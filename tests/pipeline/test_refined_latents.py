"""A latent set encoded with refinement (`encode --refine`): the manifest says how, and every later encoding
for a DiT trained on it (conditions, inpainting, forecasting: `encode_map`) is refined the same way."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch
from safetensors.torch import load_file

from dynamiccity.generation.conditioning import encode_map
from dynamiccity.generation.sampling import load_pair
from dynamiccity.pipeline import read_manifest
from dynamiccity.vae.refine import Refinement, refine_latent
from tests.conftest import cli
from tests.pipeline.conftest import DIT_SET


def test_refined_latents_are_recorded_and_reused(runs, tmp_path):
    cli("encode", runs / "vae", "--data", runs / "town", "--format", "synthtown", "--out", tmp_path / "lat",
        "--refine", "3", "--refine-lr", "0.1")  # fmt: skip
    manifest = read_manifest(tmp_path / "lat")
    assert manifest.refinement() == Refinement(steps=3, lr=0.1)
    assert read_manifest(runs / "lat").refinement() is None
    before_bins = {key: value for key, value in manifest.refine.items() if key != "lovasz_bins"}
    assert replace(manifest, refine=before_bins).refinement().lovasz_bins is None  # sorted exactly then
    plain = load_file(str(runs / "lat" / read_manifest(runs / "lat").shards[0]))
    refined = load_file(str(tmp_path / "lat" / manifest.shards[0]))
    assert plain["xy"].shape == refined["xy"].shape and not torch.allclose(plain["xy"], refined["xy"])
    assert torch.equal(plain["command"], refined["command"])

    cli("train-dit", "--preset", "synthtown-micro", "--latents", tmp_path / "lat", "--out", tmp_path / "dit",
        "--steps", "1", *DIT_SET)  # fmt: skip
    dit, vae = load_pair(tmp_path / "dit", runs / "vae", torch.device("cpu"))
    labels = np.random.default_rng(0).integers(0, 12, size=(vae.model.cfg.frames, 16, 16, 4)).astype(np.uint8)
    tensor = torch.from_numpy(labels)[None]
    expected = refine_latent(vae.model, tensor, spec=manifest.refinement()).map(dit.manifest.normalise)
    got = encode_map((dit, vae), labels)
    torch.testing.assert_close(got, dit.model.rollout.roll(expected))
    unrefined = dit.model.rollout.roll(vae.model.encode(tensor).map(dit.manifest.normalise))
    assert not torch.allclose(got, unrefined)

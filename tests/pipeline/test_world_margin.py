"""A DiT on the latents of a VAE whose centred world windows are laid on a widened grid (data.world_margin):
latents of the wider world, scenes drawn on it and shown on the recorded grid along the ego path, conditions,
forecasts, edits and cities on the DiT's own grid."""

from __future__ import annotations

import json

import numpy as np
import pytest

from dynamiccity.data.classes import FREE
from tests.conftest import TINY_VAE, cli
from tests.pipeline.conftest import DIT_SET
from tests.pipeline.test_world_coordinates import sample as world_sample

MARGIN = 2  # voxels a side: the 16 x 16 x 4 town on a 20 x 20 x 4 world grid


@pytest.fixture(scope="module")
def wide(runs, tmp_path_factory):
    root = tmp_path_factory.mktemp("margin")
    cli("train-vae", "--preset", "synthtown-micro", "--data", runs / "town", "--format", "synthtown", "--out",
        root / "vae", "--steps", "2", *TINY_VAE, "--set", "grid=[20,20,4]", "--set", "data.coordinates=centred",
        "--set", f"data.world_margin={MARGIN}")  # fmt: skip
    cli("encode", root / "vae", "--data", runs / "town", "--format", "synthtown", "--out", root / "lat",
        "--device", "cpu")  # fmt: skip
    cli("train-dit", "--preset", "synthtown-micro", "--latents", root / "lat", "--out", root / "dit",
        "--steps", "2", *DIT_SET)  # fmt: skip
    return root


def sample(runs, wide, out, *extra):
    return world_sample(runs, wide, out, *extra, vae=wide / "vae")


def test_latents_hold_the_wider_world_and_the_first_frame_on_it(runs, wide):
    import torch

    from dynamiccity.data.egoframe import anchored, held, to_world
    from dynamiccity.pipeline import load_vae
    from dynamiccity.runs.datasets import DataSpec, open_windows
    from dynamiccity.runs.latents import FRAME, LatentSet

    latents = LatentSet(wide / "lat")
    manifest = latents.manifest
    assert manifest.world_margin == MARGIN and manifest.grid.shape == (16, 16, 4)
    assert manifest.world_grid.shape == (20, 20, 4) and latents.conditions["layout"].shape[2:] == (10, 10)
    windows = open_windows(DataSpec(str(runs / "town"), "synthtown"), 4)
    view, world = windows.grid, manifest.world_grid
    model, window = load_vae(wide / "vae", device="cpu").model.eval(), windows[1]
    still = to_world(
        window.labels, anchored(window.trajectory, 2), view.extent, True, (world.shape, world.extent)
    )
    first = held(window.labels[0], 4, (view.shape, view.extent), (world.shape, world.extent))
    assert (first[:, :MARGIN] == FREE).all() and np.array_equal(
        first[:, MARGIN:-MARGIN, MARGIN:-MARGIN], [window.labels[0]] * 4
    )
    with torch.no_grad():
        for prefix, labels in {"": still, FRAME: first}.items():
            for name, plane in model.encode(torch.from_numpy(labels)[None]).as_dict().items():
                stored = latents[1][prefix + name]
                torch.testing.assert_close(stored, manifest.normalise(plane)[0], rtol=1e-4, atol=1e-4)


def test_scenes_are_drawn_on_the_wider_world_and_shown_on_the_recorded_grid(runs, wide, tmp_path):
    from dynamiccity.data.egoframe import anchored, to_ego, with_heading
    from dynamiccity.runs.latents import read_manifest

    path = np.stack([np.arange(4.0) * 3.6, np.zeros(4)], axis=1)  # 3.6 m a frame, 1.125 voxels
    np.save(tmp_path / "traj.npy", path)
    scenes, facts = sample(runs, wide, tmp_path / "bare", "--trajectory", tmp_path / "traj.npy", "--no-ahead")
    assert scenes.shape == (2, 4, 16, 16, 4) and facts["coordinates"] == "centred"
    world = read_manifest(wide / "lat").world_grid
    view = read_manifest(wide / "lat").grid
    _, unseen = to_ego(np.zeros((4, 20, 20, 4), np.uint8), anchored(with_heading(path), 2), world.extent,
                       (view.shape, view.extent))  # fmt: skip
    assert not unseen.any()  # the margin holds what the ego sees behind and ahead of the middle frame
    assert facts["unseen_share"] == 0
    ahead, _ = sample(runs, wide, tmp_path / "ahead", "--trajectory", tmp_path / "traj.npy")
    assert np.array_equal(ahead, scenes)  # nothing left beyond the world to outpaint
    grown, facts = sample(runs, wide, tmp_path / "grown", "--extend", "7", "--single-frame", "scene_0000:3",
                          "--layout-from", "scene_0001", "--command", "forward")  # fmt: skip
    assert grown.shape == (2, 7, 16, 16, 4)


def test_forecasts_edits_and_cities_work_on_the_dits_grid(runs, wide, tmp_path):
    out = tmp_path / "f.json"
    cli("eval-forecast", "--dit", wide / "dit", "--vae", wide / "vae", "--data", runs / "town", "--steps", "2",
        "--device", "cpu", "--json", out, "--with-trajectory")  # fmt: skip
    assert json.loads(out.read_text())["windows"] == 3
    scenes, facts = sample(runs, wide, tmp_path / "in", "--inpaint", "scene_0000", "--mask", "0:5,0:5")
    assert facts["coordinates"] == "centred" and scenes.shape == (2, 4, 20, 20, 4)  # a still world, as drawn
    cli("city", "--dit", wide / "dit", "--vae", wide / "vae", "--size", "30", "20", "--frames", "4",
        "--out", tmp_path / "city", "--steps", "2", "--device", "cpu", "--data", runs / "town",
        "--condition-scene", "scene_0000")  # fmt: skip
    assert np.load(tmp_path / "city" / "city" / "labels.npy").shape == (4, 30, 20, 4)

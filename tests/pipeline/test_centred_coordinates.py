"""A DiT of latents in centred world coordinates: each window seen from its middle frame's ego, what it
generates shown back along the ego path from there, scenes grown window by window from where each window is
seen from, forecasts and edits in the same frame."""

from __future__ import annotations

import json

import numpy as np
import pytest

from dynamiccity.data.classes import FREE
from tests.conftest import cli
from tests.pipeline.conftest import world_dit
from tests.pipeline.test_world_coordinates import sample


@pytest.fixture(scope="module")
def world(runs, tmp_path_factory):
    return world_dit(runs, tmp_path_factory.mktemp("centred"), "centred")


def test_centred_latents_are_windows_seen_from_their_middle_frame(runs, world):
    import torch

    from dynamiccity.data.egoframe import anchored, path_in, to_world
    from dynamiccity.pipeline import load_vae
    from dynamiccity.runs.datasets import DataSpec, open_windows
    from dynamiccity.runs.latents import FRAME, PREVIOUS, LatentSet, read_manifest

    assert read_manifest(world / "lat").coordinates == "centred"
    windows, latents = open_windows(DataSpec(str(runs / "town"), "synthtown"), 4), LatentSet(world / "lat")
    model, extent = load_vae(runs / "vae", device="cpu").model.eval(), windows.grid.extent
    i = next(i for i in range(len(windows)) if windows.previous(i) is not None)
    window, before = windows[i], windows[windows.previous(i)]
    still = to_world(window.labels, anchored(window.trajectory, 2), extent, fill_back=True)
    held = np.repeat(window.labels[:1], 4, axis=0)  # the first frame as its ego saw it, as a user gives one
    past = to_world(before.labels, path_in(before.poses, window.poses[2]), extent)
    with torch.no_grad():
        expected = {"": still, FRAME: held, PREVIOUS: past}
        for prefix, labels in expected.items():
            planes = model.encode(torch.from_numpy(labels)[None]).as_dict()
            for name, plane in planes.items():
                stored = latents[i][prefix + name]  # in the DiT's units
                torch.testing.assert_close(stored, latents.manifest.normalise(plane)[0], rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(latents.conditions["trajectory"][i].numpy(), window.trajectory)


def test_a_centred_world_is_shown_from_its_middle_frame_along_the_path(runs, world, tmp_path):
    from dynamiccity.data.egoframe import anchored, to_ego, with_heading
    from dynamiccity.runs.latents import read_manifest

    # 3.6 m a frame, 1.125 voxels of 3.2 m: no voxel centre lands on a cell's edge, where nearest-neighbour
    # reading would tie and rounding decide
    path = np.stack([np.arange(4.0) * 3.6, np.zeros(4)], axis=1)
    np.save(tmp_path / "traj.npy", path)
    scenes, facts = sample(
        runs, world, tmp_path / "bare", "--trajectory", tmp_path / "traj.npy", "--no-ahead"
    )
    assert scenes.shape == (2, 4, 16, 16, 4) and facts["coordinates"] == "centred"
    extent = read_manifest(world / "lat").grid.extent
    _, unseen = to_ego(np.zeros((4, 16, 16, 4), np.uint8), anchored(with_heading(path), 2), extent)
    assert unseen[0, :2].all() and unseen[3, -1:].all() and not unseen[2].any()  # behind, then ahead
    assert (scenes[:, unseen] == FREE).all()
    assert facts["unseen_share"] == pytest.approx(unseen.mean())
    ahead, facts = sample(runs, world, tmp_path / "ahead", "--trajectory", tmp_path / "traj.npy")
    assert set(facts["outpainted_ahead"][0]) == {"+x", "-x"}  # both ends: the middle frame's world
    assert np.array_equal(ahead[:, ~unseen], scenes[:, ~unseen])


def test_a_centred_dit_grows_scenes_window_by_window(runs, world, tmp_path):
    from dynamiccity.data.egoframe import chained_poses

    scenes, facts = sample(runs, world, tmp_path / "out", "--extend", "7")
    assert scenes.shape == (2, 7, 16, 16, 4) and np.array(facts["ego_paths"]).shape == (2, 2, 4, 3)
    poses = np.load(tmp_path / "out" / "sample_0001" / "poses.npy")
    assert np.allclose(poses, chained_poses(np.array(facts["ego_paths"][1]))[:7], atol=1e-5)
    again, _ = sample(runs, world, tmp_path / "again", "--extend", "7")
    assert np.array_equal(scenes, again)


def test_a_centred_dit_forecasts_and_edits_in_its_frame(runs, world, tmp_path):
    out = tmp_path / "f.json"
    cli("eval-forecast", "--dit", world / "dit", "--vae", runs / "vae", "--data", runs / "town", "--steps", "2",
        "--device", "cpu", "--json", out, "--with-trajectory")  # fmt: skip
    result = json.loads(out.read_text())
    assert result["coordinates"] == "centred" and result["windows"] == 3
    scenes, facts = sample(runs, world, tmp_path / "in", "--inpaint", "scene_0000", "--mask", "0:4,0:4")
    assert facts["coordinates"] == "centred" and scenes.shape == (2, 4, 16, 16, 4)

"""A DiT of world-coordinate latents: windows encoded from their first frame's ego, the training paths kept
with the run, generated windows shown along the requested or a drawn ego path, scenes edited and cities grown
as still worlds, and what it cannot do refused in one line."""

from __future__ import annotations

import json

import numpy as np
import pytest

from dynamiccity.data.classes import FREE
from tests.conftest import cli
from tests.pipeline.conftest import DIT_SET, world_dit


@pytest.fixture(scope="module")
def world(runs, tmp_path_factory):
    return world_dit(runs, tmp_path_factory.mktemp("world"), "world")


def sample(runs, world, out, *extra, vae=None):
    """Two scenes of the DiT in `world` with the shared VAE (or `vae`), and the facts `sample` wrote."""
    cli("sample", "--dit", world / "dit", "--vae", vae or runs / "vae", "--num", "2", "--out", out, "--steps", "2",
        "--batch", "2", "--no-gifs", "--device", "cpu", "--data", runs / "town", *extra)  # fmt: skip
    scenes = np.stack([np.load(out / f"sample_{i:04d}" / "labels.npy") for i in range(2)])
    return scenes, json.loads((out / "sample.json").read_text())


def test_world_latents_are_still_windows_with_the_data_paths(runs, world):
    from dynamiccity.data.derive import bev_layout
    from dynamiccity.data.egoframe import to_world
    from dynamiccity.runs.datasets import DataSpec, open_windows
    from dynamiccity.runs.latents import LatentSet, read_manifest

    assert read_manifest(world / "lat").coordinates == "world"
    assert read_manifest(runs / "lat").coordinates == "ego"
    windows = open_windows(DataSpec(str(runs / "town"), "synthtown"), 4)
    latents = LatentSet(world / "lat")
    first = windows[0]
    assert np.allclose(latents.conditions["trajectory"][0].numpy(), first.trajectory)
    still = to_world(first.labels, first.trajectory, windows.grid.extent)
    factor = read_manifest(world / "lat").layout_factor
    assert np.array_equal(latents.conditions["layout"][0].numpy().astype(bool), bev_layout(still, factor))
    assert not np.array_equal(still, first.labels)  # the ego drives in this window
    stored = [i for i in range(len(latents)) if latents[i]["has_previous"]]
    assert stored == [i for i in range(len(windows)) if windows.previous(i) is not None]
    assert latents.manifest.previous_planes and not LatentSet(runs / "lat").manifest.previous_planes
    paths = json.loads((world / "dit" / "ego_paths.json").read_text())
    assert np.array(paths["paths"]).shape == (len(latents) - _held_out(latents), 4, 3)


def _held_out(latents) -> int:
    """Windows of the 'val' scenes, which the training paths leave out."""
    splits = [latents.manifest.scenes[int(s)]["split"] for s in latents.conditions["scene"]]
    return sum(s == "val" for s in splits)


def test_a_requested_trajectory_is_the_path_the_world_is_shown_along(runs, world, tmp_path):
    path = np.stack([np.arange(4.0) * 4.0, np.zeros(4)], axis=1)  # 4 m a frame: 1.25 voxels of 3.2 m
    np.save(tmp_path / "traj.npy", path)
    scenes, facts = sample(
        runs, world, tmp_path / "bare", "--trajectory", tmp_path / "traj.npy", "--no-ahead"
    )
    assert scenes.shape == (2, 4, 16, 16, 4) and facts["coordinates"] == "world"
    used = np.array(facts["ego_paths"])  # (num, windows, T, 3)
    assert used.shape == (2, 1, 4, 3) and np.allclose(used[..., :2], path) and np.allclose(used[..., 2], 0)
    assert (scenes[:, 3, -3:] == FREE).all()  # 12 m ahead of frame 0's world: never drawn, free
    poses = np.load(tmp_path / "bare" / "sample_0000" / "poses.npy")  # the scene says where its ego drove
    assert np.allclose(poses[:, 0, 3], path[:, 0]) and np.allclose(poses[:, :3, :3], np.eye(3), atol=1e-6)
    assert 0 < facts["unseen_share"] < 0.2
    # outpainted ahead (the default): the strip the path looks into is drawn, the rest is the same world
    ahead, facts = sample(runs, world, tmp_path / "ahead", "--trajectory", tmp_path / "traj.npy")
    assert facts["unseen_share"] == 0 and facts["outpainted_ahead"] == [{"+x": 4}]  # 3.75 voxels: 2 cells
    assert not (ahead[:, 3, -3:] == FREE).all()
    from dynamiccity.data.egoframe import to_ego, with_heading
    from dynamiccity.runs.latents import read_manifest

    extent = read_manifest(world / "lat").grid.extent
    _, unseen = to_ego(np.zeros((4, 16, 16, 4), np.uint8), with_heading(path), extent)
    assert np.array_equal(ahead[:, ~unseen], scenes[:, ~unseen]) and unseen.any()


def test_a_command_draws_a_training_path_and_scenes_grow(runs, world, tmp_path):
    scenes, facts = sample(runs, world, tmp_path / "out", "--extend", "7")
    assert scenes.shape == (2, 7, 16, 16, 4) and np.array(facts["ego_paths"]).shape == (2, 2, 4, 3)
    from dynamiccity.data.egoframe import chained_poses

    poses = np.load(tmp_path / "out" / "sample_0001" / "poses.npy")
    assert np.allclose(poses, chained_poses(np.array(facts["ego_paths"][1]))[:7], atol=1e-5)
    training = np.array(json.loads((world / "dit" / "ego_paths.json").read_text())["paths"])
    used = np.array(facts["ego_paths"]).reshape(-1, 4, 3)
    assert all(np.isclose(training, p, atol=1e-3).all((1, 2)).any() for p in used)
    again, facts_again = sample(runs, world, tmp_path / "again", "--extend", "7")
    assert np.array_equal(scenes, again) and facts["ego_paths"] == facts_again["ego_paths"]


def test_a_requested_command_draws_paths_of_that_command(runs, world):
    from dynamiccity.data.derive import Command
    from dynamiccity.pipeline import ConditionRequest, SampleSpec, generate

    training = json.loads((world / "dit" / "ego_paths.json").read_text())
    commands = np.array(training["commands"])
    common = int(np.bincount(commands).argmax())
    request = ConditionRequest(command=Command(common).name.lower())
    _, facts = generate(world / "dit", runs / "vae", 3, SampleSpec("ddim", 2, batch=3), "cpu", request)
    pool = np.array(training["paths"])[commands == common]
    used = np.array(facts["ego_paths"]).reshape(-1, 4, 3)
    assert all(np.isclose(pool, p, atol=1e-3).all((1, 2)).any() for p in used)


def test_a_world_dit_grows_a_real_scene_along_its_real_path(runs, world, tmp_path):
    from dynamiccity.data.derive import ego_trajectory
    from dynamiccity.runs.datasets import DataSpec, open_windows

    scenes, facts = sample(
        runs, world, tmp_path / "grown", "--condition-scene", "scene_0000", "--extend", "10"
    )
    assert scenes.shape == (2, 10, 16, 16, 4) and facts["coordinates"] == "world"
    real = ego_trajectory(open_windows(DataSpec(str(runs / "town"), "synthtown"), 4)[0].poses)
    paths = np.array(facts["ego_paths"])  # (num, windows, T, 3): the real path first, then drawn ones
    assert paths.shape == (2, 3, 4, 3)
    np.testing.assert_allclose(paths[:, 0], np.broadcast_to(real, (2, 4, 3)), atol=1e-4)
    assert not np.allclose(paths[0, 1], real, atol=1e-4)
    training = np.array(json.loads((world / "dit" / "ego_paths.json").read_text())["paths"])
    assert all(np.isclose(training, p, atol=1e-3).all((1, 2)).any() for p in paths[:, 1:].reshape(-1, 4, 3))


def _world_window(runs) -> np.ndarray:
    """scene_0000's first window seen from its first frame throughout."""
    from dynamiccity.data.derive import ego_trajectory
    from dynamiccity.data.egoframe import to_world
    from dynamiccity.runs.datasets import DataSpec, open_windows

    windows = open_windows(DataSpec(str(runs / "town"), "synthtown"), 4)
    first = windows[0]
    return to_world(first.labels, ego_trajectory(first.poses), windows.grid.extent)


def _reconstruction(runs, labels: np.ndarray) -> np.ndarray:
    import torch

    from dynamiccity.pipeline import load_vae

    vae = load_vae(runs / "vae", device="cpu").model
    with torch.no_grad():
        return vae.decode(vae.encode(torch.from_numpy(labels)[None])).argmax(-1)[0].numpy()


def test_a_world_dit_edits_the_window_seen_from_its_first_frame(runs, world, tmp_path):
    still = _world_window(runs)
    scenes, facts = sample(runs, world, tmp_path / "in", "--inpaint", "scene_0000", "--mask", "0:4,0:4")
    assert facts["coordinates"] == "world" and scenes.shape == (2, *still.shape)
    far = scenes[:, :, 10:, 10:] == _reconstruction(runs, still)[None, :, 10:, 10:]
    assert far.mean() >= 0.99  # the window kept is the still one, not the ego's
    scenes, facts = sample(runs, world, tmp_path / "out", "--outpaint", "scene_0000", "--direction", "+x")
    assert facts["coordinates"] == "world" and scenes.shape == (2, 4, 24, 16, 4)
    np.testing.assert_array_equal(scenes[:, :, :16], np.broadcast_to(still, (2, *still.shape)))
    poses = np.load(tmp_path / "out" / "sample_0000" / "poses.npy")
    np.testing.assert_array_equal(poses, np.broadcast_to(np.eye(4), poses.shape))  # seen from one pose


def test_a_world_dit_grows_a_city_from_a_real_window(runs, world, tmp_path):
    cli("city", "--dit", world / "dit", "--vae", runs / "vae", "--size", "24", "16", "--frames", "8",
        "--out", tmp_path / "city", "--steps", "2", "--device", "cpu", "--data", runs / "town",
        "--condition-scene", "scene_0000")  # fmt: skip
    labels = np.load(tmp_path / "city" / "city" / "labels.npy")
    assert labels.shape == (8, 24, 16, 4)
    np.testing.assert_array_equal(labels[:4, :16], _world_window(runs))
    facts = json.loads((tmp_path / "city" / "city.json").read_text())
    assert facts["coordinates"] == "world" and facts["windows"] == 2


def test_the_previous_window_is_placed_only_where_it_lies_on_the_map(runs, world, tmp_path, capsys):
    from dynamiccity.runs.loading import load_dit

    placed = ["--set", "placed=[previous,frame]"]
    cli("train-dit", "--preset", "synthtown-micro", "--latents", world / "lat", "--out", tmp_path / "dit",
        "--steps", "1", *DIT_SET, *placed)  # fmt: skip
    assert load_dit(tmp_path / "dit", "last").model.conditions.placed == ("previous", "frame")
    with pytest.raises(SystemExit):
        cli("train-dit", "--preset", "synthtown-micro", "--latents", runs / "lat", "--out", tmp_path / "ego",
            "--steps", "1", *DIT_SET, *placed)  # fmt: skip
    err = capsys.readouterr().err.replace("\n", " ")
    assert "a placed previous window needs latents in world coordinates" in err
    assert not (tmp_path / "ego").exists()


@pytest.mark.parametrize("known_path", [False, True])
def test_a_world_dit_forecasts_along_the_future_path(runs, world, tmp_path, known_path):
    out = tmp_path / "f.json"
    cli("eval-forecast", "--dit", world / "dit", "--vae", runs / "vae", "--data", runs / "town", "--steps", "2",
        "--device", "cpu", "--json", out, *(["--with-trajectory"] if known_path else []))  # fmt: skip
    result = json.loads(out.read_text())
    assert result["coordinates"] == "world" and result["with_trajectory"] == known_path
    assert result["frames"] == 4 and result["windows"] == 3
    names = ("dit", "dit_observed", "copy_last", "ego_copy_last", "aligned_copy")
    assert all(len(result["scores"][n]["miou"]) == 4 for n in names)


def test_voted_forecasts_differ_from_one_draw_and_keep_the_baselines(runs, world, tmp_path, monkeypatch):
    """K votes: each voxel is the most frequent class of K draws (the lowest on a tie), the first draw being
    the one-draw forecast; a quorum of K: free wherever a draw disagrees; a context steer of the options'
    size brings what is drawn closer to the world the past saw. The baselines stay as they were."""
    import torch
    from scipy import stats

    from dynamiccity.data import open_dataset
    from dynamiccity.evaluation import forecast as module
    from dynamiccity.metrics.forecast import PerFrameScores

    calls: dict[str, list] = {}

    def spy(name: str) -> None:
        """Record the arguments and the result of every call of the forecast module's `name`."""
        real = getattr(module, name)

        def recorded(*args, **kwargs):
            result = real(*args, **kwargs)
            calls.setdefault(name, []).append((args, result))
            return result

        monkeypatch.setattr(module, name, recorded)

    for name in ("voted", "context_steer", "sample_maps"):
        spy(name)

    def forecast(name, *extra):
        calls.clear()
        cli("eval-forecast", "--dit", world / "dit", "--vae", runs / "vae", "--data", runs / "town", "--steps",
            "2", "--device", "cpu", "--json", tmp_path / name, "--with-trajectory", *extra)  # fmt: skip
        return json.loads((tmp_path / name).read_text()), dict(calls)

    pairs = open_dataset(runs / "town", "synthtown", frames=8, stride=4)  # the 3 (past, future) pairs

    def scored(forecasts) -> dict:
        scores = PerFrameScores(4, 12)
        for i, predicted in enumerate(forecasts):
            scores.update(predicted, pairs[i].labels[4:])
        return scores.compute()

    def overall(result: dict) -> dict:
        """A forecaster's scores over every voxel (its changing-voxel scores left aside)."""
        return {k: v for k, v in result.items() if k != "changing_miou"}

    def draws(seen) -> list[np.ndarray]:
        return [np.asarray(args[0]) for args, _ in seen["voted"]]

    (one, one_seen), (three, three_seen) = forecast("one.json"), forecast("three.json", "--votes", "3")
    assert one["votes"] == 1 and three["votes"] == 3
    for name in ("copy_last", "ego_copy_last"):  # the baselines do not sample
        assert three["scores"][name] == one["scores"][name]
    single, voted = draws(one_seen), draws(three_seen)
    assert [d.shape for d in single] == [(1, 4, 16, 16, 4)] * 3
    assert [d.shape for d in voted] == [(3, 4, 16, 16, 4)] * 3
    assert all(np.array_equal(v[0], s[0]) for v, s in zip(voted, single, strict=True))
    assert any((d != d[0]).any() for d in voted)  # the draws differ: the vote has something to decide
    assert one["scores"]["ego_copy_last"]["changing_miou"] == [0.0] * 4  # wrong wherever it is scored apart
    assert overall(one["scores"]["dit"]) == scored([s[0] for s in single])
    assert overall(three["scores"]["dit"]) == scored(
        [stats.mode(d, axis=0, keepdims=False).mode for d in voted]
    )
    strict, strict_seen = forecast("quorum.json", "--votes", "3", "--quorum", "3")
    assert strict["quorum"] == 3 and strict["scores"]["aligned_copy"] == one["scores"]["aligned_copy"]
    assert all(np.array_equal(a, b) for a, b in zip(draws(strict_seen), voted, strict=True))
    agreed = [np.where((d == d[0]).all(axis=0), d[0], FREE) for d in voted]
    assert overall(strict["scores"]["dit"]) == scored(agreed)
    steered, steered_seen = forecast("steered.json", "--context-steer", "0.5", "--steer-iterations", "1")
    assert steered["context_steer"] == 0.5 and steered["steer_iterations"] == 1
    assert steered["scores"]["ego_copy_last"] == one["scores"]["ego_copy_last"]
    assert [steer for _, steer in one_seen["context_steer"]] == [None]  # no steer asked: none made
    ((_, steer),) = steered_seen["context_steer"]
    assert (steer.scale, steer.iterations) == (0.5, 1)
    ((_, plain),), ((_, pulled),) = one_seen["sample_maps"], steered_seen["sample_maps"]
    with torch.no_grad():
        assert (steer.objective(pulled) < steer.objective(plain)).all()


def test_constant_motion_continues_the_last_step():
    from dynamiccity.data.egoframe import path_poses, pose_after, poses_after

    path = np.array([[0.0, 0.0, 0.0], [1.0, 0.0, 0.1], [2.0, 0.1, 0.2]])
    turning = path_poses(path)
    ahead = poses_after(turning, 3)
    np.testing.assert_allclose(pose_after(path), ahead[0])
    step = np.linalg.inv(turning[1]) @ turning[2]
    np.testing.assert_allclose(ahead[0], turning[2] @ step)
    np.testing.assert_allclose(np.linalg.inv(ahead[1]) @ ahead[2], step, atol=1e-12)

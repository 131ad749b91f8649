"""A VAE of world coordinates: windows seen from their first frame's ego in training, scored and shown in the
ego's coordinates, encoded in its own."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.conftest import TINY_VAE, cli, tiny_town


def test_world_windows_are_the_ego_windows_seen_from_their_first_frame(tmp_path):
    from dynamiccity.data import bev_layout, open_dataset
    from dynamiccity.data.egoframe import to_world

    town = tiny_town(tmp_path / "town")
    ego = open_dataset(town, "synthtown", frames=4, stride=2)
    world = open_dataset(town, "synthtown", frames=4, stride=2, coordinates="world")
    extent, moved = ego.grid.extent, 0
    for i in range(len(ego)):
        e, w = ego[i], world[i]
        np.testing.assert_array_equal(w.labels, to_world(e.labels, e.trajectory, extent))
        np.testing.assert_array_equal(w.valid, to_world(e.valid, e.trajectory, extent))
        np.testing.assert_array_equal(w.layout, bev_layout(w.labels, ego.layout_factor))
        np.testing.assert_array_equal(w.labels[0], e.labels[0])  # the first frame is where it is seen from
        np.testing.assert_array_equal(w.trajectory, e.trajectory)  # the path stays the recorded one
        assert (w.command, w.scene, w.start) == (e.command, e.scene, e.start)
        moved += int((w.labels[1:] != e.labels[1:]).any())
    assert moved > 0  # the ego drives in some window, so the two coordinates differ there


def test_unknown_coordinates_are_refused(tmp_path):
    from dynamiccity.data import open_dataset

    with pytest.raises(ValueError, match="unknown coordinates 'map'; choose one of ego, world"):
        open_dataset(tiny_town(tmp_path / "town"), "synthtown", frames=4, coordinates="map")


@pytest.mark.parametrize("coordinates", ["world", "centred"])
def test_a_world_vae_is_scored_in_ego_coordinates_and_encodes_in_its_own(tmp_path, coordinates):
    import torch

    from dynamiccity.data import open_dataset
    from dynamiccity.data.egoframe import anchored, to_ego, to_world
    from dynamiccity.pipeline import load_vae, read_manifest
    from dynamiccity.vae.refine import encode_window
    from tests.pipeline.test_vae_training import numpy_scores

    town = tiny_town(tmp_path / "town")
    cli("train-vae", "--preset", "synthtown-micro", "--data", town, "--format", "synthtown", "--out",
        tmp_path / "vae", "--steps", "2", *TINY_VAE, "--set", f"data.coordinates={coordinates}")  # fmt: skip
    cli("eval-vae", tmp_path / "vae", "--data", town, "--format", "synthtown", "--split", "all", "--json",
        tmp_path / "scores.json", "--device", "cpu")  # fmt: skip
    scores = json.loads((tmp_path / "scores.json").read_text())
    assert scores["coordinates"] == coordinates
    anchor = {"world": 0, "centred": 2}[coordinates]  # of 4 frames: the first, or the middle one

    model = load_vae(tmp_path / "vae", device="cpu").model.eval()
    windows = open_dataset(town, "synthtown", frames=4, stride=4)  # eval-vae's windows: side by side
    pairs = []
    for window in (windows[i] for i in range(len(windows))):
        path = anchored(window.trajectory, anchor)
        seen = to_world(window.labels, path, windows.grid.extent, fill_back=True)
        with torch.no_grad():
            latent = encode_window(
                model, torch.from_numpy(seen)[None], torch.ones((1, *seen.shape), dtype=bool)
            )
            drawn = model.decode(latent).argmax(-1)[0].numpy()
        pairs.append((window, to_ego(drawn, path, windows.grid.extent)[0]))
    assert scores["miou"] == pytest.approx(numpy_scores(pairs)["miou"], rel=1e-12)
    assert scores["windows"] == len(pairs)

    cli("encode", tmp_path / "vae", "--data", town, "--format", "synthtown", "--out", tmp_path / "lat",
        "--device", "cpu")  # fmt: skip
    assert read_manifest(tmp_path / "lat").coordinates == coordinates  # as the VAE was trained to see them


def test_a_vae_with_a_world_margin_draws_the_wider_world_and_is_scored_on_the_recorded_grid(tmp_path, capsys):
    import torch

    from dynamiccity.data import open_dataset
    from dynamiccity.data.egoframe import anchored, to_ego, to_world
    from dynamiccity.pipeline import load_vae
    from dynamiccity.vae.refine import encode_window
    from tests.pipeline.test_vae_training import numpy_scores

    town = tiny_town(tmp_path / "town")
    margin = ["--set", "data.coordinates=centred", "--set", "data.world_margin=2"]
    cli("train-vae", "--preset", "synthtown-micro", "--data", town, "--format", "synthtown", "--out",
        tmp_path / "vae", "--steps", "2", *TINY_VAE, *margin, "--set", "grid=[20,20,4]")  # fmt: skip
    cli("eval-vae", tmp_path / "vae", "--data", town, "--format", "synthtown", "--split", "all", "--json",
        tmp_path / "scores.json", "--device", "cpu")  # fmt: skip
    scores = json.loads((tmp_path / "scores.json").read_text())

    model = load_vae(tmp_path / "vae", device="cpu").model.eval()
    windows = open_dataset(town, "synthtown", frames=4, stride=4)
    view, wide = windows.grid, windows.grid.widened(2)
    pairs = []
    for window in (windows[i] for i in range(len(windows))):
        path = anchored(window.trajectory, 2)
        seen = to_world(window.labels, path, view.extent, fill_back=True, world=(wide.shape, wide.extent))
        valid = to_world(window.valid, path, view.extent, fill_back=True, world=(wide.shape, wide.extent))
        assert seen.shape == (4, 20, 20, 4) and not valid.all()  # the margin no frame saw is not scored
        with torch.no_grad():
            latent = encode_window(model, torch.from_numpy(seen)[None], torch.from_numpy(valid)[None])
            drawn = model.decode(latent).argmax(-1)[0].numpy()
        pairs.append((window, to_ego(drawn, path, wide.extent, (view.shape, view.extent))[0]))
    assert scores["miou"] == pytest.approx(numpy_scores(pairs)["miou"], rel=1e-12)

    with pytest.raises(SystemExit):
        cli("encode", tmp_path / "vae", "--data", town, "--format", "synthtown", "--out", tmp_path / "lat",
            "--coordinates", "ego")  # fmt: skip
    assert "encodes world coordinates only" in capsys.readouterr().err and not (tmp_path / "lat").exists()
    with pytest.raises(SystemExit):
        cli("train-vae", "--preset", "synthtown-micro", "--data", town, "--format", "synthtown", "--out",
            tmp_path / "ego", "--steps", "1", *TINY_VAE, "--set", "data.world_margin=2")  # fmt: skip
    assert "not of ego ones" in capsys.readouterr().err

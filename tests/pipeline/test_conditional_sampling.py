"""Conditional generation end to end on a tiny SynthTown set: a DiT trained with every condition, sampled
with each of them from the CLI and Python, scenes grown window by window, and bad conditions refused."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from tests.conftest import cli
from tests.pipeline.conftest import DIT_SET


def sample(runs, out, *extra):
    cli("sample", "--dit", runs / "dit", "--vae", runs / "vae", "--num", "2", "--out", out, "--steps", "2",
        "--batch", "2", "--no-gifs", "--device", "cpu", "--data", runs / "town", *extra)  # fmt: skip
    return np.stack([np.load(out / f"sample_{i:04d}" / "labels.npy") for i in range(2)])


def test_the_dit_learns_every_condition_the_latents_carry(runs):
    config = json.loads((runs / "dit" / "checkpoints" / "last.json").read_text())["config"]
    assert config["model"]["conditions"] == ["command", "trajectory", "layout", "previous", "frame"]
    assert config["model"]["frames"] == 4 and config["model"]["layout_grid"] == [8, 8]
    assert config["condition_dropout"] == 0.1 and config["unconditional"] == 0.1


def test_every_condition_from_the_command_line(runs, tmp_path):
    np.save(tmp_path / "traj.npy", np.stack([np.arange(4.0) * 2, np.zeros(4)], axis=1))
    np.save(tmp_path / "layout.npy", np.zeros((4, 8, 8), dtype=bool))
    scenes = sample(runs, tmp_path / "all", "--command", "left", "--trajectory", tmp_path / "traj.npy",
                    "--layout", tmp_path / "layout.npy", "--single-frame", "scene_0000:3",
                    "--cfg-scale", "2.5")  # fmt: skip
    assert scenes.shape == (2, 4, 16, 16, 4) and scenes.dtype == np.uint8
    facts = json.loads((tmp_path / "all" / "sample.json").read_text())
    assert facts["conditions"] == ["command", "trajectory", "layout", "frame"] and facts["cfg_scale"] == 2.5
    sample(runs, tmp_path / "from-scene", "--layout-from", "scene_0001", "--layout-steer", "0.2")
    facts = json.loads((tmp_path / "from-scene" / "sample.json").read_text())
    assert (
        facts["conditions"] == ["layout"] and facts["layout_steer"] == 0.2 and facts["steer_iterations"] == 3
    )


def test_layout_steering_brings_the_decoded_vehicles_towards_the_layout(runs):
    from functools import partial

    from dynamiccity.dit.conditions import Conditions
    from dynamiccity.generation.layout_steer import layout_steer
    from dynamiccity.generation.sampling import SampleSpec, decode_logits, load_pair, sample_maps

    models = load_pair(runs / "dit", runs / "vae", torch.device("cpu"))
    decode, factor = partial(decode_logits, *models), models[0].manifest.layout_factor
    layout = torch.zeros(2, 4, 8, 8, dtype=torch.bool)
    layout[:, :, 2:5, 3:6] = True
    cond = Conditions(layout=layout, null={"layout": torch.tensor([True, False])})
    steer = layout_steer(
        decode, factor, cond, 20.0, 3
    )  # this DiT trained a few steps draws maps of size ~100
    spec = SampleSpec("ddim", 4, batch=2)
    plain = sample_maps(models[0], 2, spec, torch.Generator().manual_seed(0), "cpu", cond)
    pulled = sample_maps(models[0], 2, spec, torch.Generator().manual_seed(0), "cpu", cond, steer=steer)
    torch.testing.assert_close(pulled[0], plain[0], rtol=1e-5, atol=1e-4)  # its layout is null: not steered
    unweighted = layout_steer(decode, factor, Conditions(layout=layout), 0.2, 3).objective
    before, after = unweighted(plain)[1].item(), unweighted(pulled)[1].item()
    assert after < before - 0.03, (before, after)
    assert layout_steer(decode, factor, Conditions(layout=layout), 0.0, 3) is None


def test_scenes_grow_window_by_window_from_a_real_scene(runs, tmp_path):
    from dynamiccity.pipeline import ConditionRequest, DataSpec, SampleSpec, generate

    scenes = sample(runs, tmp_path / "grown", "--condition-scene", "scene_0000", "--extend", "10")
    assert scenes.shape == (2, 10, 16, 16, 4)
    assert np.array_equal(scenes[0, :4], scenes[1, :4])  # both begin with the scene's encoded first window
    request = ConditionRequest(command="forward", data=DataSpec(str(runs / "town"), "synthtown"))
    a, facts = generate(
        runs / "dit", runs / "vae", 3, SampleSpec("ddim", 2, batch=2), "cpu", request, frames=7
    )
    b, _ = generate(runs / "dit", runs / "vae", 3, SampleSpec("ddim", 2, batch=2), "cpu", request, frames=7)
    assert a.shape == (3, 7, 16, 16, 4) and np.array_equal(a, b) and facts["frames"] == 7


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--trajectory", "BAD"], r"a trajectory must be \(4, 2\) or \(4, 3\), got \(3, 2\)"),
        (["--trajectory", "MISSING"], "no such trajectory file"),
        (["--layout", "BAD"], r"a layout must be \(4, 8, 8\)"),
        (["--layout-from", "scene_0099"], "no scene 'scene_0099'"),
        (["--single-frame", "scene_0000"], "expected SCENE:FRAME"),
        (["--single-frame", "scene_0000:12"], "scene scene_0000 has 10 frames"),
        (["--layout-steer", "0.1"], "steering towards a layout needs a layout"),
        (
            [
                "--layout-steer",
                "0.1",
                "--layout-from",
                "scene_0001",
                "--inpaint",
                "scene_0000",
                "--mask",
                "0:4,0:4",
            ],
            "--layout-steer steers new scenes towards a layout, not an edit",
        ),
    ],
)
def test_bad_conditions_are_one_line_errors(runs, tmp_path, capsys, extra, message):
    np.save(tmp_path / "bad.npy", np.zeros((3, 2)))
    extra = [str(tmp_path / "bad.npy") if e == "BAD" else str(tmp_path / "no.npy") if e == "MISSING" else e
             for e in extra]  # fmt: skip
    with pytest.raises(SystemExit):
        sample(runs, tmp_path / "out", *extra)
    err = capsys.readouterr().err
    assert message.replace("\\", "") in err.replace("\\", "") or __import__("re").search(message, err), err
    assert not (tmp_path / "out").exists()


def test_an_unconditional_dit_refuses_conditions_and_growth(runs, tmp_path, capsys):
    cli("train-dit", "--preset", "synthtown-micro", "--latents", runs / "lat", "--out", tmp_path / "plain",
        "--steps", "1", "--unconditional", *DIT_SET)  # fmt: skip
    config = json.loads((tmp_path / "plain" / "checkpoints" / "last.json").read_text())["config"]
    assert config["model"]["conditions"] == []
    for extra in (["--command", "left"], ["--extend", "8"]):
        with pytest.raises(SystemExit):
            cli("sample", "--dit", tmp_path / "plain", "--vae", runs / "vae", "--num", "1", "--steps", "1",
                "--out", tmp_path / "s", "--no-gifs", "--device", "cpu", *extra)  # fmt: skip
    with pytest.raises(SystemExit):
        cli("eval-dit", tmp_path / "plain", "--windows", "1", "--repeats", "1")
    err = capsys.readouterr().err
    assert "trained without conditions" in err and "needs a DiT trained with the previous condition" in err
    assert "nothing to listen to" in err


def test_previous_windows_are_found_by_scene_and_start_in_any_split(runs):
    import torch

    from dynamiccity.pipeline import LatentSet

    full = LatentSet(runs / "lat")
    rows = {
        (int(s), int(t)): i
        for i, (s, t) in enumerate(zip(full.conditions["scene"], full.conditions["start"], strict=True))
    }
    for splits in (None, ("train",), ("val",)):
        part = LatentSet(runs / "lat", splits)
        found = 0
        for i in range(len(part)):
            item, scene, start = part[i], int(part.conditions["scene"][i]), int(part.conditions["start"][i])
            assert bool(item["has_previous"]) == (start >= 4)
            if start >= 4:
                found += 1
                torch.testing.assert_close(item["previous_xy"], full.planes["xy"][rows[(scene, start - 4)]])
        assert found == sum(1 for s in part.conditions["start"] if s >= 4) > 0
    assert "frame_xy" in full[0] and full.manifest.frame_planes and full.manifest.poses

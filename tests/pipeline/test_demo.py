"""`dynamiccity demo` end to end on the micro models, and the shipped models loaded by name."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from dynamiccity.shipped import resolve, shipped
from dynamiccity.vae.model import ENCODER_PARTS
from tests.conftest import cli


def test_the_demo_writes_every_output(runs, tmp_path, capsys):
    out = tmp_path / "demo"
    cli("demo", "--out", out, "--vae", runs / "vae", "--dit", runs / "dit", "--frames", "8")
    printed = capsys.readouterr().out
    assert "[1/5]" in printed and "[5/5]" in printed and "done in" in printed
    for name in ("unconditional.gif", "commands.gif", "long.gif", "inpainted.gif", "viewer.html"):
        assert (out / name).stat().st_size > 0, name
    summary = json.loads((out / "summary.json").read_text())
    assert summary["scenes"]["long"][0] == 8 and set(summary["commands_read_as"]) == {
        "STATIC", "FORWARD", "LEFT", "RIGHT"
    }  # fmt: skip
    assert 0 <= summary["inpainting_outside_kept"] <= 1 and summary["seconds"]["total"] > 0
    assert set(summary["ego_on_road_share"]) == set(summary["commands_read_as"])
    assert all(0 <= share <= 1 for share in summary["ego_on_road_share"].values()) and "on road" in printed
    test = summary["two_sample"]  # every window of 4 + 4 one-window scenes and of the long one, against real
    assert test["real_seed"] == 9091 and test["generated_windows"] == 8 + 8 // summary["window"]
    assert 0 <= test["accuracy"] <= 1
    assert (
        test["low"] <= test["accuracy"] <= test["high"]
        and "tells the generated windows from real ones" in printed
    )
    drift = summary["long_scene_drift"]  # the long scene's windows against two sets of 16 real ones
    assert drift["real_windows"] == [16, 16] and len(drift["ratio_by_window"]) == 8 // summary["window"]
    assert drift["limit"] == 2
    assert drift["within_limit"] == (drift["worst"] <= 2) and "times as far" in printed
    scene = np.load(out / "scenes" / "long" / "labels.npy")
    assert scene.shape[0] == 8 and scene.max() < 12


def test_the_shipped_models_load_by_name(tmp_path):
    from dynamiccity.pipeline import load_dit, load_vae

    assert {"synthtown"} <= set(shipped("vae")) and {"synthtown"} <= set(shipped("dit"))
    vae, dit = load_vae("synthtown"), load_dit("synthtown")
    dit.manifest.check_vae(vae.checkpoint)  # the shipped DiT was trained on the shipped VAE's latents
    assert vae.model.cfg.grid == (64, 64, 8) and dit.manifest.frames == vae.model.cfg.frames
    # the refined-encoding VAE: the shipped VAE's encoder bit for bit (the same latents), its own decoder
    refined, shipped_weights = load_vae("synthtown-refined").model.state_dict(), vae.model.state_dict()
    encoder = {k for k in shipped_weights if k.split(".")[0] in ENCODER_PARTS}
    assert encoder and all(torch.equal(refined[k], shipped_weights[k]) for k in encoder)
    assert any(not torch.equal(refined[k], shipped_weights[k]) for k in set(shipped_weights) - encoder)
    size = sum(p.stat().st_size for p in resolve("vae", "synthtown").parent.rglob("*.safetensors"))
    assert size <= 25e6  # every shipped weight together
    with pytest.raises(FileNotFoundError, match="not the name of a shipped vae \\(shipped vaes: synthtown"):
        load_vae(tmp_path / "nothing-here")


def test_the_shipped_centred_vae_reconstructs_a_fresh_scene_in_one_pass(tmp_path):
    from dynamiccity.evaluation.vae import evaluate_vae
    from dynamiccity.pipeline import load_vae
    from dynamiccity.runs.datasets import DataSpec
    from dynamiccity.synthtown.dataset import synthesize
    from dynamiccity.vae.refine import Refinement

    synthesize(tmp_path / "town", scenes=1, frames=8, grid=(64, 64, 8), seed=9191, val_fraction=0.0)
    vae = load_vae("synthtown-centred")
    assert vae.config.data.coordinates == "centred" and vae.config.data.world_margin == 4
    assert vae.model.cfg.grid == (72, 72, 8)  # the 64 x 64 x 8 grid widened by 4 a side
    scores = evaluate_vae("synthtown-centred", DataSpec(str(tmp_path / "town"), "synthtown"), "all",
                          device="cpu", refine=Refinement(steps=0))  # fmt: skip
    assert scores["windows"] == 1 and scores["miou"] > 0.6  # the shipped synthtown VAE: about 0.4

"""train-vae end to end on a tiny SynthTown set: checkpoints, resume without loss, 2-process DDP, eval-vae."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from dynamiccity.data import open_dataset
from dynamiccity.runs.vae import FineTune
from tests.conftest import TINY_VAE, cli, last_weights, tiny_town


@pytest.fixture(scope="module")
def town(tmp_path_factory):
    return tiny_town(tmp_path_factory.mktemp("town"))


def train(town, out, *extra):
    cli("train-vae", "--preset", "synthtown-micro", "--data", town, "--format", "synthtown", "--out", out,
        *TINY_VAE, *extra)  # fmt: skip


def test_checkpoints_config_and_logs(town, tmp_path):
    train(town, tmp_path / "run", "--steps", "3")
    ckpt = tmp_path / "run" / "checkpoints"
    for name, keys in (("last", {"model", "optim", "rng"}), ("best", {"model"})):
        record = json.loads((ckpt / f"{name}.json").read_text())
        assert set(record["files"]) == keys and all(
            (ckpt / f["file"]).is_file() for f in record["files"].values()
        )
    meta = json.loads((ckpt / "last.json").read_text())
    assert meta["step"] == 3 and meta["config"]["model"]["grid"] == [16, 16, 4]
    assert "miou" in meta["metrics"] and (tmp_path / "run" / "config.yaml").is_file()
    assert any((tmp_path / "run" / "tb").iterdir())


def test_resume_continues_without_loss(town, tmp_path):
    train(town, tmp_path / "straight", "--steps", "5")
    train(town, tmp_path / "split", "--steps", "3")
    train(town, tmp_path / "split", "--steps", "5", "--resume")
    a, b = (last_weights(tmp_path / name) for name in ("straight", "split"))
    assert json.loads((tmp_path / "split/checkpoints/last.json").read_text())["step"] == 5
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=1e-5, atol=1e-6)


def test_a_run_config_yaml_replays_the_run(town, tmp_path):
    train(town, tmp_path / "first", "--steps", "2")
    cli("train-vae", "--config", tmp_path / "first" / "config.yaml", "--out", tmp_path / "again")
    first, again = (tmp_path / name / "config.yaml" for name in ("first", "again"))
    assert first.read_text() == again.read_text()
    a, b = (last_weights(tmp_path / name) for name in ("first", "again"))
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_a_folder_holding_a_run_is_refused_unless_overwritten(town, tmp_path, capsys):
    run = tmp_path / "run"
    train(town, run, "--steps", "2")
    best = json.loads((run / "checkpoints" / "best.json").read_text())["files"]["model"]["file"]
    with pytest.raises(SystemExit):
        train(town, run, "--steps", "1", "--set", "encoder=avgpool")
    assert "holds a run already; --resume continues it, --overwrite replaces it" in capsys.readouterr().err
    train(town, run, "--steps", "1", "--set", "eval_every=5", "--overwrite")
    assert not (run / "checkpoints" / best).exists()  # the replaced run's weights are gone
    for name in ("last", "best"):  # the new run validated its final step
        assert json.loads((run / "checkpoints" / f"{name}.json").read_text())["step"] == 1


def test_resume_applies_live_keys_and_refuses_the_rest(town, tmp_path, capsys):
    run = tmp_path / "run"
    train(town, run, "--steps", "2")
    for extra, message in (
        (["--set", "lr=0.5"], "--set lr: a resumed run can change only steps, epochs"),
        (["--config", run / "config.yaml"], "--resume continues this config; --config starts a new run"),
        (["--preset", "synthtown-tiny"], "started with preset 'synthtown-micro', not 'synthtown-tiny'"),
    ):
        with pytest.raises(SystemExit):
            cli("train-vae", "--out", run, "--resume", "--steps", "3", *extra)
        assert message in capsys.readouterr().err
    train(town, run, "--steps", "3", "--resume", "--set", "ckpt_every=1", "--set", "lr=1e-3")  # lr as saved
    config = (run / "config.yaml").read_text()
    assert "steps: 3" in config and "ckpt_every: 1" in config
    assert json.loads((run / "checkpoints" / "last.json").read_text())["step"] == 3


def test_a_finetune_starts_from_a_run_and_learns_what_it_names(town, tmp_path, capsys):
    import yaml

    base = tmp_path / "base"
    train(town, base, "--steps", "2")
    train(town, tmp_path / "encoder", "--steps", "2", "--set", f"finetune.weights={base}")
    train(town, tmp_path / "all", "--steps", "2", "--set", f"finetune.weights={base}", "--set", "learn=all")
    train(
        town,
        tmp_path / "decoder",
        "--steps",
        "2",
        "--set",
        f"finetune.weights={base}",
        "--set",
        "learn=decoder",
    )
    saved = yaml.safe_load((tmp_path / "encoder" / "config.yaml").read_text())
    assert saved["finetune"] == {"weights": str(base), "learn": "encoder", "encoder": "weights"}
    assert saved["model"] == yaml.safe_load((base / "config.yaml").read_text())["model"]
    start = last_weights(base)
    decoder = [k for k in start if k.startswith(("latent_decoder.", "voxel_decoder."))]
    encoder = [k for k in start if k.startswith(("embed.", "spatial_encoder.", "plane_encoder."))]
    assert decoder and encoder
    for run, encoder_moves, decoder_moves in (
        ("encoder", True, False),
        ("all", True, True),
        ("decoder", False, True),
    ):
        tuned = last_weights(tmp_path / run)
        assert any(not torch.equal(start[k], tuned[k]) for k in encoder) == encoder_moves
        assert any(not torch.equal(start[k], tuned[k]) for k in decoder) == decoder_moves
    # the two sides partition the model: a decoder fine-tune leaves every encoder weight as it was
    tuned = last_weights(tmp_path / "decoder")
    assert all(
        torch.equal(start[k], tuned[k])
        for k in start
        if not k.startswith(("latent_decoder.", "voxel_decoder."))
    )
    with pytest.raises(SystemExit):
        train(
            town,
            tmp_path / "bad",
            "--steps",
            "1",
            "--set",
            f"finetune.weights={base}",
            "--set",
            "dec_channels=4",
        )
    assert "a fine-tune keeps its model config, which has dec_channels=" in capsys.readouterr().err
    with pytest.raises(ValueError, match="learn=decoder keeps the encoder it starts from"):
        FineTune(weights=str(base), learn="decoder", encoder="fresh")


def test_a_fresh_encoder_of_another_width_learns_against_a_frozen_decoder(town, tmp_path, capsys):
    base, wide = tmp_path / "base", tmp_path / "wide"
    train(town, base, "--steps", "2")
    fresh = ["--set", f"finetune.weights={base}", "--set", "finetune.encoder=fresh"]
    train(town, wide, "--steps", "2", *fresh, "--set", "channels=16", "--set", "embed_dim=4")
    start, tuned = last_weights(base), last_weights(wide)
    assert tuned["embed.weight"].shape[1] == 4 != start["embed.weight"].shape[1]
    decoder = [k for k in start if k.startswith(("latent_decoder.", "voxel_decoder."))]
    assert decoder and all(torch.equal(start[k], tuned[k]) for k in decoder)
    with pytest.raises(SystemExit):
        train(town, tmp_path / "bad", "--steps", "1", *fresh, "--set", "fused_channels=8")
    assert (
        "these encoder keys change its decoder (fused width 16); pin fused_channels"
        in capsys.readouterr().err
    )


def test_validation_without_a_held_out_split_says_so(tmp_path, caplog):
    from dynamiccity.synthtown.dataset import synthesize

    synthesize(tmp_path / "town", scenes=2, frames=6, grid=(16, 16, 4), seed=5, val_fraction=0.0)
    with caplog.at_level("WARNING"):
        train(tmp_path / "town", tmp_path / "run", "--steps", "1")
    assert "no held-out windows; validation scores training windows" in caplog.text
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["val_split"] == "train"


def load_vae(run, device):
    from dynamiccity.pipeline import load_vae

    return load_vae(run, device=device)


def reconstruction(vae, window, refine=None) -> np.ndarray:
    """The VAE's reconstruction (T, X, Y, Z) of one window, encoded alone (and refined with `refine`)."""
    from dynamiccity.vae.refine import encode_window

    labels, valid = torch.from_numpy(window.labels)[None], torch.from_numpy(window.valid)[None]
    with torch.no_grad():
        return vae.decode(encode_window(vae, labels, valid, refine)).argmax(-1)[0].numpy()


def numpy_scores(pairs, k: int = 12) -> dict:
    """eval-vae's scores of (window, reconstruction) pairs, counted with numpy alone: IoU of each class the
    truth holds and their mean over the classes but free, occupancy IoU, precision and recall, the same over
    the voxels whose label changes in the window, and free voxels drawn as a class where it stands in another
    frame (ghosts)."""
    from dynamiccity.data.classes import CLASS_NAMES

    every, changing = np.zeros((k, k), np.int64), np.zeros((k, k), np.int64)
    false, ghosts = np.zeros(k, np.int64), np.zeros(k, np.int64)
    for window, pred in pairs:
        truth, valid = window.labels.astype(np.int64), window.valid
        moves = valid & (truth != truth[:1]).any(axis=0)
        every += np.bincount(truth[valid] * k + pred[valid], minlength=k * k).reshape(k, k)
        changing += np.bincount(truth[moves] * k + pred[moves], minlength=k * k).reshape(k, k)
        for c in range(1, k):
            drawn = valid & (truth == 0) & (pred == c)
            false[c] += drawn.sum()
            ghosts[c] += (drawn & (truth == c).any(axis=0)).sum()

    def ious(m):
        tp, truth, drawn = np.diag(m), m.sum(1), m.sum(0)
        return {CLASS_NAMES[c]: tp[c] / (truth[c] + drawn[c] - tp[c]) for c in range(1, k) if truth[c]}

    per_class, tp, truth, drawn = ious(every), np.diag(every), every.sum(1), every.sum(0)
    return {
        "miou": np.mean(list(per_class.values())),
        "iou": every[1:, 1:].sum() / (every.sum() - every[0, 0]),
        "per_class": per_class,
        "precision": {CLASS_NAMES[c]: tp[c] / drawn[c] for c in range(1, k) if drawn[c]},
        "recall": {CLASS_NAMES[c]: tp[c] / truth[c] for c in range(1, k) if truth[c]},
        "changing": {
            "miou": np.mean(list(ious(changing).values())),
            "per_class": ious(changing),
            "share": changing.sum() / every.sum(),
        },
        "ghosts": {
            CLASS_NAMES[c]: {"false_positives": false[c], "ghost_share": ghosts[c] / false[c]}
            for c in range(1, k)
            if false[c]
        },
    }


def numpy_ego_motion(pairs, voxel_size) -> dict:
    """eval-vae --ego-motion of (window, reconstruction) pairs: the trajectory registered from the input and
    from the reconstruction against the window's own (mean planar distance over the frames, and at the
    last), and how often the command read from each is the window's."""
    from dynamiccity.data.derive import Command
    from dynamiccity.metrics.egomotion import window_command
    from dynamiccity.metrics.registration import estimate_trajectory

    truth = [Command(window.command).name for window, _ in pairs]
    result: dict = {"windows": len(pairs), "read_as": {name: {} for name in sorted(set(truth))}}
    for side, which in (("input", 0), ("reconstruction", 1)):
        read, ade, fde = [], [], []
        for (window, pred), true in zip(pairs, truth, strict=True):
            estimated = estimate_trajectory((window.labels, pred)[which].astype(np.uint8), voxel_size)
            distance = np.hypot(*(estimated[:, :2] - window.trajectory[:, :2]).T)
            read.append(window_command(estimated).name)
            ade.append(distance.mean())
            fde.append(distance[-1])
            counts = result["read_as"][true].setdefault(side, {})
            counts[read[-1]] = counts.get(read[-1], 0) + 1
        agreement = np.mean([r == t for r, t in zip(read, truth, strict=True)])
        result[side] = {"command_agreement": agreement, "ade": np.mean(ade), "fde": np.mean(fde)}
    return result


def assert_close(actual, expected, path: str = "") -> None:
    """Nested dicts of numbers equal up to rounding (ghost shares are float32), with the same keys."""
    if isinstance(expected, dict):
        assert isinstance(actual, dict) and set(actual) == set(expected), (path, actual, expected)
        for key, value in expected.items():
            assert_close(actual[key], value, f"{path}.{key}")
    else:
        assert actual == pytest.approx(float(expected), rel=1e-6, abs=1e-12), path


def test_eval_vae_json(town, tmp_path, capsys):
    train(town, tmp_path / "run", "--steps", "2")
    capsys.readouterr()
    cli("eval-vae", tmp_path / "run", "--data", town, "--format", "synthtown", "--json", tmp_path / "m.json",
        "--split", "all", "--device", "cpu")  # fmt: skip
    metrics = json.loads((tmp_path / "m.json").read_text())
    windows = open_dataset(town, "synthtown", frames=4, stride=4)
    assert len(windows) == 3  # one window of 4 frames in each 6-frame scene, side by side
    vae = load_vae(tmp_path / "run", device="cpu").model
    pairs = [(windows[i], reconstruction(vae, windows[i])) for i in range(3)]
    expected = numpy_scores(pairs)
    assert_close({key: metrics[key] for key in expected}, expected)
    assert "road" in metrics["per_class"] and metrics["classes"] == "common" and "ego_motion" not in metrics
    cli("eval-vae", tmp_path / "run", "--data", town, "--format", "synthtown", "--json", tmp_path / "e.json",
        "--split", "all", "--max-windows", "2", "--ego-motion", "--device", "cpu")  # fmt: skip
    motion = json.loads((tmp_path / "e.json").read_text())["ego_motion"]
    # two windows spread over three: the first and the last
    assert_close(motion, numpy_ego_motion([pairs[0], pairs[2]], windows.grid.voxel_size[:2]))
    assert sum(sum(r["reconstruction"].values()) for r in motion["read_as"].values()) == 2


def test_eval_vae_and_reconstruct_refine_the_encodings(town, tmp_path):
    from dynamiccity.data import open_reader
    from dynamiccity.vae.refine import Refinement

    train(town, tmp_path / "run", "--steps", "1")
    cli("eval-vae", tmp_path / "run", "--data", town, "--format", "synthtown", "--json", tmp_path / "r.json",
        "--split", "all", "--max-windows", "1", "--refine", "3", "--refine-prior", "0.1", "--refine-bins", "512")  # fmt: skip
    metrics = json.loads((tmp_path / "r.json").read_text())
    assert metrics["refine"] == {
        "steps": 3,
        "lr": 0.2,
        "lovasz_weight": 1.0,
        "prior_weight": 0.1,
        "bf16": False,
        "lovasz_bins": 512,
        "frames_per_step": None,
    }
    window = open_dataset(town, "synthtown", frames=4, stride=4)[0]  # --max-windows 1: the first
    how = Refinement(steps=3, lr=0.2, prior_weight=0.1, lovasz_bins=512)
    refined = reconstruction(load_vae(tmp_path / "run", device="cpu").model, window, how)
    assert metrics["miou"] == pytest.approx(numpy_scores([(window, refined)])["miou"], rel=1e-12)
    cli("reconstruct", tmp_path / "run", "--data", town, "--format", "synthtown", "--out", tmp_path / "rec",
        "--max-windows", "1", "--refine", "2", "--no-gifs")  # fmt: skip
    reader = open_reader(tmp_path / "rec", "synthtown")
    assert len(reader.scenes()) == 1 and reader.read_frames(reader.scenes()[0], 0, 4)[0].shape == (
        4,
        16,
        16,
        4,
    )


def test_a_vae_encodes_with_its_own_refinement_unless_told_otherwise(town, tmp_path):
    """`encoding.refine` is what eval-vae scores and encode writes without --refine; --refine 0 is one pass."""
    from dynamiccity.pipeline import read_manifest
    from dynamiccity.vae.refine import Refinement

    train(
        town,
        tmp_path / "run",
        "--steps",
        "1",
        "--set",
        "encoding.refine=2",
        "--set",
        "encoding.refine_lr=0.3",
    )
    scored = {}
    for name, extra in (("default", []), ("one-pass", ["--refine", "0"])):
        cli("eval-vae", tmp_path / "run", "--data", town, "--format", "synthtown", "--json", tmp_path / f"{name}.json",
            "--split", "all", "--max-windows", "1", *extra)  # fmt: skip
        scored[name] = json.loads((tmp_path / f"{name}.json").read_text())
    window = open_dataset(town, "synthtown", frames=4, stride=4)[0]
    model = load_vae(tmp_path / "run", device="cpu").model
    how = Refinement(steps=2, lr=0.3)
    assert scored["default"]["refine"]["steps"] == 2 and scored["default"]["refine"]["lr"] == 0.3
    assert scored["default"]["miou"] == pytest.approx(
        numpy_scores([(window, reconstruction(model, window, how))])["miou"], rel=1e-12
    )
    assert "refine" not in scored["one-pass"]
    assert scored["one-pass"]["miou"] == pytest.approx(
        numpy_scores([(window, reconstruction(model, window))])["miou"], rel=1e-12
    )
    cli("encode", tmp_path / "run", "--data", town, "--format", "synthtown", "--out", tmp_path / "lat",
        "--device", "cpu")  # fmt: skip
    assert read_manifest(tmp_path / "lat").refine["steps"] == 2


def test_unknown_override_is_an_error(town, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        train(town, tmp_path / "run", "--steps", "1", "--set", "depth=3")
    assert exit_.value.code == 1 and "unknown config key 'depth'" in capsys.readouterr().err


def test_the_binned_lovasz_trains_and_is_recorded(town, tmp_path, capsys):
    train(town, tmp_path / "run", "--steps", "2", "--set", "loss.lovasz_bins=256")
    meta = json.loads((tmp_path / "run/checkpoints/last.json").read_text())
    assert meta["config"]["loss"]["lovasz_bins"] == 256 and meta["step"] == 2
    with pytest.raises(SystemExit) as exit_:
        train(town, tmp_path / "bad", "--steps", "1", "--set", "loss.lovasz_bins=0")
    assert exit_.value.code == 1 and "loss.lovasz_bins must be None or >= 1" in capsys.readouterr().err
    assert not (tmp_path / "bad" / "checkpoints").exists()


def test_two_process_ddp_ends_with_identical_weights(town, tmp_path):
    out = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "dynamiccity", "train-vae", "--preset", "synthtown-micro", "--data", str(town),
           "--format", "synthtown", "--out", str(out), "--steps", "2", *TINY_VAE]  # fmt: skip
    result = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    summary = json.loads((out / "summary.json").read_text())
    checksums = summary["rank_checksums"]
    assert len(checksums) == 2 and checksums[0] == checksums[1]
    assert summary["step"] == 2


def test_reconstruct_and_encode(town, tmp_path):
    from dynamiccity.data import open_reader
    from dynamiccity.pipeline import read_manifest

    train(town, tmp_path / "run", "--steps", "1")
    cli("reconstruct", tmp_path / "run", "--data", town, "--format", "synthtown", "--out", tmp_path / "rec",
        "--max-windows", "1")  # fmt: skip
    reader = open_reader(tmp_path / "rec", "synthtown")
    assert len(reader.scenes()) == 1 and reader.read_frames(reader.scenes()[0], 0, 4)[0].shape == (
        4,
        16,
        16,
        4,
    )
    assert len(list((tmp_path / "rec" / "gifs").glob("*.gif"))) == 1
    cli("encode", tmp_path / "run", "--data", town, "--format", "synthtown", "--out", tmp_path / "lat",
        "--stride", "2")  # fmt: skip
    manifest = json.loads((tmp_path / "lat" / "manifest.json").read_text())
    typed = read_manifest(tmp_path / "lat")
    assert json.loads(json.dumps(typed.to_dict())) == manifest
    assert typed.sizes == (2, 8, 8, 2) and typed.channels == 8
    shard = load_file(str(tmp_path / "lat" / manifest["shards"][0]))
    n = manifest["windows"]
    assert n == 6 and shard["xy"].shape == (n, 8, 8, 8) and shard["tz"].shape == (n, 8, 2, 2)
    assert shard["trajectory"].shape == (n, 4, 3) and shard["layout"].shape == (n, 4, 8, 8)
    assert "previous" not in shard and shard["frame_xy"].shape == (n, 8, 8, 8)  # previous: by (scene, start)
    assert len(manifest["latent_mean"]) == 8 and manifest["frame_planes"] and manifest["poses"]
    assert len(manifest["vae_sha256"]) == 64


def test_an_interrupted_encoding_resumes_to_the_same_latents(town, tmp_path):
    import shutil
    from dataclasses import replace

    from dynamiccity.pipeline import encode_latents
    from dynamiccity.runs.datasets import DataSpec
    from dynamiccity.vae.refine import Refinement

    train(town, tmp_path / "run", "--steps", "1")
    spec = replace(DataSpec(town, "synthtown"), stride=2)
    whole = encode_latents(tmp_path / "run", spec, tmp_path / "whole", device="cpu", shard_size=2)
    assert len(whole.shards) == 3
    part = tmp_path / "part"  # stopped after its first shard: no other shard, no manifest
    part.mkdir()
    shutil.copy(tmp_path / "whole" / whole.shards[0], part)
    resumed = encode_latents(tmp_path / "run", spec, part, device="cpu", resume=True, shard_size=2)
    assert resumed.to_dict() == whole.to_dict()
    for name in whole.shards:
        done, again = load_file(str(tmp_path / "whole" / name)), load_file(str(part / name))
        assert done.keys() == again.keys() and all(torch.equal(done[k], again[k]) for k in done)
    with pytest.raises(ValueError, match=r"shard_00000.safetensors: written by another encoding \(refine"):
        encode_latents(tmp_path / "run", spec, part, device="cpu", refine=Refinement(steps=1, lr=0.1),
                       resume=True, shard_size=2)  # fmt: skip


def test_data_without_poses_trains_and_encodes(tmp_path):
    """Every command works on a dataset without poses; windows carry no command and NaN trajectories."""
    town = tiny_town(tmp_path / "town")
    manifest = json.loads((town / "dataset.json").read_text())
    for scene in manifest["scenes"]:
        (town / scene["name"] / "poses.npy").unlink()
        scene["poses"] = False
    (town / "dataset.json").write_text(json.dumps(manifest))
    train(town, tmp_path / "run", "--steps", "1")
    cli("encode", tmp_path / "run", "--data", town, "--format", "synthtown", "--out", tmp_path / "lat")
    shard = load_file(str(tmp_path / "lat" / "shard_00000.safetensors"))
    assert (shard["command"] == -1).all() and shard["trajectory"].isnan().all()


def test_the_scale_equivariance_term_trains_logs_and_is_refused_where_it_cannot_apply(town, tmp_path, capsys):
    train(town, tmp_path / "run", "--steps", "2", "--set", "loss.scale_equivariance=0.5")
    meta = json.loads((tmp_path / "run/checkpoints/last.json").read_text())
    assert meta["config"]["loss"]["scale_equivariance"] == 0.5 and meta["step"] == 2
    for bad, message in (
        (["--set", "loss.scale_equivariance=-1"], "loss.scale_equivariance must be >= 0"),
        (["--set", "loss.scale_equivariance=0.5", "--set", "decoder=query"], "model.decoder must be 'ess'"),
    ):
        with pytest.raises(SystemExit) as exit_:
            train(town, tmp_path / "bad", "--steps", "1", *bad)
        assert exit_.value.code == 1 and message in capsys.readouterr().err
        assert not (tmp_path / "bad" / "checkpoints").exists()

"""The whole pipeline on a tiny SynthTown set: VAE -> encode -> train-dit (resume) -> sample -> decode -> render."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from tests.conftest import TINY_VAE, cli, last_weights, tiny_town

DIT_SET = ["--set", "ema=0.9", "--set", "ckpt_every=2", "--set", "eval_every=2", "--set", "val_windows=2"]


@pytest.fixture(scope="module")
def latents(tmp_path_factory):
    root = tmp_path_factory.mktemp("pipeline")
    tiny_town(root / "town")
    cli("train-vae", "--preset", "synthtown-micro", "--data", root / "town", "--format", "synthtown",
        "--out", root / "vae", "--steps", "2", *TINY_VAE)  # fmt: skip
    cli("encode", root / "vae", "--data", root / "town", "--format", "synthtown", "--out", root / "lat",
        "--stride", "1", "--device", "cpu")  # fmt: skip
    return root


def train_dit(root, out, *extra):
    cli("train-dit", "--preset", "synthtown-micro", "--latents", root / "lat", "--out", out, *DIT_SET, *extra)


def test_end_to_end_sample_decode_render(latents, tmp_path):
    train_dit(latents, tmp_path / "dit", "--steps", "2")
    meta = json.loads((tmp_path / "dit" / "checkpoints" / "last.json").read_text())
    assert meta["step"] == 2 and meta["config"]["model"]["latent_sizes"] == [2, 8, 8, 2]
    assert last_weights(tmp_path / "dit", "ema").keys() == last_weights(tmp_path / "dit").keys()
    assert "val_loss" in meta["metrics"]
    for sampler, steps in (("ddim", "3"), ("dpmpp", "3")):
        out = tmp_path / f"samples-{sampler}"
        cli("sample", "--dit", tmp_path / "dit", "--vae", latents / "vae", "--num", "2", "--out", out,
            "--sampler", sampler, "--steps", steps, "--batch", "1", "--device", "cpu")  # fmt: skip
        labels = np.load(out / "sample_0001" / "labels.npy")
        assert labels.shape == (4, 16, 16, 4) and labels.dtype == np.uint8 and labels.max() < 12
        assert len(list((out / "gifs").glob("*.gif"))) == 2
        facts = json.loads((out / "sample.json").read_text())
        assert facts["sampler"] == sampler and facts["seconds_per_scene"] > 0


def test_plane_loss_weight_trains_and_reports_both_losses(latents, tmp_path):
    train_dit(latents, tmp_path / "dit", "--steps", "2", "--set", "loss_weight=plane")
    meta = json.loads((tmp_path / "dit" / "checkpoints" / "last.json").read_text())
    assert meta["config"]["loss_weight"] == "plane"
    metrics = meta["metrics"]
    assert metrics["score"] == -metrics["val_loss_plane"] and metrics["val_loss"] > 0
    with pytest.raises(SystemExit):
        train_dit(latents, tmp_path / "bad", "--steps", "1", "--set", "loss_weight=voxel")
    assert not (tmp_path / "bad" / "checkpoints").exists()


def test_sampling_is_reproducible(latents, tmp_path):
    from dynamiccity.pipeline import SampleSpec, generate

    train_dit(latents, tmp_path / "dit", "--steps", "2")
    a, _ = generate(tmp_path / "dit", latents / "vae", 2, SampleSpec("ddpm", 5, seed=3))
    b, _ = generate(tmp_path / "dit", latents / "vae", 2, SampleSpec("ddpm", 5, seed=3))
    assert np.array_equal(a, b)


def test_resume_continues_without_loss(latents, tmp_path):
    train_dit(latents, tmp_path / "straight", "--steps", "4")
    train_dit(latents, tmp_path / "split", "--steps", "2")
    train_dit(latents, tmp_path / "split", "--steps", "4", "--resume")
    for key in ("model", "ema"):
        a, b = (last_weights(tmp_path / name, key) for name in ("straight", "split"))
        assert all(torch.equal(a[k], b[k]) for k in a), key


def test_wrong_vae_and_missing_latents_are_refused(latents, tmp_path):
    train_dit(latents, tmp_path / "dit", "--steps", "1")
    cli("train-vae", "--preset", "synthtown-micro", "--data", latents / "town", "--format", "synthtown",
        "--out", tmp_path / "other-vae", "--steps", "1", *TINY_VAE)  # fmt: skip
    with pytest.raises(SystemExit):
        cli("sample", "--dit", tmp_path / "dit", "--vae", tmp_path / "other-vae", "--num", "1",
            "--out", tmp_path / "s")  # fmt: skip
    assert not (tmp_path / "s").exists()
    with pytest.raises(SystemExit):
        train_dit(tmp_path / "nowhere", tmp_path / "dit2", "--steps", "1")


def test_a_dit_run_samples_without_its_latents_folder(latents, tmp_path):
    import shutil

    from dynamiccity.pipeline import SampleSpec, generate, read_manifest

    lat = tmp_path / "lat"
    shutil.copytree(latents / "lat", lat)
    cli("train-dit", "--preset", "synthtown-micro", "--latents", lat, "--out", tmp_path / "dit", "--steps", "1",
        *DIT_SET)  # fmt: skip
    assert read_manifest(tmp_path / "dit" / "latent_manifest.json") == read_manifest(lat)
    spec = SampleSpec("ddim", 2, seed=1)
    before, _ = generate(tmp_path / "dit", latents / "vae", 1, spec)
    shutil.rmtree(lat)
    after, _ = generate(tmp_path / "dit", latents / "vae", 1, spec)
    assert np.array_equal(before, after)


def test_ema_decay_warms_up_to_its_target():
    from dynamiccity.train.loop import ema_decay

    assert ema_decay(0.9999, 0) == 0.1
    assert ema_decay(0.9999, 90) == pytest.approx(0.91)
    assert ema_decay(0.9999, 10**6) == 0.9999
    assert all(ema_decay(0.999, s) <= ema_decay(0.999, s + 1) for s in range(2000))


def test_two_process_ddp_ends_with_identical_weights(latents, tmp_path):
    import os
    import subprocess
    import sys

    out = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "dynamiccity", "train-dit", "--preset", "synthtown-micro", "--latents", str(latents / "lat"),
           "--out", str(out), "--steps", "2", "--set", "batch_size=2", *DIT_SET]  # fmt: skip
    result = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["step"] == 2 and len(summary["rank_checksums"]) == 2
    assert summary["rank_checksums"][0] == summary["rank_checksums"][1]  # identical weights
    assert summary["rank_rng"][0] != summary["rank_rng"][1]  # from distinct noise streams


def test_a_stop_on_one_rank_stops_every_rank_at_the_same_step(latents, tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "dynamiccity", "train-dit", "--preset", "synthtown-micro", "--latents", str(latents / "lat"),
           "--out", str(out), "--steps", "100000", *DIT_SET, "--set", "ckpt_every=100000",
           "--set", "eval_every=100000"]  # fmt: skip
    launcher = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 120
        while not (out / "tb").is_dir() and time.time() < deadline:  # rank 0 is training
            time.sleep(0.5)
        time.sleep(3)
        os.kill(_worker(launcher.pid, rank=1), signal.SIGTERM)
        _, err = launcher.communicate(timeout=120)
    finally:
        launcher.kill()
    assert launcher.returncode == 0, err[-2000:]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["stopped_early"] and 0 < summary["step"] < 100000
    assert summary["rank_checksums"][0] == summary["rank_checksums"][1]  # both ranks took the same steps
    assert json.loads((out / "checkpoints" / "last.json").read_text())["step"] == summary["step"]


def _worker(launcher: int, rank: int) -> int:
    """The pid of torchrun's worker process of `rank`."""
    from pathlib import Path

    for proc in Path("/proc").glob("[0-9]*"):
        try:
            parent = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
            environ = (proc / "environ").read_bytes().split(b"\0")
        except (OSError, IndexError, ValueError):
            continue
        if parent == launcher and f"RANK={rank}".encode() in environ:
            return int(proc.name)
    raise AssertionError(f"no worker of rank {rank} under pid {launcher}")

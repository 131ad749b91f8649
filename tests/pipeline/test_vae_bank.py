"""train-vae with a bank of refined latents (`bank:`): the decoder alone learns, the bank is checkpointed
and resumed, DDP ranks share it, and validation scores refined encodings."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from dynamiccity.runs.loading import load_vae
from dynamiccity.runs.vae_objectives import bank_windows
from tests.conftest import TINY_VAE, cli, last_weights, tiny_town

BANK = ["--set", "learn=decoder", "--set", "windows=4", "--set", "containing=vehicle",
        "--set", "inner_steps=2", "--set", "refine=2", "--set", "eval_every=2"]  # fmt: skip


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """A tiny town and a VAE trained 2 steps on it."""
    root = tmp_path_factory.mktemp("bank")
    tiny_town(root / "town")
    train(root / "town", root / "base", "--steps", "2")
    return root


def train(town, out, *extra):
    cli("train-vae", "--preset", "synthtown-micro", "--data", town, "--format", "synthtown", "--out", out,
        *TINY_VAE, *extra)  # fmt: skip


def bank_run(base, out, *extra):
    train(base / "town", out, "--set", f"finetune.weights={base / 'base'}", *BANK, *extra)


def test_a_bank_run_trains_the_decoder_alone_and_keeps_its_bank(base, tmp_path):
    run = tmp_path / "run"
    bank_run(base, run, "--steps", "3")
    start, tuned = last_weights(base / "base"), last_weights(run)
    decoder = ("latent_decoder.", "voxel_decoder.")
    assert all(torch.equal(start[k], tuned[k]) for k in start if not k.startswith(decoder))
    assert any(not torch.equal(start[k], tuned[k]) for k in start if k.startswith(decoder))
    bank = last_weights(run, "task")
    assert bank["latent.xy"].shape[0] == 4 and bank["steps"].sum() == 3 * 2  # 3 visits of 2 steps
    windows = json.loads((run / "bank.json").read_text())
    assert len(windows) == 4 and {"scene", "start"} <= set(windows[0])
    metrics = json.loads((run / "checkpoints" / "last.json").read_text())["metrics"]
    assert {"miou", "encoder_miou", "encoder_iou"} <= set(metrics)
    assert load_vae(run).step == 3  # the best checkpoint loads as a plain VAE


def test_a_resumed_bank_run_ends_where_a_straight_one_does(base, tmp_path):
    bank_run(base, tmp_path / "straight", "--steps", "4")
    bank_run(base, tmp_path / "split", "--steps", "2")
    train(base / "town", tmp_path / "split", "--steps", "4", "--resume")
    a, b = (last_weights(tmp_path / name, "task") for name in ("straight", "split"))
    assert torch.equal(a["steps"], b["steps"])
    for name in a:  # a bank left behind would be off by the refinement's steps (lr 0.2), not by 1e-4
        torch.testing.assert_close(a[name], b[name], rtol=0, atol=1e-4)
    # Float rounding differs between the two processes at about 1e-12 in the latents' gradients; the conv
    # biases that an instance norm follows get no true gradient, and Adam turns that noise into steps of up
    # to lr (1e-3 here). The loop's exact restore of weights and optimizer is checked by
    # tests/pipeline/test_vae_training.py; here the weights only have to agree to that noise.
    a, b = (last_weights(tmp_path / name) for name in ("straight", "split"))
    for name in a:
        torch.testing.assert_close(a[name], b[name], rtol=0, atol=1e-3)


def test_ddp_ranks_share_the_bank(base, tmp_path):
    out = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "dynamiccity", "train-vae", "--preset", "synthtown-micro", "--data", str(base / "town"),
           "--format", "synthtown", "--out", str(out), "--steps", "2", *TINY_VAE,
           "--set", f"finetune.weights={base / 'base'}", *BANK]  # fmt: skip
    result = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    checksums = json.loads((out / "summary.json").read_text())["rank_checksums"]
    assert checksums[0] == checksums[1]
    steps = last_weights(out, "task")["steps"]
    assert steps.sum() == 2 * 2 * 2  # 2 ranks x 2 steps x 2 inner steps, all in rank 0's checkpoint
    assert (steps > 0).sum() >= 2  # the ranks visited different windows


def test_a_bank_needs_a_decoder_finetune_and_a_known_class(base, tmp_path, capsys):
    with pytest.raises(SystemExit):
        train(base / "town", tmp_path / "a", "--steps", "1", "--set", "windows=4")
    assert "it needs finetune.learn = decoder" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        bank_run(base, tmp_path / "b", "--steps", "1", "--set", "containing=tram")
    assert "bank.containing: no class 'tram'" in capsys.readouterr().err


def test_half_the_bank_holds_the_class_asked_for():
    has = [True, False, False, True, False, False, False, False, True, False]
    data = [SimpleNamespace(labels=np.full((2, 2), 7 if h else 1)) for h in has]
    picks = bank_windows(data, 6, 7, seed=0)
    assert len(picks) == 6 and sum(has[i] for i in picks) == 3
    assert sum(has[i] for i in bank_windows(data, 8, 7, seed=0)) == 3  # only 3 hold it: others fill in
    assert len(bank_windows(data, 20, None, seed=0)) == 10

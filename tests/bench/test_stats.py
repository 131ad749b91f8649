"""`dynamiccity stats` on a VAE run and a DiT run of 2 steps each: relations a regression would break.

The measuring processes take the test's one thread: two threads on the shared 2-core machine, while other
work runs, make a micro step vary 50-fold (0.08-5 s for the VAE's). Only relations with a large expected
ratio are asserted on timings; each says the ratio measured there (3 runs).
"""

from __future__ import annotations

import contextlib
import io
import json

import pytest
import torch

from tests.conftest import TINY_VAE, cli, tiny_town


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("stats")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        tiny_town(root / "town")
        cli("train-vae", "--preset", "synthtown-micro", "--data", root / "town", "--format", "synthtown",
            "--out", root / "vae", "--steps", "2", *TINY_VAE)  # fmt: skip
        cli("encode", root / "vae", "--data", root / "town", "--format", "synthtown", "--out", root / "lat",
            "--stride", "1", "--device", "cpu")  # fmt: skip
        cli("train-dit", "--preset", "synthtown-micro", "--latents", root / "lat", "--out", root / "dit",
            "--steps", "2", "--set", "ema=0.9", "--set", "val_windows=2")  # fmt: skip
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            cli("stats", "--vae", root / "vae", "--dit", root / "dit", "--json", root / "stats.json",
                "--device", "cpu", "--repeats", "5")  # fmt: skip
    finally:
        torch.set_num_threads(threads)
    rows = json.loads((root / "stats.json").read_text())["rows"]
    return root, {row["model"]: row for row in rows}, printed.getvalue()


def test_a_row_per_model_and_device_in_the_json_and_the_table(runs):
    _, rows, printed = runs
    assert [(row["model"], row["device"]) for row in rows.values()] == [("vae", "cpu"), ("dit", "cpu")]
    table = printed.strip().splitlines()
    assert len(table) == 2 + 2
    assert table[2].startswith("| vae | cpu | ") and table[3].startswith("| dit | cpu | ")
    assert (
        "peak GFLOP/s" in table[0] and table[2].count("GFLOP/s (") == 2 and table[3].count("GFLOP/s (") == 3
    )
    assert all(row["threads"] == 1 and row["repeats"] == 5 for row in rows.values())


def test_default_devices_are_the_cpu_and_cuda_where_there_is_one():
    from dynamiccity.bench.stats import stats_devices

    assert stats_devices() == (["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"])
    assert stats_devices("cpu") == ["cpu"]
    with pytest.raises(ValueError, match="tpu"):
        stats_devices("tpu")


def test_parameters_and_sizes_are_the_loaded_models(runs):
    from dynamiccity.pipeline import load_dit, load_vae

    root, rows, _ = runs
    for name, trained in (("vae", load_vae(root / "vae")), ("dit", load_dit(root / "dit"))):
        row = rows[name]
        params = sum(p.numel() for p in trained.model.parameters())
        assert row["params"] == params and row["step"] == 2
        assert row["weights_mb"] == pytest.approx(params * 4 / 2**20)
        assert row["checkpoint"] == str(trained.checkpoint)
        # safetensors holds the fp32 weights and a small JSON header
        assert row["weights_mb"] < row["checkpoint_mb"] < row["weights_mb"] + 0.1


def test_compression_is_voxels_over_the_floats_of_an_encoded_window(runs):
    from dynamiccity.bench.vae import structured_labels
    from dynamiccity.pipeline import load_vae

    root, rows, _ = runs
    vae = load_vae(root / "vae")
    cfg = vae.config.model
    with torch.no_grad():
        hexplane = vae.model.encode(structured_labels(cfg, 1))
    floats = sum(plane[0].numel() for plane in hexplane.planes())
    # a (T, X, Y, Z) = (4, 16, 16, 4) window halved on every axis: C = 8 channels of six planes of
    # 8x8 (xy), 8x2 (xz, yz), 2x8 (tx, ty) and 2x2 (tz) cells
    assert floats == 8 * (64 + 16 + 16 + 16 + 16 + 4)
    assert rows["vae"]["latent_floats"] == floats
    assert rows["vae"]["compression_ratio"] == pytest.approx(4 * 16 * 16 * 4 / floats)
    assert rows["dit"]["compression_ratio"] is None and rows["dit"]["latent_floats"] is None


def test_each_batch_size_is_measured(runs):
    _, rows, _ = runs
    assert [cost["batch"] for cost in rows["vae"]["train"]] == [1]
    b1, b8 = rows["dit"]["train"]
    assert (b1["batch"], b8["batch"]) == (1, 8)
    # 8x the tokens of a 25-token map, mostly fixed cost: measured 1.4-1.8x the time on a quiet machine,
    # but a busy one reorders them, so the times are only checked to be measured
    assert b8["seconds"] > 0 and b1["seconds"] > 0
    # batch 8 is measured after batch 1 in the same process: measured 16 against 12 MB
    assert b8["peak_mb"] >= b1["peak_mb"] > rows["dit"]["weights_mb"]


def test_inference_and_training_compare_as_their_work_does(runs):
    _, rows, _ = runs
    vae, dit = rows["vae"], rows["dit"]
    # encode + decode has no backward, loss or optimiser: measured 2.1-4.2x faster, half the peak
    assert 0 < vae["infer"]["seconds"] < vae["train"][0]["seconds"]
    assert vae["infer"]["peak_mb"] < vae["train"][0]["peak_mb"]
    # a scene is 20 denoiser passes and a decode, a step one pass and its backward: measured 4-10x
    assert dit["infer"]["seconds"] > 2 * dit["train"][0]["seconds"]


def test_a_missing_run_and_a_vae_run_as_the_dit_are_one_line_errors(runs, tmp_path, capsys):
    root, _, _ = runs
    cases = [
        (tmp_path / "nowhere", root / "dit", str(tmp_path / "nowhere")),
        (root / "vae", root / "vae", f"{root / 'vae'}: not a run of this kind"),
    ]
    for vae, dit, message in cases:
        with pytest.raises(SystemExit) as exit_:
            cli("stats", "--vae", vae, "--dit", dit, "--device", "cpu")
        assert exit_.value.code == 1
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("error: ") and message in err


def test_each_timed_call_has_its_flops_and_share_of_the_device_s_peak(runs):
    _, rows, _ = runs
    for row in rows.values():
        peak = row["machine"]["bf16_flop_s" if row["autocast_bf16"] else "fp32_flop_s"]  # the dtype it ran in
        assert row["machine"]["threads"] == 1 and peak > 0
        for cost, rate in [
            *zip(row["train"], row["train_rates"], strict=True),
            (row["infer"], row["infer_rate"]),
        ]:
            assert (rate["flops"], rate["seconds"]) == (cost["flops"], cost["seconds"])
            assert rate["flops"] > 0 and rate["peak_flop_s"] == peak and 0 < rate["share_of_peak"] < 1.5
    # the DiT's batch 8 step is 8x batch 1's work; a scene is 20 forwards of the (unconditional) denoiser and
    # a decode, a step one forward and its backward (about twice a forward): measured 7.1x a step's FLOPs
    b1, b8 = rows["dit"]["train"]
    assert b8["flops"] == 8 * b1["flops"]
    assert rows["dit"]["infer"]["flops"] > 5 * b1["flops"]

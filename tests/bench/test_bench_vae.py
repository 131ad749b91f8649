"""`bench vae` on the micro preset: relations between its numbers that a regression would break.

Each configuration runs in its own process, as the CLI runs it (a process's peak resident set only grows).
Timings come from a shared 2-core machine, so only relations with a large expected ratio are asserted.
"""

from __future__ import annotations

import json

import pytest

from dynamiccity.bench.vae import measure_isolated
from dynamiccity.vae.config import vae_preset
from dynamiccity.vae.model import HexPlaneVAE
from tests.conftest import cli

CFG = vae_preset("synthtown-micro").with_overrides(grid=(16, 16, 4))
RUNS = [("ess", False), ("ess", True), ("query", False)]  # (decoder, recompute)


@pytest.fixture(scope="module")
def results():
    configs = {
        (decoder, recompute): CFG.with_overrides(decoder=decoder, recompute=recompute)
        for decoder, recompute in RUNS
    }
    return {run: measure_isolated("synthtown-micro", cfg, repeats=3) for run, cfg in configs.items()}


@pytest.mark.parametrize("run", RUNS, ids=lambda r: f"{r[0]}-recompute-{r[1]}")
def test_reports_the_configuration_it_ran(results, run):
    result = results[run]
    decoder, recompute = run
    assert (result["encoder"], result["decoder"], result["recompute"]) == ("projection", decoder, recompute)
    assert (result["batch"], result["device"], result["preset"]) == (1, "cpu", "synthtown-micro")
    cfg = CFG.with_overrides(decoder=decoder, recompute=recompute)
    assert result["params"] == sum(p.numel() for p in HexPlaneVAE(cfg).parameters())


@pytest.mark.parametrize("run", RUNS, ids=lambda r: f"{r[0]}-recompute-{r[1]}")
def test_compression_is_voxels_over_latent_floats(results, run):
    # from the config alone: a (T, X, Y, Z) = (4, 16, 16, 4) window halved on every axis is a
    # (T', X', Y', Z') = (2, 8, 8, 2) HexPlane of C = 8 channels and six planes
    t, x, y, z = (s // d for s, d in zip((CFG.frames, *CFG.grid), CFG.downsample, strict=True))
    assert (t, x, y, z) == (2, 8, 8, 2)
    floats = CFG.latent_channels * (x * y + x * z + y * z + t * x + t * y + t * z)
    assert floats == 8 * 132
    assert results[run]["latent_floats"] == floats
    assert results[run]["compression_ratio"] == pytest.approx(4 * 16 * 16 * 4 / floats)


@pytest.mark.parametrize("run", RUNS, ids=lambda r: f"{r[0]}-recompute-{r[1]}")
def test_encode_decode_costs_less_than_a_training_step(results, run):
    # no backward, no loss, no optimiser step: counted in FLOPs, not seconds, which a busy machine bends
    rates = results[run]["rates"]
    assert 0 < rates["infer"]["flops"] < rates["train_step"]["flops"]
    assert results[run]["infer_s"] > 0 and results[run]["peak_mem_mb"] > 0


def test_recompute_changes_how_the_model_runs_not_the_model(results):
    plain, recompute = results[("ess", False)], results[("ess", True)]
    assert recompute["params"] == plain["params"]
    assert recompute["latent_floats"] == plain["latent_floats"]


def test_the_cli_times_each_lovasz_ordering_it_is_given(tmp_path, capsys):
    out = tmp_path / "bench.json"
    cli("bench", "vae", "--preset", "synthtown-micro", "--set", "grid=[16,16,4]", "--repeats", "1",
        "--lovasz-bins", "0", "--lovasz-bins", "64", "--json", out)  # fmt: skip
    rows = json.loads(out.read_text())["results"]
    assert [row["lovasz_bins"] for row in rows] == [None, 64]
    assert all(row["train_step_s"] > 0 and row["preset"] == "synthtown-micro" for row in rows)
    assert all(set(row["rates"]) == {"train_step", "infer", "encode"} for row in rows)
    # after the JSON lines, a Markdown table of the three timings of both runs
    table = [line for line in capsys.readouterr().out.splitlines() if line.startswith("|")]
    assert len(table) == 2 + 6 and table[2].startswith("| projection/ess: train_step | ")
    assert table[5].startswith("| projection/ess, lovasz bins 64: train_step | ")


def test_a_refined_encoding_costs_a_pass_plus_its_steps(tmp_path):
    # each refinement step decodes the window and takes the gradient to the latent: counted in FLOPs,
    # three steps cost more than one pass of the encoder and less than three training steps
    out = tmp_path / "bench.json"
    cli("bench", "vae", "--preset", "synthtown-micro", "--set", "grid=[16,16,4]", "--repeats", "1",
        "--refine", "3", "--json", out)  # fmt: skip
    row = json.loads(out.read_text())
    assert row["refine_steps"] == 3 and row["encode_s"] > 0
    flops = {name: rate["flops"] for name, rate in row["rates"].items()}
    assert flops["infer"] < flops["encode"] < 3 * flops["train_step"]


def test_one_pass_encoding_costs_less_than_encode_decode(results):
    rates = results[("ess", False)]["rates"]
    assert results[("ess", False)]["refine_steps"] == 0
    assert 0 < rates["encode"]["flops"] < rates["infer"]["flops"]


@pytest.mark.parametrize("run", RUNS, ids=lambda r: f"{r[0]}-recompute-{r[1]}")
def test_each_timed_step_has_its_flops_and_share_of_the_peak(results, run):
    result = results[run]
    machine = result["machine"]
    assert machine["device"] == "cpu" and machine["fp32_flop_s"] > 0
    assert (machine["bf16_flop_s"] is not None) == result["autocast_bf16"]  # measured where bf16 pays
    peak = (
        machine["bf16_flop_s"] if result["autocast_bf16"] else machine["fp32_flop_s"]
    )  # the dtype it ran in
    for name in ("train_step", "infer"):
        rate = result["rates"][name]
        assert rate["seconds"] == result[f"{name}_s"] and rate["peak_flop_s"] == peak
        assert rate["flop_s"] == pytest.approx(rate["flops"] / rate["seconds"])
        assert 0 < rate["share_of_peak"] < 1.5
    # a backward is about twice its forward: measured 2.99x encode+decode's FLOPs (the labels need no gradient)
    assert result["rates"]["train_step"]["flops"] > 2 * result["rates"]["infer"]["flops"]


def test_recompute_adds_flops_to_the_step_and_none_to_inference(results):
    plain, recompute = results[("ess", False)]["rates"], results[("ess", True)]["rates"]
    assert recompute["train_step"]["flops"] > plain["train_step"]["flops"]
    assert recompute["infer"]["flops"] == plain["infer"]["flops"]

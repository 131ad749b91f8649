"""`bench dit` on the micro preset: relations between its numbers that a regression would break.

Timings come from a shared 2-core machine, so only relations with a large expected ratio are asserted; each
says the ratio measured there (synthtown-micro, 2 threads, five runs).
"""

from __future__ import annotations

import pytest
import torch

import dynamiccity.vae.model
from dynamiccity.bench.dit import measure
from dynamiccity.dit import HexPlaneDiT, dit_preset
from dynamiccity.dit.conditions import CONDITIONS
from dynamiccity.vae.model import HexPlaneVAE

SAMPLERS = [("dpmpp", 20), ("ddim", 20), ("ddim", 50)]
BALLAST_MB = 256


class BallastVAE(HexPlaneVAE):
    """The scene decoder, holding BALLAST_MB of touched memory from its construction on: every peak read after
    the bench builds it includes the ballast, every peak read before does not."""

    def __init__(self, cfg) -> None:
        super().__init__(cfg)
        self.ballast = torch.ones(BALLAST_MB * 2**20 // 4)


@pytest.fixture(scope="module")
def result():
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(dynamiccity.vae.model, "HexPlaneVAE", BallastVAE)
        return measure("synthtown-micro", SAMPLERS, repeats=3)


def test_sizes_are_the_model_s(result):
    # the (2, 16, 16, 2) HexPlane's padded rollout is a 20x20 map of 2x2 patches: 10 x 10 = 100 tokens,
    # of which the padding holds 3 (the corner beside tz and the two beside yz^T): 8x8 xy + 8x1 xz
    # + 8x1 tx^T + 1x8 ty + 1x1 tz + 1x8 yz^T = 97 real
    assert (result["tokens"], result["real_tokens"]) == (100, 97)
    conditional = HexPlaneDiT(dit_preset("synthtown-micro").with_overrides(conditions=CONDITIONS))
    assert result["params"] == sum(p.numel() for p in conditional.parameters())  # every condition branch
    assert result["conditions"] == list(CONDITIONS)
    assert set(result["sample_s"]) == {"dpmpp-20", "ddim-20", "ddim-50"}


def test_a_batch_of_8_trains_slower_than_a_batch_of_1(result):
    # 8x the tokens; measured 2.0-2.5x the time (once 1.4x, with two other test runs on the 2 cores): at
    # 100 tokens the micro step is partly fixed cost
    assert result["train_step_s_b8"] > result["train_step_s"]


def test_more_sampling_steps_take_longer(result):
    # 2.5x the denoiser steps; measured 2.2-2.5x the time (the decode is a shared ~8 ms)
    assert result["sample_s"]["ddim-20"] < result["sample_s"]["ddim-50"]
    # a scene is its sampling and its decode; measured 8x the decode alone
    assert result["decode_s"] < result["sample_s"]["ddim-20"]


def test_estimated_ddpm_1000_exceeds_a_measured_dpmpp_20_scene(result):
    # 1000 vs 20 guided denoiser steps and one decode each; measured 35-39x
    assert result["sample_s_estimated"]["ddpm-1000"] > result["sample_s"]["dpmpp-20"]


def test_batch_8_peak_is_read_before_the_scenes_are_generated(result):
    b1, b8, scenes = result["peak_mem_mb"], result["peak_mem_mb_with_b8"], result["peak_mem_mb_with_scenes"]
    assert 0 < b1 <= b8 <= scenes
    # batch 8 adds ~14 MB over batch 1 here; the ballast VAE built for the scenes must not count as batch 8's
    assert b8 < b1 + BALLAST_MB / 2
    assert scenes > b8 + BALLAST_MB / 2


def test_each_timed_step_has_its_flops_and_share_of_the_peak(result):
    seconds = {
        "train_step": result["train_step_s"],
        "train_step_b8": result["train_step_s_b8"],
        "per_step": result["per_step_s"],
        "decode": result["decode_s"],
    }
    assert set(result["rates"]) == set(seconds)
    peak = result["machine"][
        "bf16_flop_s" if result["autocast_bf16"] else "fp32_flop_s"
    ]  # the dtype it ran in
    for name, rate in result["rates"].items():
        assert rate["seconds"] == seconds[name] and rate["peak_flop_s"] == peak
        assert rate["flops"] > 0 and 0 < rate["share_of_peak"] < 1.5


def test_flops_follow_the_work(result):
    rates = {name: rate["flops"] for name, rate in result["rates"].items()}
    # every op works per sample (a dropped condition is masked, not skipped): 8 samples, 8x the FLOPs
    assert rates["train_step_b8"] == 8 * rates["train_step"]
    # a guided step is a forward at batch 2, a training step a forward and its backward at batch 1:
    # measured 0.64x
    assert rates["per_step"] < rates["train_step"]


@pytest.mark.parametrize("overrides", [{"conditions": ()}, {"context_pool": 2}])
def test_overrides_bench_the_network_they_describe(overrides):
    result = measure("synthtown-micro", [("dpmpp", 2)], repeats=1, overrides=overrides)
    cfg = dit_preset("synthtown-micro").with_overrides(**{"conditions": CONDITIONS, **overrides})
    assert result["params"] == sum(p.numel() for p in HexPlaneDiT(cfg).parameters())
    assert result["conditions"] == list(cfg.conditions) and result["context_pool"] == cfg.context_pool
    assert result["overrides"] == overrides


def test_a_guidance_interval_guides_only_its_steps():
    every = measure("synthtown-micro", [("ddim", 10)], repeats=1)
    some = measure("synthtown-micro", [("ddim", 10)], repeats=1, guidance_interval=(300, 700))
    assert every["guided_steps"] == {"ddim-10": 10}
    # ddim-10 steps through training timesteps 900, 800, ..., 0: 700, 600, 500 and 400 lie in 300..700
    assert some["guided_steps"] == {"ddim-10": 4} and some["guidance_interval"] == [300, 700]

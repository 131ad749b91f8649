"""The DiT benchmark reports every key the issue names (values are measured, not asserted as targets)."""

from __future__ import annotations

from dynamiccity.bench.dit import measure


def test_bench_dit_reports_keys():
    result = measure("synthtown-micro", [("dpmpp", 2), ("ddim", 2)], repeats=1)
    assert (result["tokens"], result["real_tokens"]) == (100, 97)
    for key in ("train_step_s", "train_step_s_b8", "peak_mem_mb", "per_step_s", "decode_s"):
        assert result[key] > 0, key
    assert set(result["sample_s"]) == {"dpmpp-2", "ddim-2"} and min(result["sample_s"].values()) > 0
    assert result["sample_s_estimated"]["ddpm-1000"] > 1000 * result["per_step_s"]

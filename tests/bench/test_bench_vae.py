"""The VAE benchmark reports every key the issue names (values are measured, not asserted as targets)."""

from __future__ import annotations

import pytest

from dynamiccity.bench.vae import measure_isolated
from dynamiccity.vae.config import vae_preset


@pytest.mark.parametrize("decoder", ["ess", "query"])
def test_bench_reports_keys(decoder):
    cfg = vae_preset("synthtown-micro").with_overrides(grid=(16, 16, 4), decoder=decoder)
    # in its own process, as the CLI runs it: a process's peak RSS only grows, so an in-process
    # measurement after a bigger one would report no new peak
    result = measure_isolated("synthtown-micro", cfg, repeats=1)
    for key in ("train_step_s", "infer_s", "peak_mem_mb", "params", "compression_ratio"):
        assert key in result and result[key] > 0
    assert result["compression_ratio"] == pytest.approx(4 * 16 * 16 * 4 / result["latent_floats"])

"""bench evaluator: the time to score a set of scenes splits into feature extraction and metrics."""

from __future__ import annotations

from dynamiccity.bench.evaluator import measure


def test_reports_where_the_time_goes():
    result = measure(scenes=4)
    assert result["scenes"] == 4 and result["window"] == [16, 64, 64, 8]
    assert 0 < result["features_s"] < result["total_s"] and result["metrics_s"] > 0
    assert result["fid_3d_untrained"] > 0  # two different sets of scenes

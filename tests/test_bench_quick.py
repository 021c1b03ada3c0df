"""The sensor benchmark's correctness part at a tiny size: the landing sensor under `dagster dev` and the
CLI backfill write the same daily_agg revenue, the sensor in two runs (catalog, one range). No time is
asserted: the figures are `make bench`'s."""

from __future__ import annotations

import pytest

from benchmarks import sensor_backfill

pytestmark = pytest.mark.slow


def test_sensor_history_backfill_matches_the_cli_in_two_runs(monkeypatch) -> None:
    monkeypatch.setenv("SPD_LANDING_SETTLE_S", "0")
    out = sensor_backfill.measure(n_days=4, orders=200, skus=16, repeats=1, interval_s=2, timeout_s=240)
    assert out["daily_agg_revenue_equal"] is True
    assert out["sensor_runs"] == [2]
    assert out["sensor_runs_failed"] == [0]

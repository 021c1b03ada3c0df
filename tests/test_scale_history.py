"""The history benchmark's correctness part at a tiny size: the nightly CLI run after a short and a
longer history writes the same revenue for yesterday (equal to its orders'), and re-running it leaves
its alerts unchanged. No time is asserted: the figures are in benchmarks/README.md."""

from __future__ import annotations

import pytest

from benchmarks import history

pytestmark = pytest.mark.slow


def test_nightly_run_gives_the_same_day_after_a_short_and_a_long_history(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("BENCH_HISTORY_DIR", str(tmp_path))
    out = history.run(short_days=3, long_days=12, orders=200, skus=16, repeats=1)
    short, long = out["short"]["result"], out["long"]["result"]
    assert short["daily_agg_revenue"] == long["daily_agg_revenue"] == short["orders_revenue"] > 0
    assert out["short"]["history_days"] == 3 and out["long"]["history_days"] == 12

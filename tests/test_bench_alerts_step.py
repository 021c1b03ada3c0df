"""benchmarks.alerts_step at a tiny size (BENCH_QUICK=1): it builds its data dir and runs the alerts
step through the CLI over a range and a nightly day; correctness only, no time asserted."""

from __future__ import annotations

import pytest

from benchmarks import alerts_step

pytestmark = pytest.mark.slow


def test_the_alerts_step_benchmark_checks_every_day_of_its_range_and_the_night(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("BENCH_QUICK", "1")
    out = alerts_step.measure(5_000, 20, 182, 86, keep=str(tmp_path))
    assert out["days_stored"] == 100 and out["range"]["days"] == 5
    assert out["range"]["day_files"] == 5  # a file for every checked day, alerts or none
    assert out["nightly"]["day_files"] == 1
    assert out["range"]["peak_gb"] > 0 and out["nightly"]["seconds"] > 0

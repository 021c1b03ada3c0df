"""The landing scale benchmark's correctness part at a tiny size (``BENCH_QUICK=1``): a history of
real-export-shaped CSV files backfilled through the Dagster CLI, then a nightly re-run, keeps every
line (an order or a quarantined row) and revenue per day to the cent. No time is asserted: the
figures are `make bench-landing`'s."""

from __future__ import annotations

import pytest

from benchmarks import landing

pytestmark = pytest.mark.slow


def test_landing_history_backfill_keeps_every_line_and_every_cent(monkeypatch) -> None:
    monkeypatch.setenv("BENCH_QUICK", "1")
    out = landing.measure(60, 1_000_000, 5_000, 20)
    history = out["history"]
    assert history["lines"] == 3 * 2_000
    assert history["check"] == {"revenue_equal": True, "days_unequal": [], "lines_lost_days": []}
    assert history["orders_bytes_per_line"] > 0
    assert history["nightly"]["seconds"] > 0 and history["cli"]["peak_mb"] > 0


def test_the_parse_floor_reads_every_line_each_way(monkeypatch) -> None:
    """``benchmarks.parse_floor`` at a tiny size: its readers and spd's read and validation all see
    the export's every line, so their times compare the same work."""
    from benchmarks import parse_floor

    monkeypatch.setenv("BENCH_QUICK", "1")
    out = parse_floor.measure()
    assert out["days"] == 2 and out["lines_a_day"] == 2_000
    assert set(out["rows_read"].values()) == {2 * 2_000}
    ways = {"newlines", "polars_text", "duckdb_to_polars", "spd_read", "spd_validate"}
    assert set(out["seconds_a_day"]) == ways


def test_the_parse_floor_names_a_folder_without_exports(tmp_path) -> None:
    from benchmarks import parse_floor

    with pytest.raises(SystemExit, match=f"{tmp_path}: no orders_YYYY-MM-DD.csv export to read"):
        parse_floor.measure(exports=str(tmp_path))

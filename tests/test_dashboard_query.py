"""The dashboard's data module against Parquet the pipeline wrote, checked with independent polars reads."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import polars as pl
import pytest
from dashboard_data import alert_row, read_asset

from spd_assets.core.schema import ALERTS, DAILY_AGG
from spd_assets.core.settings import data_dir_from_env
from spd_assets.core.storage import DayStore, day_dir_name, parse_day_dir
from spd_dashboard import query
from spd_dashboard.query.stable import FilesKeptChanging, unchanged_read
from spd_dashboard.selection import Period, Selection

ALL = Selection()


def _agg_rows(day: dt.date, revenue: float, region: str = "us-east") -> pl.DataFrame:
    return pl.DataFrame(
        [{"date": day, "sku": "SKU-0001", "category": "toys", "region": region, "orders": 2, "units": 3,
          "revenue": revenue, "aov": revenue / 2}],
        schema=DAILY_AGG,
    )  # fmt: skip


def test_daily_totals_equal_the_parquet_sums_per_day(dashboard_history):
    h = dashboard_history
    start, end = h.days[3], h.days[-1]
    got = query.daily_totals(h.data_dir, ALL, start, end)
    want = (
        read_asset(h.data_dir, "daily_agg")
        .filter(pl.col("date").is_between(start, end))
        .group_by("date")
        .agg(pl.col("revenue", "orders", "units").sum())
        .sort("date")
    )
    assert got["date"].to_list() == h.days[3:]
    assert got["revenue"].to_list() == pytest.approx(want["revenue"].to_list())
    assert got["orders"].to_list() == want["orders"].to_list()
    assert got["units"].to_list() == want["units"].to_list()


def test_region_category_and_sku_filters_narrow_the_totals(dashboard_history):
    h = dashboard_history
    agg = read_asset(h.data_dir, "daily_agg")
    everything = query.daily_totals(h.data_dir, ALL, h.days[0], h.last)["revenue"].sum()
    cases = [
        (Selection(regions=("us-east",)), pl.col("region") == "us-east"),
        (Selection(categories=("electronics", "toys")), pl.col("category").is_in(["electronics", "toys"])),
        (Selection(skus=("SKU-0001", "SKU-0002")), pl.col("sku").is_in(["SKU-0001", "SKU-0002"])),
        (Selection(regions=("apac", "latam"), categories=("home",)),
         pl.col("region").is_in(["apac", "latam"]) & (pl.col("category") == "home")),
    ]  # fmt: skip
    for sel, cond in cases:
        got = query.daily_totals(h.data_dir, sel, h.days[0], h.last)["revenue"].sum()
        assert got == pytest.approx(agg.filter(cond)["revenue"].sum()), sel
        assert 0 < got < everything
    assert query.daily_totals(h.data_dir, Selection(skus=()), h.days[0], h.last)["revenue"].sum() == 0


def test_seven_day_sums_the_pipelines_rows_of_the_matching_level(dashboard_history):
    h = dashboard_history
    metrics = read_asset(h.data_dir, "daily_metrics").filter(pl.col("date") == h.last)
    total = query.seven_day(h.data_dir, ALL, h.last, h.last).row(0, named=True)
    pipeline_total = metrics.filter(pl.col("level") == "total").row(0, named=True)
    assert total["level"] == "total"
    assert total["revenue_7d"] == pytest.approx(pipeline_total["revenue_7d"])
    assert total["pct_change_7d"] == pytest.approx(pipeline_total["pct_change_7d"], abs=1e-6)

    two = query.seven_day(h.data_dir, Selection(regions=("us-east", "apac")), h.last, h.last).row(
        0, named=True
    )
    regions = metrics.filter((pl.col("level") == "region") & pl.col("region").is_in(["us-east", "apac"]))
    assert two["level"] == "region"
    assert two["revenue_7d"] == pytest.approx(regions["revenue_7d"].sum())
    assert two["pct_change_7d"] == pytest.approx(
        regions["revenue_7d"].sum() / regions["revenue_7d_prev"].sum() - 1
    )

    cell = query.seven_day(h.data_dir, Selection(regions=("apac",), categories=("home",)), h.last, h.last)
    cells = metrics.filter(
        (pl.col("level") == "sku_region") & (pl.col("region") == "apac") & (pl.col("category") == "home")
    )
    assert cell["level"][0] == "category_region"  # the pipeline's roll-up of exactly those cells
    assert cell["revenue_7d"][0] == pytest.approx(cells["revenue_7d"].sum())

    by_region = query.seven_day(h.data_dir, ALL, h.last, h.last, by_region=True)
    assert sorted(by_region["region"]) == sorted(metrics.filter(pl.col("level") == "region")["region"])


def test_seven_day_change_is_empty_exactly_where_the_pipeline_left_it_empty(dashboard_history):
    h = dashboard_history
    pipeline = (
        read_asset(h.data_dir, "daily_metrics")
        .filter(pl.col("level") == "region")
        .group_by("date")
        .agg(defined=pl.col("pct_change_7d").is_not_null().any())
    )
    got = query.seven_day(h.data_dir, Selection(regions=("us-east", "eu-west")), h.days[0], h.last)
    want = dict(pipeline.iter_rows())
    assert [v is not None for v in got["pct_change_7d"]] == [want[d] for d in got["date"]]
    assert got["pct_change_7d"][0] is None and got["pct_change_7d"][-1] is not None


def test_by_sku_splits_the_period_from_the_previous_one(dashboard_history):
    h = dashboard_history
    period = Period(h.days[-7], h.last)
    got = query.by_sku(h.data_dir, ALL, period)
    agg = read_asset(h.data_dir, "daily_agg")
    current = (
        agg.filter(pl.col("date").is_between(period.start, period.end))
        .group_by("sku")
        .agg(pl.col("revenue").sum())
    )
    previous = (
        agg.filter(pl.col("date").is_between(period.prev_start, period.prev_end))
        .group_by("sku")
        .agg(pl.col("revenue").sum())
    )
    row = got.row(0, named=True)
    assert row["revenue"] == pytest.approx(current.filter(pl.col("sku") == row["sku"])["revenue"][0])
    assert row["prev_revenue"] == pytest.approx(previous.filter(pl.col("sku") == row["sku"])["revenue"][0])
    assert row["revenue"] == got["revenue"].max()  # sorted by revenue, best first
    assert len(row["daily"]) == 7 and sum(row["daily"]) == pytest.approx(row["revenue"])
    assert got["revenue"].sum() == pytest.approx(current["revenue"].sum())


def test_a_rewritten_day_invalidates_the_cache(tmp_path):
    root, day = str(tmp_path), dt.date(2025, 3, 1)
    store = DayStore(root)
    store.write("daily_agg", day, _agg_rows(day, 100.0))
    assert query.daily_totals(root, ALL, day, day)["revenue"][0] == 100.0
    store.write("daily_agg", day, _agg_rows(day, 250.0))
    path = Path(store.path("daily_agg", day))
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 1_000_000))  # same-tick rewrites
    assert query.daily_totals(root, ALL, day, day)["revenue"][0] == 250.0


def test_a_page_run_lists_each_asset_once_and_the_next_run_sees_a_new_day(tmp_path):
    """Within ``one_listing`` (each page run of the app) every query sees the files the first listing
    found, so a day written meanwhile cannot show in one chart and not in the next; the next page run
    lists again and shows it. Outside one, each call lists."""
    root, d1, d2 = str(tmp_path), dt.date(2025, 3, 1), dt.date(2025, 3, 2)
    store = DayStore(root)
    store.write("daily_agg", d1, _agg_rows(d1, 10.0))
    with query.one_listing():
        first = query.scan(root, "daily_agg")
        store.write("daily_agg", d2, _agg_rows(d2, 20.0))
        assert query.scan(root, "daily_agg") is first and first.days == (d1,)
        assert query.daily_totals(root, ALL, d1, d2)["date"].to_list() == [d1]
        assert query.scan(root, "daily_metrics").days == ()  # each asset listed on its own
    assert query.scan(root, "daily_agg").days == (d1, d2)
    with query.one_listing():
        assert query.daily_totals(root, ALL, d1, d2)["revenue"].to_list() == [10.0, 20.0]


def test_stray_tmp_files_are_ignored_and_an_empty_day_counts_as_zero(tmp_path):
    root = str(tmp_path)
    store = DayStore(root)
    d1, d2, d3 = (dt.date(2025, 3, i) for i in (1, 2, 3))
    store.write("daily_agg", d1, _agg_rows(d1, 10.0))
    store.write("daily_agg", d2, pl.DataFrame(schema=DAILY_AGG))
    (tmp_path / "daily_agg" / f"date={d3}").mkdir()
    (tmp_path / "daily_agg" / f"date={d3}" / "data.parquet.tmp-1234").write_bytes(b"half a file")
    (tmp_path / "daily_agg" / f"date={d1}" / "data.parquet.tmp-5678").write_bytes(b"half a file")
    assert query.scan(root, "daily_agg").days == (d1, d2)
    got = query.daily_totals(root, ALL, d1, d3)
    assert got.rows() == [(d1, 10.0, 2, 3), (d2, 0.0, 0, 0)]
    assert query.partitions(root, "daily_agg").rows() == [(d1, 1), (d2, 0)]


def test_an_empty_data_dir_reads_as_no_data(tmp_path):
    root = str(tmp_path / "nothing-here")
    assert query.bounds(root) is None
    assert query.daily_totals(root, ALL, dt.date(2025, 1, 1), dt.date(2025, 1, 31)).is_empty()
    assert query.alerts(root).is_empty() and "severity" in query.alerts(root).columns
    assert query.by_sku(root, ALL, Period(dt.date(2025, 1, 1), dt.date(2025, 1, 7))).is_empty()
    assert query.quarantine_summary(root) is None
    assert query.list_assets(root) == []


def test_bounds_cover_the_history_regions_and_categories(dashboard_history):
    h = dashboard_history
    b = query.bounds(h.data_dir)
    agg = read_asset(h.data_dir, "daily_agg")
    assert (b.first, b.last) == (h.days[0], h.last)
    assert set(b.regions) == set(agg["region"])
    assert set(agg["category"]) <= set(b.categories)


def test_alerts_come_newest_first_and_most_severe_first(dashboard_history):
    h = dashboard_history
    got = query.alerts(h.data_dir)
    assert got.height == 4
    assert got["date"].to_list() == sorted(got["date"].to_list(), reverse=True)
    assert got.filter(pl.col("date") == h.last)["severity"].to_list() == ["critical", "warning"]
    assert query.alerts(h.data_dir, h.days[0], h.days[-2]).height == 2


def test_series_reads_one_series_by_its_levels_keys(dashboard_history):
    h = dashboard_history
    got = query.series(h.data_dir, "region", None, "ignored-category", "us-east", h.days[-5], h.last)
    want = read_asset(h.data_dir, "daily_metrics").filter(
        (pl.col("level") == "region") & (pl.col("region") == "us-east") & (pl.col("date") >= h.days[-5])
    )
    assert got["date"].to_list() == h.days[-5:]
    assert got["revenue"].to_list() == pytest.approx(want.sort("date")["revenue"].to_list())


def test_partitions_count_rows_and_quarantine_groups_by_reason(dashboard_history):
    h = dashboard_history
    parts = query.partitions(h.data_dir, "alerts")
    assert parts["date"].to_list() == h.days
    assert parts["rows"].sum() == 4 and (parts["rows"] == 0).sum() == len(h.days) - 2
    q = query.quarantine_summary(h.data_dir)
    assert sorted(q.select("field", "reason", "rows").rows()) == [
        ("qty", "negative quantity", 2),
        ("sku", "unknown SKU", 1),
    ]
    assert {"daily_agg", "daily_metrics", "orders", "catalog", "alerts"} <= set(query.list_assets(h.data_dir))


def test_the_dashboard_lists_exactly_the_days_the_store_lists(tmp_path):
    root = str(tmp_path)
    store = DayStore(root)
    days = [dt.date(2025, 3, 1), dt.date(2025, 3, 4)]
    for day in days:
        store.write("daily_agg", day, _agg_rows(day, 10.0))
    for stray in ("date=2025-13-01", "date=", "notes", "2025-03-02"):
        (tmp_path / "daily_agg" / stray).mkdir()
        (tmp_path / "daily_agg" / stray / "data.parquet").write_bytes(b"not a day")
    assert list(query.scan(root, "daily_agg").days) == store.days("daily_agg") == days
    assert parse_day_dir(day_dir_name(days[0])) == days[0]
    assert parse_day_dir("date=2025-13-01") is None


def test_the_dashboard_reads_spd_data_dir_as_the_pipeline_does(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    for raw in ("", "  ", "some/where", str(tmp_path / "abs")):
        monkeypatch.setenv("SPD_DATA_DIR", raw)
        assert query.data_dir() == data_dir_from_env()
    monkeypatch.setenv("SPD_DATA_DIR", "  ")
    assert query.data_dir() == str(tmp_path / "data")


def test_alerts_written_before_a_column_existed_read_with_that_column_empty(tmp_path):
    root, old, new = str(tmp_path), dt.date(2025, 3, 1), dt.date(2025, 3, 2)
    dropped = list(ALERTS)[-1]  # the newest column: files of the previous layout lack it
    rows = pl.DataFrame(
        [alert_row(old, "region", "warning", region="apac"), alert_row(new, "total", "critical")],
        schema=ALERTS,
    )
    filled = rows.with_columns(pl.lit(_sample(ALERTS[dropped])).cast(ALERTS[dropped]).alias(dropped))
    store = DayStore(root)
    store.write("alerts", old, filled.filter(pl.col("date") == old).drop(dropped))
    store.write("alerts", new, filled.filter(pl.col("date") == new))
    got = query.alerts(root)
    assert set(ALERTS) <= set(got.columns)
    assert got.select("date", "severity").rows() == [(new, "critical"), (old, "warning")]
    assert got[dropped].to_list() == [filled[dropped][0], None]
    assert query.alerts(root, old, old)[dropped].to_list() == [None]


def _sample(dtype: pl.DataType) -> object:
    """A non-null value of ``dtype`` (the dropped column's type is whatever the schema holds last)."""
    if dtype == pl.Date:
        return dt.date(2025, 3, 2)
    return "x" if dtype == pl.String else 1


def _replaced_during_first_read(store: DayStore, day: dt.date, then: float, fail: bool = False):
    """A read of ``day``'s revenue whose first call sees the file replaced (by ``then``) under it."""
    path = store.path("daily_agg", day)
    seen: list[float] = []

    def read() -> float:
        value = float(pl.read_parquet(path)["revenue"].sum())
        seen.append(value)
        if len(seen) == 1:
            store.write("daily_agg", day, _agg_rows(day, then))  # the run's rename lands mid-read
            if fail:
                raise OSError("Out of buffer")  # what DuckDB says on a footer from the old file
        return value

    return path, read, seen


@pytest.mark.parametrize("fail", [False, True])
def test_a_read_during_which_its_day_file_is_replaced_is_done_again(tmp_path, fail):
    store, day = DayStore(str(tmp_path)), dt.date(2025, 3, 1)
    store.write("daily_agg", day, _agg_rows(day, 100.0))
    path, read, seen = _replaced_during_first_read(store, day, 250.0, fail)
    assert unchanged_read([path], read) == 250.0
    assert seen == [100.0, 250.0]


def test_an_error_while_no_file_changed_is_the_files_own(tmp_path):
    store, day = DayStore(str(tmp_path)), dt.date(2025, 3, 1)
    store.write("daily_agg", day, _agg_rows(day, 100.0))
    calls = []

    def damaged() -> None:
        calls.append(1)
        raise OSError("a damaged file")

    with pytest.raises(OSError, match="a damaged file"):
        unchanged_read([store.path("daily_agg", day)], damaged)
    assert calls == [1]  # not read again: the damaged-file message shows at once


def test_files_replaced_during_every_read_say_a_run_is_rewriting_them(tmp_path):
    store, day = DayStore(str(tmp_path)), dt.date(2025, 3, 1)
    store.write("daily_agg", day, _agg_rows(day, 100.0))

    def always_replaced() -> None:
        store.write("daily_agg", day, _agg_rows(day, 1.0))

    with pytest.raises(FilesKeptChanging, match="a run is rewriting them"):
        unchanged_read([store.path("daily_agg", day)], always_replaced, tries=3)

"""The dashboard reads daily_metrics' roll-ups when they are current and daily_agg otherwise, with the
same figures either way (catalog scale made daily_agg 400,000 rows a day: the roll-ups are the fast path)."""

from __future__ import annotations

import datetime as dt
import os
import shutil
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from benchmarks.catalog_scale import CatalogShop
from spd_assets.core.metrics import LOOKBACK_DAYS, rolling_metrics
from spd_assets.core.storage import DayStore
from spd_dashboard import query
from spd_dashboard.query import windows
from spd_dashboard.query.levels import rolled_up
from spd_dashboard.selection import Period, Selection
from tests.conftest import recent_days

DAYS = recent_days(70)


@pytest.fixture(scope="module")
def shop_dir(tmp_path_factory) -> str:
    root = str(tmp_path_factory.mktemp("scale-dashboard"))
    shop = CatalogShop(60, 4)
    shop.write(root, DAYS)
    store = DayStore(root)
    for day in DAYS:  # some lines cancelled, as in a real export: their own card, kept out of revenue
        frame = store.read("daily_agg", day)
        lost = (frame["orders"] * (frame["units"] % 3) // 10).cast(pl.Int64)
        store.write(
            "daily_agg", day, frame.with_columns(cancelled_orders=lost, cancelled_revenue=lost * 9.99)
        )
    agg = store.read_days("daily_agg", DAYS)
    metrics = rolling_metrics(agg, DAYS, DAYS)
    for (day,), part in metrics.partition_by("date", as_dict=True).items():
        store.write("daily_metrics", day, part)
    assert len(store.days("daily_metrics")) == len(DAYS) > LOOKBACK_DAYS
    return root


SELECTIONS = [
    Selection(),
    Selection(regions=("us-east",)),
    Selection(regions=("us-east", "eu-west"), categories=("toys",)),
    Selection(categories=("books", "home")),
    Selection(skus=("SKU-0003", "SKU-0010")),
    Selection(skus=()),
]
PAGE_SELECTIONS = [*SELECTIONS, Selection(regions=("us-east",), categories=("toys", "books"))]


def _views(root: str, sel: Selection, period: Period) -> tuple[pl.DataFrame, pl.DataFrame]:
    import streamlit as st

    st.cache_data.clear()
    totals = query.daily_totals(root, sel, period.start, period.end)
    return totals, query.by_sku(root, sel, period).sort("sku")


@pytest.mark.parametrize("sel", SELECTIONS, ids=range(len(SELECTIONS)))
def test_roll_ups_and_daily_agg_give_the_same_totals_and_sku_table(shop_dir, sel):
    period = Period(DAYS[-28], DAYS[-1])
    assert rolled_up(shop_dir, period.prev_start, period.end) is not None
    fast = _views(shop_dir, sel, period)
    day = DAYS[-3]  # its daily_agg rewritten after its metrics: the roll-ups are stale, daily_agg is read
    path = DayStore(shop_dir).path("daily_agg", day)
    stat = os.stat(path)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**10))
    try:
        assert rolled_up(shop_dir, period.prev_start, period.end) is None
        slow = _views(shop_dir, sel, period)
    finally:
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert_frame_equal(fast[0], slow[0], check_exact=False, abs_tol=1e-6)
    assert_frame_equal(fast[1], slow[1], check_exact=False, abs_tol=1e-6)
    assert fast[1]["daily"].list.len().to_list() == [28] * fast[1].height


def test_a_day_without_metrics_falls_back_to_daily_agg(shop_dir):
    store, extra = DayStore(shop_dir), DAYS[-1] + dt.timedelta(days=1)
    store.write("daily_agg", extra, CatalogShop(60, 4).day(extra))  # its metrics not materialized yet
    try:
        assert rolled_up(shop_dir, DAYS[-7], extra) is None
        totals, table = _views(shop_dir, Selection(), Period(DAYS[-6], extra))
        assert totals["date"].to_list()[-1] == extra
        assert table["revenue"].sum() == pytest.approx(totals["revenue"].sum())
    finally:
        store.delete("daily_agg", extra)
    assert rolled_up(shop_dir, DAYS[-7], DAYS[-1]) is not None


@pytest.mark.parametrize("sel", [Selection(regions=("us-east",)), Selection()], ids=["sku_region", "sku"])
def test_a_damaged_metrics_file_is_named_whichever_reader_meets_it(shop_dir, tmp_path, sel):
    """The SKU table reads daily_metrics with Polars (SKU x region rows) or from the roll-ups kept in
    memory; a damaged file must still stop the page with the file's name, not Polars' own error."""
    import streamlit as st

    from spd_assets.core.storage import DamagedPartitionError
    from spd_dashboard.query.files import clear_memory

    root = tmp_path / "data"
    shutil.copytree(shop_dir, root)
    damaged = Path(DayStore(str(root)).path("daily_metrics", DAYS[-2]))
    damaged.write_bytes(damaged.read_bytes()[: damaged.stat().st_size // 2])
    st.cache_data.clear()
    clear_memory()
    with pytest.raises(DamagedPartitionError, match=str(damaged)):
        query.by_sku(str(root), sel, Period(DAYS[-28], DAYS[-1]))
    both = Selection(regions=("us-east",), categories=("toys",))  # totals from SKU x region rows too
    with pytest.raises(DamagedPartitionError, match=str(damaged)):
        query.daily_totals(str(root), both, DAYS[-28], DAYS[-1])


@pytest.mark.parametrize("by_region", [False, True])
def test_a_region_and_a_category_sum_the_sku_region_rows_as_sql_does(shop_dir, by_region):
    """No roll-up holds a region and a category together: totals and 7-day windows sum the SKU x region
    rows (read by Polars), and must give what the same sums in SQL over the files give."""
    import duckdb
    import streamlit as st

    st.cache_data.clear()
    sel = Selection(regions=("us-east", "eu-west"), categories=("toys", "books"))
    start, end = DAYS[-28], DAYS[-1]
    files = [DayStore(shop_dir).path("daily_metrics", d) for d in DAYS[-28:]]
    where = "level = 'sku_region' AND region IN ('us-east', 'eu-west') AND category IN ('toys', 'books')"
    group = "date, region" if by_region else "date"
    expected = duckdb.sql(
        f"SELECT {group}, sum(revenue_7d) AS revenue_7d FROM read_parquet({files!r}) WHERE {where}"
        f" GROUP BY {group} ORDER BY {group}"
    ).pl()
    seven = query.seven_day(shop_dir, sel, start, end, by_region=by_region)
    assert seven.height == expected.height == 28 * (2 if by_region else 1)
    assert seven["revenue_7d"].to_list() == pytest.approx(expected["revenue_7d"].to_list())
    totals = query.daily_totals(shop_dir, sel, start, end)
    direct = duckdb.sql(
        f"SELECT date, sum(revenue) AS revenue, sum(orders) AS orders FROM read_parquet({files!r})"
        f" WHERE {where} GROUP BY date ORDER BY date"
    ).pl()
    assert totals["revenue"].to_list() == pytest.approx(direct["revenue"].to_list())
    assert totals["orders"].to_list() == direct["orders"].cast(pl.Int64).to_list()


def _sku_sums_sql(root: str, regions: tuple[str, ...], period: Period) -> pl.DataFrame:
    """Each SKU's revenue, orders and previous revenue in ``regions``, summed from daily_agg in SQL."""
    import duckdb

    files = [DayStore(root).path("daily_agg", d) for d in DayStore(root).days("daily_agg")]
    where = f"region IN {(*regions, '')!r}" if regions else "TRUE"
    return duckdb.sql(
        f"SELECT sku, coalesce(sum(revenue) FILTER (WHERE date >= DATE '{period.start}'), 0) AS revenue,"
        f" coalesce(sum(orders) FILTER (WHERE date >= DATE '{period.start}'), 0)::BIGINT AS orders,"
        f" coalesce(sum(revenue) FILTER (WHERE date < DATE '{period.start}'), 0) AS prev_revenue"
        f" FROM read_parquet({files!r}) WHERE {where} AND date BETWEEN"
        f" DATE '{period.prev_start}' AND DATE '{period.end}' GROUP BY sku ORDER BY sku"
    ).pl()


def _sku_sums(root: str, sel: Selection, period: Period) -> pl.DataFrame:
    import streamlit as st

    st.cache_data.clear()
    got = query.by_sku(root, sel, period, daily=False)
    assert got["daily"].null_count() == got.height  # no lists asked for, none made
    return got.select("sku", "revenue", "orders", "prev_revenue").sort("sku")


@pytest.mark.parametrize("regions", [("us-east", "eu-west"), ()], ids=["sku_region", "sku"])
@pytest.mark.parametrize("days", [28, 30, 9])
def test_sku_sums_from_7_day_windows_equal_the_days_sums(shop_dir, days, regions):
    """The Overview's movers sum SKUs (in regions: SKU x region rows) from daily_metrics' 7-day windows
    (8 files for 28 days and the 28 before, not 56): the same sums as daily_agg's days, the odd days
    read one by one."""
    period = Period(DAYS[-days], DAYS[-1])
    expected = _sku_sums_sql(shop_dir, regions, period)
    got = _sku_sums(shop_dir, Selection(regions=regions), period)
    assert_frame_equal(got, expected, check_exact=False, abs_tol=1e-6, check_dtypes=False)
    listed = query.by_sku(shop_dir, Selection(regions=regions), period)  # daily lists: the days read
    assert_frame_equal(
        listed.select(got.columns).sort("sku"), got, check_exact=False, abs_tol=1e-6, check_dtypes=False
    )
    assert listed["daily"].list.len().unique().to_list() == [days]


def _period_sums(root: str, sel: Selection, period: Period) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The KPI cards' sums of the period two ways: period_totals (windows) and the days' totals summed."""
    import streamlit as st

    st.cache_data.clear()
    days = query.daily_totals(root, sel, period.start, period.end).select(
        pl.col("revenue", "orders", "units").sum()
    )
    return query.period_totals(root, sel, period.start, period.end), days


@pytest.mark.parametrize("days", [28, 30, 9])
@pytest.mark.parametrize("sel", PAGE_SELECTIONS, ids=range(len(PAGE_SELECTIONS)))
def test_period_sums_from_7_day_windows_equal_the_days_sums(shop_dir, sel, days):
    """The previous period's KPI sums come from daily_metrics' 7-day windows of the selection's level (4
    files for 28 days), the odd days read one by one: the same sums as each day's totals."""
    period = Period(DAYS[-days], DAYS[-1])
    files, metrics = query.scan(shop_dir, "daily_agg"), query.scan(shop_dir, "daily_metrics")
    cover = windows.plan(files, metrics, (), [(period.start, period.end)])
    assert len(cover.ends) == days // 7 and len(cover.days) == days % 7
    got, expected = _period_sums(shop_dir, sel, period)
    assert_frame_equal(got, expected, check_exact=False, abs_tol=1e-6)
    assert (got["orders"].item() > 0) == (sel.skus != ())


@pytest.mark.parametrize("change", ["rewritten", "deleted"])
def test_a_window_not_current_is_read_day_by_day(shop_dir, tmp_path, change):
    """A day rewritten (daily_agg and its own metrics) after the windows that cover it were written, or
    deleted since: those windows no longer stand for their days, which are then read one by one."""
    root = str(tmp_path / "data")
    shutil.copytree(shop_dir, root)
    store, day = DayStore(root), DAYS[-10]
    if change == "rewritten":
        later = store.read("daily_agg", day).with_columns(pl.col("revenue") * 3, pl.col("orders") * 2)
        store.write("daily_agg", day, later)
        need = [d for d in DAYS if day - dt.timedelta(days=LOOKBACK_DAYS) <= d <= day]
        store.write("daily_metrics", day, rolling_metrics(store.read_days("daily_agg", need), need, [day]))
    else:
        store.delete("daily_agg", day)
        store.delete("daily_metrics", day)
    period = Period(DAYS[-28], DAYS[-1])
    assert rolled_up(root, period.prev_start, period.end) is not None  # each day's own metrics current
    regions = ("us-east",)
    expected = _sku_sums_sql(root, regions, period)
    assert_frame_equal(
        _sku_sums(root, Selection(regions=regions), period),
        expected,
        check_exact=False,
        abs_tol=1e-6,
        check_dtypes=False,
    )
    got, days = _period_sums(root, Selection(regions=regions), period)  # the KPI cards' sums too
    assert_frame_equal(got, days, check_exact=False, abs_tol=1e-6)


def _previous_version(root: str) -> None:
    """daily_metrics as the version before the category_region roll-up wrote it: without that level's
    rows and without the cancelled columns (each file rewritten later than its daily_agg, as it was)."""
    store = DayStore(root)
    for day in store.days("daily_metrics"):
        frame = store.read("daily_metrics", day)
        store.write(
            "daily_metrics",
            day,
            frame.filter(pl.col("level") != "category_region").drop("cancelled_orders", "cancelled_revenue"),
        )


@pytest.mark.parametrize("sel", PAGE_SELECTIONS, ids=range(len(PAGE_SELECTIONS)))
def test_the_page_gives_the_same_figures_on_files_the_previous_version_wrote(shop_dir, tmp_path, sel):
    """Totals, 7-day windows (overall and by region), cancelled lines, the SKU sums and the Regions
    page's sums come from the category_region roll-up and the cancelled columns when the files hold
    them, and from SKU x region rows and daily_agg when they were written before: the same figures
    either way, and daily_agg's."""
    import duckdb
    import streamlit as st

    from spd_dashboard.query.files import clear_memory

    period = Period(DAYS[-28], DAYS[-1])

    def page(root: str) -> dict:
        st.cache_data.clear()
        clear_memory()
        return {
            "totals": query.daily_totals(root, sel, period.start, period.end),
            "seven": query.seven_day(root, sel, period.start, period.end).drop("level"),
            "by_region": query.seven_day(root, sel, period.start, period.end, by_region=True).drop("level"),
            "cancelled": query.cancelled(root, sel, period.start, period.end),
            "skus": query.by_sku(root, sel, period, daily=False).sort("sku"),
            "by_region_category": query.by_region_category(root, sel, period),
            "region_daily": query.region_daily(root, sel, period.start, period.end),
        }

    old = str(tmp_path / "old")
    shutil.copytree(shop_dir, old)
    _previous_version(old)
    new, before = page(shop_dir), page(old)
    for name in ("totals", "seven", "by_region", "skus", "by_region_category", "region_daily"):
        assert_frame_equal(new[name], before[name], check_exact=False, abs_tol=1e-6, check_dtypes=False)
    assert new["cancelled"][0] == before["cancelled"][0]
    assert new["cancelled"][0] > 0 or sel.skus == ()  # a search that matched no SKU cancels nothing
    assert new["cancelled"][1] == pytest.approx(before["cancelled"][1])
    files = [DayStore(shop_dir).path("daily_agg", d) for d in DAYS[-28:]]
    where = (
        " AND ".join(
            [f"{c} IN {(*v, '')!r}" for c, v in (("region", sel.regions), ("category", sel.categories)) if v]
            + ([f"sku IN {(*sel.skus, '')!r}"] if sel.skus is not None else [])
        )
        or "TRUE"
    )
    direct = duckdb.sql(
        f"SELECT sum(cancelled_orders) FROM read_parquet({files!r}) WHERE {where}"
    ).fetchall()[0]
    assert new["cancelled"][0] == (direct[0] or 0)


def test_the_combined_roll_up_is_what_a_region_with_categories_reads(shop_dir):
    """On files that hold it, a region with categories reads the category_region rows (a few a day),
    not the SKU x region rows; on files written before, it cannot."""
    from spd_dashboard.query.levels import finest_level, has_combined

    both = Selection(regions=("us-east",), categories=("toys",))
    paths = query.scan(shop_dir, "daily_metrics").between(DAYS[-28], DAYS[-1])
    assert has_combined(paths, DAYS[-1])
    assert finest_level(both, paths, DAYS[-1]) == "category_region"
    assert finest_level(Selection(regions=("us-east",), skus=("SKU-0003",)), paths, DAYS[-1]) == "sku_region"
    assert finest_level(Selection(categories=("toys",)), paths, DAYS[-1], by_region=True) == "category_region"


def test_the_regions_page_and_the_cancelled_card_read_the_roll_ups_not_daily_agg(shop_dir, tmp_path):
    """With current roll-ups the Regions page's sums and the cancelled card never open daily_agg: its
    files emptied behind the pipeline's back (their times kept) change nothing they show. A SKU's
    regions with no region chosen are the one view read from daily_agg (written SKU by SKU), so that
    view empties with it."""
    import streamlit as st

    from spd_dashboard.query.files import clear_memory

    root = str(tmp_path / "data")
    shutil.copytree(shop_dir, root)
    sel, period = Selection(categories=("toys",)), Period(DAYS[-28], DAYS[-1])
    region = query.bounds(root).regions[1]

    def sku_anywhere() -> pl.DataFrame:
        return query.region_daily(root, Selection(skus=("SKU-0003",)), period.start, period.end)

    def shown() -> tuple:
        st.cache_data.clear()
        clear_memory()
        return (
            query.by_region_category(root, sel, period),
            query.region_daily(root, sel, period.start, period.end),
            query.region_daily(root, Selection((region,), skus=("SKU-0003",)), period.start, period.end),
            query.cancelled(root, sel, period.start, period.end),
        )

    before, sku_before = shown(), sku_anywhere()
    assert sku_before.height > 0 and sku_before["region"].n_unique() > 1
    store = DayStore(root)
    for day in DAYS:
        path = store.path("daily_agg", day)
        stat = os.stat(path)
        store.write("daily_agg", day, store.read("daily_agg", day).clear())
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    after = shown()
    for old, new in zip(before[:3], after[:3], strict=True):
        assert old.height > 0
        assert_frame_equal(old, new)
    assert before[3] == after[3] and before[3][0] > 0
    assert sku_anywhere().is_empty()


def test_roll_up_rows_are_split_by_file_and_level_as_partition_by_splits_them(shop_dir):
    """The roll-ups read are cut into each file's levels by their runs (a scan keeps a file's rows
    together); rows out of that order still come out whole, through partition_by."""
    from spd_dashboard.query.files import _by_file_and_level, _read_rollups

    read = _read_rollups([DayStore(shop_dir).path("daily_metrics", d) for d in DAYS[-5:]])
    expected = read.partition_by("filename", "level", as_dict=True, include_key=False)
    assert len(expected) == 5 * 5  # five files, five roll-up levels
    for frame in (read, read.sample(fraction=1.0, shuffle=True, seed=1)):
        got = _by_file_and_level(frame)
        assert got.keys() == expected.keys()
        for key, part in expected.items():
            assert_frame_equal(got[key].sort(part.columns), part.sort(part.columns))
    assert _by_file_and_level(read.clear()) == {}


def test_a_damaged_file_among_files_the_previous_version_wrote_is_named(shop_dir, tmp_path):
    """Files without the cancelled columns, one of them truncated or overwritten inside: the page still
    stops naming it (the second reader, DuckDB, must not fail first on a column none of them has)."""
    import streamlit as st

    from spd_assets.core.storage import DamagedPartitionError
    from spd_dashboard.query.files import clear_memory

    root = tmp_path / "data"
    shutil.copytree(shop_dir, root)
    _previous_version(str(root))
    for day, cut in ((DAYS[-28], True), (DAYS[-2], True), (DAYS[-2], False)):
        damaged = Path(DayStore(str(root)).path("daily_metrics", day))
        intact = damaged.read_bytes()
        third = len(intact) // 3  # truncated, or its pages overwritten (its footer intact)
        damaged.write_bytes(
            intact[: len(intact) // 2] if cut else intact[:third] + b"\xff" * 4096 + intact[third + 4096 :]
        )
        st.cache_data.clear()
        clear_memory()
        with pytest.raises(DamagedPartitionError, match=str(damaged)):
            query.daily_totals(str(root), Selection(), DAYS[-28], DAYS[-1])
        damaged.write_bytes(intact)

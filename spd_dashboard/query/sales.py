"""Sales views of daily_agg and daily_metrics for a selection: totals, 7-day windows, SKUs, regions.

Everything here sums what the pipeline wrote; no pipeline logic is recomputed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import duckdb
import numpy as np
import polars as pl
import streamlit as st

from spd_assets.core.metrics import WINDOW, pct_change_7d
from spd_assets.core.schema import CATALOG
from spd_assets.core.storage import DayStore

from ..selection import Period, Selection
from . import windows
from .files import CACHE, SEL, days_frame, level_rows, scan, sel_params, sql
from .levels import finest_level, has_combined, rolled_up


@st.cache_data(**CACHE)
def _catalog(root: str, stamp: tuple[int, int]) -> pl.DataFrame:
    return DayStore(root).read("catalog").select(list(CATALOG))


def catalog(root: str) -> pl.DataFrame:
    """sku, name, category, base_price (empty if the catalog is not materialized)."""
    stamp = DayStore(root).stamp("catalog")
    if stamp is None:
        return pl.DataFrame(schema=CATALOG)
    return _catalog(root, stamp)


@dataclass(frozen=True)
class Bounds:
    """The history the sidebar can offer: first and last day, regions and categories seen."""

    first: dt.date
    last: dt.date
    regions: tuple[str, ...]
    categories: tuple[str, ...]


@st.cache_data(**CACHE)
def _labels(files: tuple[str, ...], stamp: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    frame = sql(
        "SELECT DISTINCT region, category FROM read_parquet($files, union_by_name=true)",
        {"files": list(files)},
    )
    return (
        tuple(sorted(frame["region"].drop_nulls().unique())),
        tuple(sorted(frame["category"].drop_nulls().unique())),
    )


def bounds(root: str) -> Bounds | None:
    """None when daily_agg has no day yet (the empty state); regions and categories of the last 14 days."""
    files = scan(root, "daily_agg")
    if not files.days:
        return None
    regions, categories = _labels(files.files[-14:], files.stamp)
    categories = tuple(sorted(set(categories) | set(catalog(root)["category"].to_list())))
    return Bounds(files.days[0], files.days[-1], regions, categories)


# ---- sales ----------------------------------------------------------------------------------------


def _level_rows(
    files: tuple[str, ...], level: str, sel: dict, start: dt.date, end: dt.date, columns: list[str]
) -> pl.DataFrame:
    """The selection's rows of one daily_metrics ``level`` from ``start`` to ``end``: a roll-up's from
    memory, SKU x region rows (what a region and SKUs together sum) read by Polars."""
    return level_rows(files, level, columns, {"start": start, "end": end, **sel})


@st.cache_data(**CACHE)
def _daily_totals(
    files: tuple[str, ...], stamp: str, sel: dict, start: dt.date, end: dt.date, level: str | None
) -> pl.DataFrame:
    if level is not None:  # summed by Polars: handing the roll-up rows to DuckDB cost more than the sums
        rows = _level_rows(files, level, sel, start, end, ["date", "revenue", "orders", "units"])
        sums = pl.col("revenue").sum(), pl.col("orders", "units").sum().cast(pl.Int64)
        return rows.group_by("date").agg(*sums)
    return sql(
        "SELECT date, sum(revenue) AS revenue, sum(orders)::BIGINT AS orders, sum(units)::BIGINT AS units"
        f" FROM read_parquet($files, union_by_name=true) WHERE date BETWEEN $start AND $end AND {SEL}"
        " GROUP BY date",
        {"files": list(files), "start": start, "end": end, **sel},
    )


def daily_totals(root: str, sel: Selection, start: dt.date, end: dt.date) -> pl.DataFrame:
    """date, revenue, orders, units of the selection per materialized day (zero when nothing sold)."""
    files = scan(root, "daily_agg")
    days = [d for d in files.days if start <= d <= end]
    sums = pl.DataFrame(
        schema={"date": pl.Date, "revenue": pl.Float64, "orders": pl.Int64, "units": pl.Int64}
    )
    if days:
        rolled = rolled_up(root, start, end)
        source = rolled or files
        paths = source.between(start, end)
        level = finest_level(sel, paths, end) if rolled else None
        sums = _daily_totals(paths, source.stamp, sel_params(sel), start, end, level)
    return (
        days_frame(days)
        .join(sums, on="date", how="left")
        .with_columns(pl.col("revenue").fill_null(0.0), pl.col("orders", "units").fill_null(0))
        .sort("date")
    )


_SUMS = {"revenue": pl.Float64, "orders": pl.Int64, "units": pl.Int64}


@st.cache_data(**CACHE)
def _period_totals(
    days: tuple[str, ...],
    ends: tuple[str, ...],
    stamp: str,
    sel: dict,
    start: dt.date,
    end: dt.date,
    level: str,
) -> pl.DataFrame:
    parts = [_level_rows(days, level, sel, start, end, list(_SUMS))] if days else []
    if ends:  # a window's sums under its last day
        rows = _level_rows(ends, level, sel, start, end, [f"{c}_7d" for c in _SUMS])
        parts.append(rows.rename({f"{c}_7d": c for c in _SUMS}))
    return _summed(pl.concat(parts) if parts else pl.DataFrame(schema=_SUMS))


def _summed(rows: pl.DataFrame) -> pl.DataFrame:
    return rows.select(pl.col(c).sum().cast(t) for c, t in _SUMS.items())


def period_totals(root: str, sel: Selection, start: dt.date, end: dt.date) -> pl.DataFrame:
    """revenue, orders, units of the selection over start..end, in one row: what the KPI cards compare
    with. From daily_metrics' current 7-day windows (``windows``) and the odd days, when rolled up: 13
    files for the 90 days before a 90-day view instead of 90. Else the days' totals, summed."""
    files = scan(root, "daily_agg")
    rolled = rolled_up(root, start, end)
    if rolled is None or not files.count_between(start, end):
        return _summed(daily_totals(root, sel, start, end))
    cover = windows.plan(files, rolled, (), [(start, end)])
    level = finest_level(sel, rolled.of((*cover.days, *cover.ends)), end)  # asked of the files read only
    return _period_totals(
        rolled.of(cover.days), rolled.of(cover.ends), rolled.stamp, sel_params(sel), start, end, level
    )


@st.cache_data(**CACHE)
def _cancelled(files: tuple[str, ...], stamp: str, sel: dict, start: dt.date, end: dt.date) -> pl.DataFrame:
    try:
        return sql(
            "SELECT coalesce(sum(cancelled_orders), 0)::BIGINT AS orders,"
            " coalesce(sum(cancelled_revenue), 0) AS revenue FROM read_parquet($files, union_by_name=true)"
            f" WHERE date BETWEEN $start AND $end AND {SEL}",
            {"files": list(files), "start": start, "end": end, **sel},
        )
    except duckdb.BinderException:  # daily_agg written before the cancelled measure existed
        return pl.DataFrame({"orders": [0], "revenue": [0.0]})


@st.cache_data(**CACHE)
def _cancelled_rolled(
    files: tuple[str, ...], stamp: str, sel: dict, start: dt.date, end: dt.date, level: str
) -> tuple[int, float]:
    rows = _level_rows(files, level, sel, start, end, ["cancelled_orders", "cancelled_revenue"])
    return int(rows["cancelled_orders"].sum()), float(rows["cancelled_revenue"].sum())


def cancelled(root: str, sel: Selection, start: dt.date, end: dt.date) -> tuple[int, float]:
    """Cancelled, refunded, voided or failed orders (kept out of revenue) and their revenue, in the period:
    from daily_metrics' roll-ups when they are current and hold them, else from daily_agg."""
    files = scan(root, "daily_agg")
    paths = files.between(start, end)
    if not paths:
        return 0, 0.0
    rolled = rolled_up(root, start, end)
    mine = rolled.between(start, end) if rolled is not None else ()
    if rolled is not None and has_combined(mine, end):
        level = finest_level(sel, mine, end)
        return _cancelled_rolled(mine, rolled.stamp, sel_params(sel), start, end, level)
    row = _cancelled(paths, files.stamp, sel_params(sel), start, end).row(0)
    return int(row[0] or 0), float(row[1] or 0.0)


@st.cache_data(**CACHE)
def _seven_day(
    files: tuple[str, ...], stamp: str, level: str, sel: dict, start: dt.date, end: dt.date, by_region: bool
) -> pl.DataFrame:
    keys = ["date", "region"] if by_region else ["date"]
    sums = ("revenue_7d", "revenue_7d_prev")
    columns = [*keys, *sums, "window_days", "pct_change_7d"]
    return (
        _level_rows(files, level, sel, start, end, columns)
        .group_by(keys)
        .agg(  # a sum over no value is null, as in SQL (a window not yet complete)
            *(pl.when(pl.col(c).count() > 0).then(pl.col(c).sum()).alias(c) for c in sums),
            pl.col("window_days").min(),
            n_pct=pl.col("pct_change_7d").count().cast(pl.Int64),
        )
    )


def seven_day(
    root: str, sel: Selection, start: dt.date, end: dt.date, by_region: bool = False
) -> pl.DataFrame:
    """daily_metrics' 7-day revenue for the selection: date[, region], revenue_7d, pct_change_7d, window_days.

    Rows of the finest level the selection needs are summed (windows cover the same calendar days in
    every series); the change is set only where the pipeline set it (both windows complete).
    """
    files = scan(root, "daily_metrics")
    paths = files.between(start, end)
    level = finest_level(sel, paths, end, by_region)
    if not paths:
        schema = {
            "date": pl.Date,
            "revenue_7d": pl.Float64,
            "pct_change_7d": pl.Float64,
            "window_days": pl.Int32,
        }
        return pl.DataFrame(schema=({"region": pl.String} | schema) if by_region else schema)
    rows = _seven_day(paths, files.stamp, level, sel_params(sel), start, end, by_region)
    return (
        rows.with_columns(
            pct_change_7d=pct_change_7d(
                pl.col("revenue_7d"),
                pl.col("revenue_7d_prev"),
                complete=(pl.col("n_pct") > 0) & (pl.col("window_days") == WINDOW),
            ),
            level=pl.lit(level),
        )
        .drop("n_pct")
        .sort(["date", "region"] if by_region else "date")
    )


_BY_SKU = {
    "sku": pl.String,
    "category": pl.String,
    "revenue": pl.Float64,
    "units": pl.Int64,
    "orders": pl.Int64,
    "prev_revenue": pl.Float64,
    "daily": pl.List(pl.Float64),
}


def _sku_days_sql() -> str:
    """Each SKU's days from daily_agg's rows summed (daily_metrics' SKU or SKU x region rows are read as
    they are, ``level_rows``: several a SKU and day when several regions are selected, which ``_by_sku``
    adds up, since grouping 20,000 SKUs x 56 days in a query took most of its time)."""
    return (
        "SELECT sku, any_value(category) AS category, date, sum(revenue) AS revenue,"
        " sum(units)::BIGINT AS units, sum(orders)::BIGINT AS orders"
        f" FROM read_parquet($files, union_by_name=true) WHERE date <= $end AND {SEL} GROUP BY sku, date"
    )


@st.cache_data(**CACHE)
def _by_sku(
    files: tuple[str, ...],
    stamp: str,
    sel: dict,
    period: Period,
    days: tuple | None,
    level: str | None = None,
    sums: tuple[str, ...] = (),
) -> pl.DataFrame:
    if level is not None:  # daily_metrics' rows as they are: read (or kept in memory) by Polars
        columns = ["sku", "category", "date", "revenue", "units", "orders"]
        parts = [level_rows(files, level, columns, {"end": period.end, **sel})] if files else []
        if sums:  # 7-day windows' sums, each under its last day (never across the periods' border)
            parts.append(windows.window_rows(sums, level, sel, period.end))
        daily = pl.concat(parts)
    else:
        daily = sql(_sku_days_sql(), {"files": list(files), "end": period.end, **sel})
    now = pl.col("date") >= period.start
    # Plain sums of masked columns: a filter inside each sum took a third longer on a region's
    # million SKU x region rows.
    totals = (
        daily.lazy()
        .select(
            "sku",
            "category",
            revenue=pl.when(now).then("revenue").otherwise(0.0),
            units=pl.when(now).then("units").otherwise(0),
            orders=pl.when(now).then("orders").otherwise(0),
            prev_revenue=pl.when(now).then(0.0).otherwise("revenue"),
        )
        .group_by("sku")
        # get(0) is first(): Polars' first() of a string took 28 ms of 44 on a region's 320,000 rows
        .agg(pl.col("category").get(0), pl.col("revenue", "units", "orders", "prev_revenue").sum())
        .collect()
    )
    totals = totals.sort("revenue", "sku", descending=[True, False])
    lists = pl.lit(None) if days is None else _daily_lists(totals["sku"], daily.filter(now), days)
    return totals.with_columns(daily=lists).select(list(_BY_SKU)).cast({"daily": _BY_SKU["daily"]})


def _daily_lists(skus: pl.Series, rows: pl.DataFrame, days: tuple) -> pl.Series:
    """Each SKU's revenue on each of ``days`` (zero where it sold nothing), in the order of ``skus``,
    the rows of a SKU and day added up: filled into one array, since a join and sort per SKU and day
    took seconds at 20,000 SKUs."""
    if not days:
        return pl.Series("daily", [[] for _ in range(len(skus))], dtype=pl.List(pl.Float64))
    at = rows.select(pl.col("sku").cast(pl.Enum(skus)).to_physical()).to_series().to_numpy()
    day = np.searchsorted(np.array(days, "datetime64[D]"), rows["date"].to_numpy())
    cells = at.astype(np.int64) * len(days) + day
    grid = np.bincount(cells, rows["revenue"].fill_null(0.0).to_numpy(), len(skus) * len(days))
    return pl.Series("daily", grid.reshape(len(skus), len(days))).cast(pl.List(pl.Float64))


def by_sku(root: str, sel: Selection, period: Period, daily: bool = True) -> pl.DataFrame:
    """Per SKU: category, revenue, units, orders, prev_revenue (previous period), daily revenue list.

    ``daily=False`` leaves the lists null (the Overview's movers need only the sums), which lets the
    sums come from daily_metrics' 7-day windows (``windows``): 8 files for 28 days and the 28 before
    instead of 56 (for a region, of 400,000 SKU x region rows each at 20,000 SKUs x 20 regions). The
    previous period is summed so either way.
    """
    files = scan(root, "daily_agg")
    paths = files.between(period.prev_start, period.end)
    if not paths:
        return pl.DataFrame(schema=_BY_SKU)
    days = tuple(d for d in files.days if period.start <= d <= period.end) if daily else None
    rolled = rolled_up(root, period.prev_start, period.end)
    if rolled is not None:
        level = "sku_region" if sel.regions else "sku"
        summed = [(period.prev_start, period.prev_end)] + ([] if daily else [(period.start, period.end)])
        cover = windows.plan(files, rolled, days or (), summed)
        sums = rolled.of(cover.ends)
        return _by_sku(rolled.of(cover.days), rolled.stamp, sel_params(sel), period, days, level, sums)
    return _by_sku(paths, files.stamp, sel_params(sel), period, days)

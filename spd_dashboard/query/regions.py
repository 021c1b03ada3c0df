"""The Regions page's sums: each region and category over a period, each region's days.

From daily_metrics' roll-ups when they are current and hold the level (a category in a region is
``category_region``, SKUs within regions their SKU x region rows), else from daily_agg (and SKUs in
every region from daily_agg, which keeps a SKU's rows together). The roll-ups hold zero rows (a series
that sold nothing that day) where daily_agg has no row: those are left out, so a region and category,
or a day and region, that sold nothing is not shown on either path."""

from __future__ import annotations

import datetime as dt

import polars as pl
import streamlit as st

from ..selection import Period, Selection
from .files import CACHE, SEL, level_rows, scan, sel_params, sql
from .levels import finest_level, has_category_region, has_regions, rolled_up

_BY_REGION_CATEGORY = {"region": pl.String, "category": pl.String, "revenue": pl.Float64, "units": pl.Int64,
                       "prev_revenue": pl.Float64}  # fmt: skip


@st.cache_data(**CACHE)
def _by_region_category(files: tuple[str, ...], stamp: str, sel: dict, period: Period) -> pl.DataFrame:
    return sql(
        "SELECT region, category,"
        " coalesce(sum(revenue) FILTER (WHERE date >= $start), 0) AS revenue,"
        " coalesce(sum(units) FILTER (WHERE date >= $start), 0)::BIGINT AS units,"
        " coalesce(sum(revenue) FILTER (WHERE date < $start), 0) AS prev_revenue"
        f" FROM read_parquet($files, union_by_name=true) WHERE date <= $end AND {SEL}"
        " GROUP BY region, category ORDER BY region, category",
        {"files": list(files), "start": period.start, "end": period.end, **sel},
    )


@st.cache_data(**CACHE)
def _by_region_category_rolled(files: tuple[str, ...], stamp: str, sel: dict, period: Period) -> pl.DataFrame:
    columns = ["region", "category", "date", "revenue", "units"]
    rows = level_rows(files, "category_region", columns, {"end": period.end, **sel})
    now = pl.col("date") >= period.start
    return (
        rows.group_by("region", "category")
        .agg(
            revenue=pl.when(now).then("revenue").otherwise(0.0).sum(),
            units=pl.when(now).then("units").otherwise(0).sum().cast(pl.Int64),
            prev_revenue=pl.when(now).then(0.0).otherwise("revenue").sum(),
        )
        .filter((pl.col("revenue") != 0) | (pl.col("units") != 0) | (pl.col("prev_revenue") != 0))
        .sort("region", "category")
    )


def by_region_category(root: str, sel: Selection, period: Period) -> pl.DataFrame:
    """region, category, revenue, units, prev_revenue over the period and the one before."""
    files = scan(root, "daily_agg")
    paths = files.between(period.prev_start, period.end)
    if not paths:
        return pl.DataFrame(schema=_BY_REGION_CATEGORY)
    rolled = rolled_up(root, period.prev_start, period.end)
    if rolled is not None and sel.skus is None:
        mine = rolled.between(period.prev_start, period.end)
        if has_category_region(mine, period.end):
            return _by_region_category_rolled(mine, rolled.stamp, sel_params(sel), period)
    return _by_region_category(paths, files.stamp, sel_params(sel), period)


@st.cache_data(**CACHE)
def _region_daily(
    files: tuple[str, ...], stamp: str, sel: dict, start: dt.date, end: dt.date
) -> pl.DataFrame:
    return sql(
        "SELECT date, region, sum(revenue) AS revenue FROM read_parquet($files, union_by_name=true)"
        f" WHERE date BETWEEN $start AND $end AND {SEL} GROUP BY date, region ORDER BY date, region",
        {"files": list(files), "start": start, "end": end, **sel},
    )


@st.cache_data(**CACHE)
def _region_daily_rolled(
    files: tuple[str, ...], stamp: str, sel: dict, start: dt.date, end: dt.date, level: str
) -> pl.DataFrame:
    rows = level_rows(files, level, ["date", "region", "revenue"], {"start": start, "end": end, **sel})
    sums = rows.group_by("date", "region").agg(pl.col("revenue").sum())
    return sums.filter(pl.col("revenue") != 0).sort("date", "region")


def region_daily(root: str, sel: Selection, start: dt.date, end: dt.date) -> pl.DataFrame:
    """date, region, revenue: each region's daily revenue within the selection."""
    files = scan(root, "daily_agg")
    paths = files.between(start, end)
    if not paths:
        return pl.DataFrame(schema={"date": pl.Date, "region": pl.String, "revenue": pl.Float64})
    rolled = rolled_up(root, start, end)
    mine = rolled.between(start, end) if rolled is not None else ()
    # SKUs in every region: daily_agg is written SKU by SKU, daily_metrics' SKU x region rows region by
    # region (a SKU's 90 days: 0.1 s from daily_agg, 0.45 s from daily_metrics at 20,000 x 20)
    skus_anywhere = sel.skus is not None and not sel.regions
    if rolled is not None and not skus_anywhere and has_regions(mine, end):
        level = finest_level(sel, mine, end, by_region=True)
        return _region_daily_rolled(mine, rolled.stamp, sel_params(sel), start, end, level)
    return _region_daily(paths, files.stamp, sel_params(sel), start, end)

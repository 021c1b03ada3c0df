"""Alerts and incidents, one series around a date, the days a Why view explains, and partitions' health."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import polars as pl
import streamlit as st

from spd_assets.core.schema import ALERTS, INCIDENTS, LEVEL_KEYS, severity_rank
from spd_assets.core.storage import DamagedPartitionError, is_remote, row_counts

from ..selection import Selection
from .files import CACHE, SEL, AssetFiles, report_damaged, scan, sel_params, sql

_SCHEMAS = {"alerts": ALERTS, "incidents": INCIDENTS}


@st.cache_data(**CACHE)
def _read(files: tuple[str, ...], stamp: str, asset: str) -> pl.DataFrame:
    frame = sql("SELECT * FROM read_parquet($files, union_by_name=true)", {"files": list(files)})
    for col, dtype in _SCHEMAS[asset].items():  # a file written before a column was added lacks it: null
        if col not in frame.columns:
            frame = frame.with_columns(pl.lit(None, dtype=dtype).alias(col))
    return frame


def alerts(root: str, start: dt.date | None = None, end: dt.date | None = None) -> pl.DataFrame:
    """Alerts between ``start`` and ``end`` (all if None), newest first, most severe first within a day."""
    files = scan(root, "alerts")
    paths = files.between(start or dt.date.min, end or dt.date.max)
    if not paths:
        return pl.DataFrame(schema=ALERTS)
    return (
        _read(paths, files.stamp, "alerts")
        .with_columns(_rank=severity_rank())
        .sort(["date", "_rank", "revenue_at_risk"], descending=[True, False, True], nulls_last=True)
        .drop("_rank")
    )


def incidents(root: str, start: dt.date | None = None, end: dt.date | None = None) -> pl.DataFrame:
    """The incidents asset between two days (empty while it does not exist: alerts then stand alone)."""
    files = scan(root, "incidents")
    paths = files.between(start or dt.date.min, end or dt.date.max)
    if not paths:
        return pl.DataFrame(schema=INCIDENTS)
    return _read(paths, files.stamp, "incidents").select(list(INCIDENTS))


@st.cache_data(**CACHE)
def _agg_days(files: tuple[str, ...], stamp: str, sel: dict) -> pl.DataFrame:
    return sql(
        "SELECT date, region, category, sku, orders, units, revenue"
        f" FROM read_parquet($files, union_by_name=true) WHERE {SEL}",
        {"files": list(files), **sel},
    )


def agg_days(
    root: str, sel: Selection, periods: Sequence[tuple[dt.date, dt.date]]
) -> tuple[pl.DataFrame, list[int]]:
    """daily_agg rows of the selection on the days of ``periods`` only, and how many days each has.

    A Why view compares two short periods: it reads their day files, never the history between them.
    """
    files = scan(root, "daily_agg")
    paths = tuple(sorted({f for lo, hi in periods for f in files.between(lo, hi)}))
    counts = [files.count_between(lo, hi) for lo, hi in periods]
    if not paths:
        schema = {"date": pl.Date, "region": pl.String, "category": pl.String, "sku": pl.String,
                  "orders": pl.Int64, "units": pl.Int64, "revenue": pl.Float64}  # fmt: skip
        return pl.DataFrame(schema=schema), counts
    return _agg_days(paths, files.stamp, sel_params(sel)), counts


def alert_days(root: str) -> AssetFiles:
    """The materialized days of the alerts asset (for 'checked' vs 'not checked yet')."""
    return scan(root, "alerts")


def metrics_days(root: str) -> tuple[dt.date, ...]:
    """Days daily_metrics has: the days an anomaly check can run for."""
    return scan(root, "daily_metrics").days


@st.cache_data(**CACHE)
def _series(
    files: tuple[str, ...], stamp: str, level: str, keys: dict, start: dt.date, end: dt.date
) -> pl.DataFrame:
    match = "".join(f" AND {k} = ${k}" for k in keys)
    return sql(
        "SELECT date, orders, units, revenue, revenue_7d, revenue_7d_prev, pct_change_7d,"
        " units_7d, orders_7d, window_days FROM read_parquet($files, union_by_name=true)"
        f" WHERE level = $level AND date BETWEEN $start AND $end{match} ORDER BY date",
        {"files": list(files), "level": level, "start": start, "end": end, **keys},
    )


def series(
    root: str,
    level: str,
    sku: str | None,
    category: str | None,
    region: str | None,
    start: dt.date,
    end: dt.date,
) -> pl.DataFrame:
    """One daily_metrics series (an alert's, a SKU's) between two days, matched on its level's keys."""
    files = scan(root, "daily_metrics")
    paths = files.between(start, end)
    given = {"sku": sku, "category": category, "region": region}
    if not paths or level not in LEVEL_KEYS:
        return pl.DataFrame(schema={"date": pl.Date, "revenue": pl.Float64, "revenue_7d": pl.Float64})
    return _series(paths, files.stamp, level, {k: given[k] for k in LEVEL_KEYS[level]}, start, end)


# ---- data health ----------------------------------------------------------------------------------


@st.cache_data(**CACHE)
def _row_counts(files: tuple[str, ...], stamp: str) -> pl.DataFrame:
    if files and is_remote(files[0]):  # no httpfs for DuckDB: pyarrow reads the counts
        try:
            return pl.DataFrame({"file_name": list(files), "num_rows": row_counts(files)})
        except DamagedPartitionError as exc:
            report_damaged(str(exc))
    return sql("SELECT file_name, num_rows FROM parquet_file_metadata($files)", {"files": list(files)})


def partitions(root: str, asset: str) -> pl.DataFrame:
    """date, rows for each materialized day of ``asset`` (rows 0 = materialized, nothing that day)."""
    files = scan(root, asset)
    if not files.days:
        return pl.DataFrame(schema={"date": pl.Date, "rows": pl.Int64})
    counts = _row_counts(files.files, files.stamp)
    rows = dict(zip(counts["file_name"], counts["num_rows"], strict=True))
    return pl.DataFrame(
        {"date": list(files.days), "rows": [rows.get(f, 0) for f in files.files]},
        schema={"date": pl.Date, "rows": pl.Int64},
    )


@st.cache_data(**CACHE)
def _quarantine(files: tuple[str, ...], stamp: str) -> pl.DataFrame:
    return sql(
        "SELECT date, field, reason, count(*)::BIGINT AS rows FROM read_parquet($files, union_by_name=true)"
        " GROUP BY ALL ORDER BY date DESC, rows DESC",
        {"files": list(files)},
    )


def quarantine_summary(root: str) -> pl.DataFrame | None:
    """Quarantined rows per date, field and reason; None while the quarantine asset does not exist."""
    files = scan(root, "quarantine")
    if not files.days:
        return None
    return _quarantine(files.files, files.stamp)

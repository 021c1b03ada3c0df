"""Rolling 7-day KPIs at every roll-up level, from daily_agg."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence

import polars as pl

from .schema import DAILY_METRICS, LEVEL_KEYS, LEVELS, conform, empty

ONE_REGION = "all"  # the region of a shop whose export names none (spd_assets.core.landing.exports)

WINDOW = 7
LOOKBACK_DAYS = 2 * WINDOW - 1  # days before d that the current and prior windows read

__all__ = [
    "LEVEL_KEYS",
    "LOOKBACK_DAYS",
    "WINDOW",
    "calendar_grid",
    "daily_series",
    "pct_change_7d",
    "rolling_7d",
    "rolling_metrics",
    "window_days",
]


def calendar_grid(
    rows: pl.DataFrame, keys: Sequence[str], first: dt.date, last: dt.date, available: Iterable[dt.date]
) -> pl.DataFrame:
    """Every series (the ``keys`` seen in ``rows``) on every calendar day first..last, ``available``
    marking the days whose data was read, with ``rows`` joined where they exist (null elsewhere).

    The one dense grid under every rolling window and detector, so a missing day means the same
    (unknown, not zero) everywhere.
    """
    calendar = pl.DataFrame({"date": pl.date_range(first, last, interval="1d", eager=True)}).with_columns(
        available=pl.col("date").is_in(sorted(set(available)))
    )
    ids = rows.select(keys).unique()
    return calendar.join(ids, how="cross").join(rows, on=["date", *keys], how="left", nulls_equal=True)


def rolling_7d(column: str, keys: Sequence[str]) -> pl.Expr:
    """The sum of ``column`` over the last WINDOW calendar days of each series, of the days that have data."""
    return pl.col(column).rolling_sum(WINDOW, min_samples=1).over(keys)


def window_days(keys: Sequence[str]) -> pl.Expr:
    """How many of the last WINDOW calendar days had data (``available``) in each series' window."""
    return pl.col("available").cast(pl.Int32).rolling_sum(WINDOW, min_samples=1).over(keys)


def pct_change_7d(current: pl.Expr, previous: pl.Expr, complete: pl.Expr) -> pl.Expr:
    """A 7-day window's change on the prior one: only when both windows are complete and the prior sold."""
    return pl.when(complete & (previous > 0)).then(current / previous - 1.0)


def daily_series(daily_agg: pl.DataFrame, days: Sequence[dt.date]) -> pl.DataFrame:
    """Daily orders, units and revenue per series at every level, zero-filled over ``days``.

    A series with no orders on an available day gets a zero row, not a missing one, so windows
    and detectors see the drop. Series are those that appear anywhere in ``daily_agg``. A shop with
    one region ``all`` has no region levels: they would repeat total and sku, and alert twice.
    """
    grid_days = pl.DataFrame({"date": sorted(set(days))}, schema={"date": pl.Date})
    sku_category = daily_agg.select("sku", "category").unique("sku", keep="first")
    frames = []
    for level in levels(daily_agg):
        keys = list(LEVEL_KEYS[level])
        sums = daily_agg.group_by(["date", *keys]).agg(
            pl.col("orders").sum(), pl.col("units").sum(), pl.col("revenue").sum()
        )
        grid = grid_days.join(sums.select(keys).unique(), how="cross") if keys else grid_days
        filled = grid.join(sums, on=["date", *keys], how="left").with_columns(
            pl.col("orders", "units").fill_null(0), pl.col("revenue").fill_null(0.0)
        )
        if "sku" in keys:
            filled = filled.join(sku_category, on="sku", how="left")
        frames.append(filled.with_columns(level=pl.lit(level)))
    out = pl.concat(frames, how="diagonal_relaxed")
    for col in ("sku", "category", "region"):
        if col not in out.columns:
            out = out.with_columns(pl.lit(None, dtype=pl.String).alias(col))
    return out.select("date", "level", "sku", "category", "region", "orders", "units", "revenue")


def levels(daily_agg: pl.DataFrame) -> tuple[str, ...]:
    """The roll-up levels the shop has: no region levels when its only region is ``all``."""
    regions = daily_agg["region"].unique().to_list() if daily_agg.height else []
    if regions == [ONE_REGION]:
        return tuple(lvl for lvl in LEVELS if "region" not in LEVEL_KEYS[lvl])
    return LEVELS


def rolling_metrics(
    daily_agg: pl.DataFrame, days: Sequence[dt.date], output_days: Sequence[dt.date]
) -> pl.DataFrame:
    """7-day revenue, the prior 7 days, percent change, 7-day units, orders and AOV per series.

    ``days`` are the days whose daily_agg is available. Windows run over the calendar: a day that
    is not available (before history starts, or never materialized) is left out of the sums, and
    ``window_days`` says how many of the 7 days a window covered. ``pct_change_7d`` is set only when
    both windows are complete and the prior one had revenue.
    """
    out_days = sorted(set(output_days))
    if not out_days:
        return empty(DAILY_METRICS)
    first = out_days[0] - dt.timedelta(days=LOOKBACK_DAYS)
    series = daily_series(daily_agg, [d for d in days if first <= d <= out_days[-1]])
    keys = ["level", "sku", "category", "region"]
    dense = calendar_grid(series, keys, first, out_days[-1], days).sort([*keys, "date"])
    # Money is summed in integer cents: sliding float sums drift with the window's history, and a
    # day must come out identical whether computed alone or inside a year-long backfill.
    dense = dense.with_columns(cents=(pl.col("revenue") * 100).round().cast(pl.Int64))
    roll = {c: rolling_7d(c, keys) for c in ("cents", "units", "orders")}
    full = dense.with_columns(
        cents_7d=roll["cents"],
        units_7d=roll["units"],
        orders_7d=roll["orders"],
        window_days=window_days(keys),
    ).with_columns(
        cents_7d_prev=pl.col("cents_7d").shift(WINDOW).over(keys),
        prev_days=pl.col("window_days").shift(WINDOW).over(keys),
    )
    complete = (pl.col("window_days") == WINDOW) & (pl.col("prev_days") == WINDOW)
    result = (
        full.filter(pl.col("date").is_in(out_days) & pl.col("available"))
        .with_columns(
            revenue=pl.col("cents") / 100,
            revenue_7d=pl.col("cents_7d") / 100,
            revenue_7d_prev=pl.when(pl.col("prev_days") > 0).then(pl.col("cents_7d_prev") / 100),
            pct_change_7d=pct_change_7d(pl.col("cents_7d"), pl.col("cents_7d_prev"), complete).round(6),
            aov_7d=pl.when(pl.col("orders_7d") > 0).then(
                (pl.col("cents_7d") / pl.col("orders_7d") / 100).round(4)
            ),
        )
        .sort("date", "level", "sku", "region", "category", nulls_last=False)
    )
    return conform(result, DAILY_METRICS)

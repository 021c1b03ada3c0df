"""Key drivers of a KPI between two periods, and the root causes of a deviation.

A drop in the total is split into what every region, category, SKU and combination of them
contributed, so "revenue fell 18%" comes with where. Additive KPIs (revenue, orders, units) split
as current minus base per segment; AOV (revenue per order) splits into a mix effect (orders moved
between segments of different AOV) and a rate effect (a segment's own AOV changed), which add up
exactly to the change of the total AOV within each dimension.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import polars as pl

from .drivers_causes import CauseParams, root_causes

__all__ = ["KPIS", "CauseParams", "Drivers", "key_drivers", "root_causes"]

KPIS: tuple[str, ...] = ("revenue", "orders", "units", "aov")
DIMENSIONS: tuple[str, ...] = ("region", "category", "sku")
Period = tuple[dt.date, dt.date]  # first and last day, both included


@dataclass(frozen=True)
class Drivers:
    """The change of a KPI between two periods and the segments that made it, ranked."""

    kpi: str
    base: float
    current: float
    table: pl.DataFrame  # one row per segment: dimension, region, category, sku, base, current, ...
    top: pl.DataFrame  # the top drivers, no one inside another
    explained: float  # share of the change the top drivers explain (0..1, may exceed 1)

    @property
    def change(self) -> float:
        return self.current - self.base

    @property
    def pct_change(self) -> float | None:
        return self.change / self.base if self.base else None


def _cuboids(frame: pl.DataFrame, dimensions: Sequence[str]) -> list[tuple[str, ...]]:
    """Every combination of dimensions that splits the data differently from a smaller one.

    A SKU belongs to one category, so (category, sku) is the same split as (sku) and is left out.
    """
    kept: list[tuple[str, ...]] = []
    sizes: dict[tuple[str, ...], int] = {}
    for depth in range(1, len(dimensions) + 1):
        for cuboid in itertools.combinations(dimensions, depth):
            size = frame.select(pl.struct(cuboid).n_unique()).item()
            sizes[cuboid] = size
            if not any(sizes[sub] == size for sub in kept if set(sub) < set(cuboid)):
                kept.append(cuboid)
    return kept


def _period_sums(frame: pl.DataFrame, keys: Sequence[str], period: Period, name: str) -> pl.DataFrame:
    lo, hi = period
    return (
        frame.filter(pl.col("date").is_between(lo, hi))
        .group_by(keys)
        .agg(
            pl.col("revenue").sum().alias(f"revenue_{name}"),
            pl.col("orders").sum().alias(f"orders_{name}"),
            pl.col("units").sum().alias(f"units_{name}"),
        )
    )


def _segments(frame: pl.DataFrame, cuboid: tuple[str, ...], base: Period, current: Period, kpi: str):
    """One row per segment of ``cuboid`` with its base, current and contribution to the total change."""
    both = _period_sums(frame, cuboid, base, "b").join(
        _period_sums(frame, cuboid, current, "c"), on=list(cuboid), how="full", coalesce=True
    )
    both = both.fill_null(0)
    if kpi != "aov":
        return both.select(
            *cuboid,
            pl.col(f"{kpi}_b").cast(pl.Float64).alias("base"),
            pl.col(f"{kpi}_c").cast(pl.Float64).alias("current"),
        ).with_columns(
            contribution=pl.col("current") - pl.col("base"),
            mix=pl.lit(None, pl.Float64),
            rate=pl.lit(None, pl.Float64),
        )
    orders_b, orders_c = both["orders_b"].sum(), both["orders_c"].sum()
    aov_total_b = both["revenue_b"].sum() / orders_b if orders_b else 0.0
    aov_b = pl.when(pl.col("orders_b") > 0).then(pl.col("revenue_b") / pl.col("orders_b"))
    aov_c = pl.when(pl.col("orders_c") > 0).then(pl.col("revenue_c") / pl.col("orders_c"))
    # A segment missing in one period takes the other's AOV: it then moves mix only, never rate.
    out = both.with_columns(base=aov_b.fill_null(aov_c), current=aov_c.fill_null(aov_b)).with_columns(
        w_b=pl.col("orders_b") / max(orders_b, 1), w_c=pl.col("orders_c") / max(orders_c, 1)
    )
    return (
        out.with_columns(
            mix=(pl.col("w_c") - pl.col("w_b")) * (pl.col("base").fill_null(0.0) - aov_total_b),
            rate=pl.col("w_c") * (pl.col("current") - pl.col("base")).fill_null(0.0),
        )
        .with_columns(contribution=pl.col("mix") + pl.col("rate"))
        .select(*cuboid, "base", "current", "contribution", "mix", "rate")
    )


def _inside(child: dict, parent: dict) -> bool:
    """True when one segment lies inside the other (or they are the same)."""
    shared = set(child) & set(parent)
    return (
        bool(shared)
        and all(child[k] == parent[k] for k in shared)
        and (set(child) <= set(parent) or set(parent) <= set(child))
    )


def _top(table: pl.DataFrame, dimensions: Sequence[str], n: int, change: float) -> pl.DataFrame:
    """The ``n`` largest contributors in the direction of the change, none nested in another."""
    sign = 1.0 if change >= 0 else -1.0
    picked: list[int] = []
    seen: list[dict] = []
    ranked = table.with_row_index("_row").filter(pl.col("contribution") * sign > 0)
    for row in ranked.iter_rows(named=True):
        segment = {d: row[d] for d in dimensions if row[d] is not None}
        if any(_inside(segment, other) for other in seen):
            continue
        picked.append(row["_row"])
        seen.append(segment)
        if len(picked) == n:
            break
    return table.with_row_index("_row").filter(pl.col("_row").is_in(picked)).drop("_row")


def key_drivers(
    daily_agg: pl.DataFrame,
    kpi: str,
    base: Period,
    current: Period,
    dimensions: Sequence[str] = DIMENSIONS,
    top: int = 5,
) -> Drivers:
    """Split the change of ``kpi`` from ``base`` to ``current`` into segment contributions, ranked.

    ``daily_agg`` has rows (date, dimensions..., orders, units, revenue). For revenue, orders and
    units two periods of different lengths compare their sums; compare equal lengths for a fair test.
    """
    if kpi not in KPIS:
        raise ValueError(f"kpi {kpi!r} is unknown: expected one of {', '.join(KPIS)}")
    dims = [d for d in dimensions if d in daily_agg.columns]
    frame = daily_agg.select("date", *dims, "orders", "units", "revenue").filter(
        pl.col("date").is_between(base[0], base[1]) | pl.col("date").is_between(current[0], current[1])
    )
    totals = {}
    for name, (lo, hi) in (("base", base), ("current", current)):
        part = frame.filter(pl.col("date").is_between(lo, hi))
        revenue, orders, units = (float(part[c].sum()) for c in ("revenue", "orders", "units"))
        totals[name] = {"revenue": revenue, "orders": orders, "units": units}.get(
            kpi, revenue / orders if orders else 0.0
        )
    change = totals["current"] - totals["base"]
    parts = []
    for cuboid in _cuboids(frame, dims) if frame.height else []:
        seg = _segments(frame, cuboid, base, current, kpi)
        parts.append(seg.with_columns(dimension=pl.lit(" × ".join(cuboid))))
    schema = {"dimension": pl.String, **{d: pl.String for d in dims}, "base": pl.Float64}
    table = (pl.concat(parts, how="diagonal_relaxed") if parts else pl.DataFrame(schema=schema)).with_columns(
        share=pl.col("contribution") / change if change else pl.lit(None, pl.Float64)
    )
    table = table.select("dimension", *dims, "base", "current", "contribution", "share", "mix", "rate").sort(
        pl.col("contribution").abs(), descending=True, maintain_order=True
    )
    best = _top(table, dims, top, change)
    explained = float(best["contribution"].sum() / change) if change and best.height else 0.0
    return Drivers(kpi, totals["base"], totals["current"], table, best, explained)


def effects(drivers: Drivers) -> pl.DataFrame:
    """For AOV, the mix and rate effects summed per dimension (each pair adds up to the change)."""
    return (
        drivers.table.group_by("dimension", maintain_order=True)
        .agg(pl.col("mix").sum(), pl.col("rate").sum())
        .with_columns(total=pl.col("mix") + pl.col("rate"))
    )


def alert_periods(
    day: dt.date, window_days: int | None = 1, first_seen: dt.date | None = None
) -> tuple[Period, Period]:
    """(base, current) to explain an alert: its window against the same weekdays before the drop began.

    The current period is the days the test that fired looked at (``window_days`` ending on ``day``).
    The base has the same length and weekdays, so weekly seasonality cancels, in the latest week that
    ends before the episode's first window (``first_seen``): an ongoing drop is never its own baseline.
    """
    width = dt.timedelta(days=max(int(window_days or 1), 1) - 1)
    began = min(first_seen or day, day) - width
    shift = dt.timedelta(days=7 * ((day - began).days // 7 + 1))
    return (day - width - shift, day - shift), (day - width, day)


def segment_label(segment: dict[str, object]) -> str:
    """A segment as a person reads it: 'region us-east', 'region us-east, category toys'."""
    return ", ".join(f"{k} {segment[k]}" for k in DIMENSIONS if segment.get(k) is not None)

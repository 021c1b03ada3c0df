"""SKU sums over a period from daily_metrics' 7-day windows instead of its days.

At 20,000 SKUs x 20 regions a region's SKU sums over 28 days and the 28 before read 56 files of
400,000 SKU x region rows each to keep 20,000 of every one; the pipeline already wrote each series'
7-day sums (``revenue_7d``, ``units_7d``, ``orders_7d``), so the windows ending on the last day and
every 7th day before it give the same sums from 8 files. A window stands for its days only when its
file was written after every one of their daily_agg files and counted as many of them as exist now
(``window_days``); otherwise, and for the days no whole window covers, the days' own rows are read.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import polars as pl

from spd_assets.core.metrics import WINDOW

from .files import AssetFiles, level_rows

WINDOW_SUMS = {"revenue_7d": "revenue", "units_7d": "units", "orders_7d": "orders"}


@dataclass(frozen=True)
class Cover:
    """Days ``start``..``end`` as window ends (each standing for itself and the 6 days before) and days."""

    ends: tuple[dt.date, ...]
    days: tuple[dt.date, ...]


def cover(agg: AssetFiles, metrics: AssetFiles, start: dt.date, end: dt.date) -> Cover:
    """The windows of ``metrics`` ending on ``end``, ``end - 7``, ... that lie inside ``start``..``end``
    and are current (written after each of their days' daily_agg), and every other materialized day."""
    written = metrics.mtimes_between(start, end)
    have = agg.mtimes_between(start, end)  # a window lies inside start..end
    ends, covered = [], set()
    last = end
    while last - dt.timedelta(days=WINDOW - 1) >= start:
        days = [last - dt.timedelta(days=i) for i in range(WINDOW)]
        if last in written and all(written[last] >= have[d] for d in days if d in have):
            ends.append(last)
            covered.update(days)
        last -= dt.timedelta(days=WINDOW)
    rest = tuple(d for d in sorted(written) if d not in covered)
    return Cover(tuple(sorted(ends)), rest)


def plan(
    agg: AssetFiles, metrics: AssetFiles, days: tuple[dt.date, ...], summed: list[tuple[dt.date, dt.date]]
) -> Cover:
    """``days`` read as they are, and the ``summed`` ranges (start, end) as current windows where they can."""
    parts = [cover(agg, metrics, a, b) for a, b in summed]
    ends = tuple(e for c in parts for e in c.ends)
    return checked(Cover(ends, tuple(sorted({*days, *(d for c in parts for d in c.days)}))), agg, metrics)


def checked(cover: Cover, agg: AssetFiles, metrics: AssetFiles) -> Cover:
    """``cover`` without the windows whose ``window_days`` (from the total roll-up, kept in memory) is not
    the number of their days that have daily_agg now: a day deleted or added since they were written."""
    if not cover.ends:
        return cover
    counted = level_rows(metrics.of(cover.ends), "total", ["date", "window_days"], {"end": cover.ends[-1]})
    stored = dict(zip(counted["date"], counted["window_days"], strict=True))
    days = set(agg.days)
    bad = [
        e for e in cover.ends
        if stored.get(e) != sum(e - dt.timedelta(days=i) in days for i in range(WINDOW))
    ]  # fmt: skip
    if not bad:
        return cover
    spread = {e - dt.timedelta(days=i) for e in bad for i in range(WINDOW)}
    return Cover(
        tuple(e for e in cover.ends if e not in bad),
        tuple(sorted(set(cover.days) | (spread & set(metrics.days)))),
    )


def window_rows(files: tuple[str, ...], level: str, sel: dict, end: dt.date) -> pl.DataFrame:
    """The selection's window rows of ``level`` (sku, or sku_region) in ``files`` as day rows (sku,
    category, date, revenue, units, orders): a window's sums under its last day."""
    columns = ["sku", "category", "date", *WINDOW_SUMS]
    return level_rows(files, level, columns, {"end": end, **sel}).rename(WINDOW_SUMS)

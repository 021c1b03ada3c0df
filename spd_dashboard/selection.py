"""What the user selected (period, regions, categories, SKUs), as plain values every page agrees on."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import polars as pl

DEFAULT_PERIOD_DAYS = 28


@dataclass(frozen=True)
class Selection:
    """Which series are in view; an empty tuple means all, ``skus=None`` means no SKU search."""

    regions: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    skus: tuple[str, ...] | None = None

    @property
    def metrics_level(self) -> str:
        """The finest daily_metrics roll-up whose rows, summed, give exactly this selection."""
        if self.regions and (self.categories or self.skus is not None):
            return "sku_region"
        if self.regions:
            return "region"
        if self.skus is not None:
            return "sku"
        if self.categories:
            return "category"
        return "total"

    def describe(self) -> str:
        """A short label for captions, e.g. 'us-east · toys · 3 SKUs'."""
        parts = [", ".join(self.regions) or "all regions", ", ".join(self.categories) or "all categories"]
        if self.skus is not None:
            parts.append(f"{len(self.skus)} SKU{'s' if len(self.skus) != 1 else ''}")
        return " · ".join(parts)


@dataclass(frozen=True)
class Period:
    """The selected days and the previous period of the same length, for deltas."""

    start: dt.date
    end: dt.date

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def prev_start(self) -> dt.date:
        return self.start - dt.timedelta(days=self.days)

    @property
    def prev_end(self) -> dt.date:
        return self.start - dt.timedelta(days=1)

    def label(self) -> str:
        return f"{self.start.isoformat()} – {self.end.isoformat()} ({self.days} days)"


def default_period(first: dt.date, last: dt.date, days: int = DEFAULT_PERIOD_DAYS) -> Period:
    """The last ``days`` days of the history (or all of it, if shorter)."""
    return Period(max(first, last - dt.timedelta(days=days - 1)), last)


def period_from_input(value: object, fallback: Period) -> Period:
    """A Period from a date_input value: a full range, a half-picked range (one day), or nothing."""
    days = [v for v in value if isinstance(v, dt.date)] if isinstance(value, (tuple, list)) else []
    if isinstance(value, dt.date):
        days = [value]
    if not days:
        return fallback
    return Period(min(days), max(days))


def match_skus(catalog: pl.DataFrame, query: str) -> tuple[str, ...] | None:
    """SKUs whose id or name contains ``query`` (case-insensitive); None when the query is blank."""
    query = query.strip().lower()
    if not query:
        return None
    hits = catalog.filter(
        pl.col("sku").str.to_lowercase().str.contains(query, literal=True)
        | pl.col("name").str.to_lowercase().str.contains(query, literal=True)
    )
    return tuple(sorted(hits["sku"].to_list()))


def filter_alerts(
    alerts: pl.DataFrame,
    selection: Selection,
    severities: tuple[str, ...] = (),
    levels: tuple[str, ...] = (),
) -> pl.DataFrame:
    """Alerts that concern the selection: a region filter keeps alerts in those regions, and so on.

    An alert on a wider series (the total, say) has no region, so a region filter leaves it out.
    """
    cond = pl.lit(True)
    if selection.regions:
        cond &= pl.col("region").is_in(list(selection.regions))
    if selection.categories:
        cond &= pl.col("category").is_in(list(selection.categories))
    if selection.skus is not None:
        cond &= pl.col("sku").is_in(list(selection.skus))
    if severities:
        cond &= pl.col("severity").is_in(list(severities))
    if levels:
        cond &= pl.col("level").is_in(list(levels))
    return alerts.filter(cond.fill_null(False))

"""What the user selected (period, regions, categories, SKUs), as plain values every page agrees on."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

import polars as pl

from spd_assets.core.schema import LEVEL_KEYS

DEFAULT_PERIOD_DAYS = 28


@dataclass(frozen=True)
class Selection:
    """Which series are in view; an empty tuple means all, ``skus=None`` means no SKU search."""

    regions: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    skus: tuple[str, ...] | None = None

    @classmethod
    def of_series(
        cls, level: str | None, sku: str | None, category: str | None, region: str | None
    ) -> Selection:
        """Exactly one series (an alert's, an incident root's): its level's keys, or every key given."""
        given = {"sku": sku, "category": category, "region": region}
        keys = LEVEL_KEYS.get(level or "", tuple(k for k, v in given.items() if v is not None))
        pick = {k: (given[k],) for k in keys if given[k] is not None}
        return cls(pick.get("region", ()), pick.get("category", ()), pick.get("sku"))

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


def drill_down(
    segment: Mapping[str, object], current_end: dt.date, first: dt.date, days: int = DEFAULT_PERIOD_DAYS
) -> tuple[str, dict[str, object]]:
    """The page that shows one driver's own trend and the sidebar state that selects it.

    A SKU opens its history on the SKUs page, a region (or a region and category) the Regions page, a
    category alone the Overview's trend; the period is the ``days`` up to the compared period's end.
    """
    region, category, sku = (segment.get(k) for k in ("region", "category", "sku"))
    state: dict[str, object] = {
        "dates": (max(first, current_end - dt.timedelta(days=days - 1)), current_end),
        "region": [region] if region else [],
        "category": [category] if category and not sku else [],
        "sku": sku or "",
    }
    if sku:
        state["sku_pick"] = sku
        return "views/skus.py", state
    return ("views/regions.py" if region else "views/overview.py"), state

"""Injected drops: the ground truth that detection quality is scored against.

Incidents are planned per 14-day block from the seed alone, so any single day can be generated
(and its ground truth listed) without knowing the rest of the history.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import polars as pl

from ..schema import INJECTED_DROPS, REGIONS

_EPOCH = dt.date(2000, 1, 3)  # a Monday
_BLOCK = 14
_TOP_SKUS = 40  # drops are injected into SKUs big enough to matter


@dataclass(frozen=True)
class Incident:
    """One injected drop: which series, when, and how deep (factor = share of normal demand kept)."""

    incident_id: str
    kind: str  # sku_stockout | region_outage | category_dip | sitewide_dip | slow_decline
    level: str
    start: dt.date
    end: dt.date
    factor: float
    sku: str | None = None
    category: str | None = None
    region: str | None = None

    def factor_on(self, day: dt.date) -> float:
        """Demand kept on ``day``: constant, or for a slow decline a ramp down to ``factor``."""
        if not self.start <= day <= self.end:
            return 1.0
        if self.kind != "slow_decline":
            return self.factor
        span = max((self.end - self.start).days, 1)
        return 1.0 - (1.0 - self.factor) * ((day - self.start).days + 1) / (span + 1)


def _block_incidents(block: int, catalog: pl.DataFrame, popularity: np.ndarray, seed: int) -> list[Incident]:
    rng = np.random.default_rng([seed, 11, block])
    first = _EPOCH + dt.timedelta(days=block * _BLOCK)
    top = np.argsort(-popularity)[:_TOP_SKUS]
    skus, cats = catalog["sku"].to_list(), catalog["category"].to_list()
    categories = sorted(set(cats))
    out: list[Incident] = []

    def window(days: int) -> tuple[dt.date, dt.date]:
        start = first + dt.timedelta(days=int(rng.integers(0, _BLOCK - days + 1)))
        return start, start + dt.timedelta(days=days - 1)

    def add(kind: str, level: str, days: int, factor: float, **keys: str) -> None:
        start, end = window(days)
        iid = f"{kind}-{start.isoformat()}-{'-'.join(keys.values()) or 'all'}"
        out.append(Incident(iid, kind, level, start, end, factor, **keys))

    if rng.random() < 0.6:
        i = int(rng.choice(top))
        add("sku_stockout", "sku", int(rng.integers(1, 4)), 0.0, sku=skus[i], category=cats[i])
    if rng.random() < 0.3:
        add("region_outage", "region", int(rng.integers(1, 3)), 0.3, region=REGIONS[int(rng.integers(0, 6))])
    if rng.random() < 0.25:
        add(
            "category_dip",
            "category",
            int(rng.integers(1, 3)),
            0.45,
            category=categories[int(rng.integers(0, len(categories)))],
        )
    if rng.random() < 0.12:
        add("sitewide_dip", "total", 1, 0.55)
    if rng.random() < 0.1:
        i = int(rng.choice(top))
        add("slow_decline", "sku", 10, 0.35, sku=skus[i], category=cats[i])
    return out


def incidents_between(
    start: dt.date, end: dt.date, catalog: pl.DataFrame, popularity: np.ndarray, seed: int
) -> list[Incident]:
    """Every incident active on any day from ``start`` to ``end`` inclusive."""
    first_block = (start - _EPOCH).days // _BLOCK - 1
    last_block = (end - _EPOCH).days // _BLOCK
    found = []
    for block in range(first_block, last_block + 1):
        found += [
            i for i in _block_incidents(block, catalog, popularity, seed) if i.start <= end and i.end >= start
        ]
    return found


def ground_truth(day: dt.date, incidents: list[Incident]) -> pl.DataFrame:
    """One row per incident active on ``day``, in the injected_drops schema."""
    rows = [
        {
            "date": day,
            "incident_id": i.incident_id,
            "kind": i.kind,
            "level": i.level,
            "sku": i.sku,
            "category": i.category,
            "region": i.region,
            "start": i.start,
            "end": i.end,
            "factor": i.factor_on(day),
        }
        for i in incidents
        if i.start <= day <= i.end
    ]
    return pl.DataFrame(rows, schema=INJECTED_DROPS)

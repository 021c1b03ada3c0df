"""Incidents injected into a generated shop shape: every kind the detectors must find, at its own level."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import polars as pl

from .drops import Incident

KINDS = (
    "sku_stockout",
    "sku_region_stockout",
    "region_partial",
    "region_outage",
    "sitewide_outage",
    "category_drop",
    "slow_decline",
    "low_volume_stop",
)
STEP_KINDS = tuple(k for k in KINDS if k != "slow_decline")
SLOT_DAYS = 14  # one incident per fortnight, so incidents never overlap
LOW_VOLUME_ORDERS = 5.0  # expected orders a day of the SKU a low-volume stop hits


@dataclass(frozen=True)
class ShapeIncident(Incident):
    """One injected drop (the demo's Incident, so the slow-decline ramp is the same rule) and the cells
    of the shape's (sku, region) grid it hits."""

    sku_index: tuple[int, ...] | None = None  # cells hit: None = every SKU / region
    region_index: int | None = None

    def apply(self, kept: np.ndarray, days: list[dt.date]) -> None:
        """Multiply the (day, sku, region) array of demand kept by this incident's factors."""
        first = days[0]
        skus = slice(None) if self.sku_index is None else list(self.sku_index)
        regions = slice(None) if self.region_index is None else self.region_index
        day = self.start
        while day <= self.end:
            i = (day - first).days
            if 0 <= i < len(days):
                kept[i, skus, regions] *= self.factor_on(day)
            day += dt.timedelta(days=1)


def _low_volume(sku_daily: np.ndarray, start: int) -> list[int]:
    """The 3 SKUs nearest LOW_VOLUME_ORDERS a day over the 28 days before ``start`` (under 10 a day).

    About 5 orders a day *when the stop happens*: the long tail every shape carries, not the shop's
    smallest SKU (a small shop's Zipf tail sells one order a day or less, where a week without sales
    is ordinary), and not a year's average (a shop that doubles over the year sells half of it in
    February)."""
    daily = sku_daily[max(start - 28, 0) : start].mean(axis=0)
    return [int(i) for i in np.argsort(np.abs(daily - LOW_VOLUME_ORDERS)) if daily[i] < 10][:3]


def plan_incidents(
    days: list[dt.date],
    history_days: int,
    expected: np.ndarray,
    catalog: pl.DataFrame,
    regions: tuple[str, ...],
    rng: np.random.Generator,
) -> list[ShapeIncident]:
    """One incident per SLOT_DAYS after the history, kinds in a shuffled cycle, each at its own level."""
    skus, cats = catalog["sku"].to_list(), catalog["category"].to_list()
    sku_volume = expected.sum(axis=(0, 2))
    region_volume = expected.sum(axis=(0, 1))
    cell_daily = expected.mean(axis=0)
    sku_daily = expected.sum(axis=2)  # (day, sku)
    top = [int(i) for i in np.argsort(-sku_volume)[:20]]
    big_cells = np.argwhere(cell_daily >= 20) if (cell_daily >= 20).any() else np.argwhere(cell_daily >= 8)
    categories = sorted(set(cats))
    slots = list(range(history_days, len(days) - SLOT_DAYS, SLOT_DAYS))
    order = [k for _ in range(len(slots) // len(KINDS) + 1) for k in rng.permutation(KINDS)][: len(slots)]
    out = []
    for slot, kind in zip(slots, order, strict=True):
        length = {"sku_stockout": int(rng.integers(1, 8)), "sku_region_stockout": int(rng.integers(2, 6)),
                  "region_partial": int(rng.integers(1, 4)), "region_outage": 1, "sitewide_outage": 1,
                  "category_drop": 2, "slow_decline": 10, "low_volume_stop": 7}[kind]  # fmt: skip
        start = days[slot + int(rng.integers(0, SLOT_DAYS - length))]
        end = start + dt.timedelta(days=length - 1)
        keys: dict = {}
        tail = _low_volume(sku_daily, days.index(start)) if kind == "low_volume_stop" else []
        if kind == "sku_stockout" or (kind == "low_volume_stop" and tail):
            i = int(rng.choice(top if kind == "sku_stockout" else tail))
            level, factor = "sku", 0.0
            keys = {"sku": skus[i], "category": cats[i], "sku_index": (i,)}
        elif kind == "sku_region_stockout" and len(big_cells):
            i, r = (int(v) for v in big_cells[rng.integers(0, len(big_cells))])
            level, factor = "sku_region", 0.0
            keys = {"sku": skus[i], "category": cats[i], "region": regions[r], "sku_index": (i,),
                    "region_index": r}  # fmt: skip
        elif kind in ("region_partial", "region_outage"):
            r = int(np.argmax(region_volume) if kind == "region_partial" else np.argmin(region_volume))
            level = "region"
            factor = float(rng.uniform(0.5, 0.7)) if kind == "region_partial" else 0.0
            keys = {"region": regions[r], "region_index": r}
        elif kind in ("category_drop", "slow_decline"):
            c = categories[int(rng.integers(0, len(categories)))]
            level, factor = "category", 0.5
            keys = {"category": c, "sku_index": tuple(i for i, x in enumerate(cats) if x == c)}
        else:
            level, factor = "total", float(rng.uniform(0.1, 0.4))
        label = "-".join(str(v) for k, v in keys.items() if k in ("sku", "category", "region")) or "all"
        out.append(ShapeIncident(f"{kind}-{start}-{label}", kind, level, start, end, factor, **keys))
    return out

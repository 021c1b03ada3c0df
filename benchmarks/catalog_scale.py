"""Catalog scale: metrics and detection per daily_agg row at 20,000 SKUs x 20 regions vs 500 x 6.

The synthetic source has six fixed regions and draws every order line, so this benchmark writes
``daily_agg`` directly, a day at a time (Poisson counts per (sku, region) cell, seeded by the date,
with a few injected drops so detection has something to find), at the same density for both shops
(about ten expected orders per cell). It then runs ``daily_metrics`` and ``alerts`` over the days as
a user would, one ``dagster asset materialize --partition-range`` in a fresh process (SQLite
instance), and reports seconds and peak memory per daily_agg row. The dashboard's data module is
then timed on the big shop's year (``benchmarks.dashboard.run``).

``python -m benchmarks.catalog_scale`` prints one JSON line and writes nothing to results.json.
``BENCH_QUICK=1``: a few days of small shops, asserting only that the pipeline's revenue per day
equals the written daily_agg's and that a re-run gives the same alerts (what the test runs).
"""

from __future__ import annotations

import datetime as dt
import sys
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import polars as pl

from spd_assets.core.schema import DAILY_AGG, REGIONS, conform
from spd_assets.core.storage import DayStore
from spd_assets.core.synthetic.catalog import generate_catalog
from spd_assets.core.synthetic.seasonality import demand_factor

HERE = Path(__file__).parent
DAGSTER = str(Path(sys.executable).parent / "dagster")
CELL_ORDERS = 10.0  # mean expected orders per (sku, region) cell and day: both shops equally dense
SKU_EXPONENT = 0.5  # Zipf-like popularity, mild enough that the smallest cells still sell most days


@dataclass(frozen=True)
class CatalogShop:
    """A shop of ``n_skus`` x ``n_regions`` whose daily_agg is drawn directly, deterministic per date."""

    n_skus: int
    n_regions: int
    seed: int = 7

    @cached_property
    def regions(self) -> tuple[str, ...]:
        if self.n_regions <= len(REGIONS):
            return REGIONS[: self.n_regions]
        return tuple(f"region-{i + 1:02d}" for i in range(self.n_regions))

    @cached_property
    def catalog(self) -> pl.DataFrame:
        return generate_catalog(self.n_skus, self.seed)

    @cached_property
    def _cells(self) -> tuple[pl.DataFrame, np.ndarray, np.ndarray]:
        """The (sku, category, region) key columns of every cell, their expected orders, their prices."""
        rng = np.random.default_rng([self.seed, 31])
        sku_w = 1.0 / (rng.permutation(self.n_skus) + 1.0) ** SKU_EXPONENT
        region_w = np.linspace(1.0, 0.3, self.n_regions)
        weights = (sku_w[:, None] * region_w[None, :]).ravel()
        expected = weights / weights.mean() * CELL_ORDERS
        cat = self.catalog
        keys = pl.DataFrame(
            {
                "sku": np.repeat(cat["sku"].to_numpy(), self.n_regions),
                "category": np.repeat(cat["category"].to_numpy(), self.n_regions),
                "region": np.tile(np.array(self.regions), self.n_skus),
            }
        )
        prices = np.repeat(cat["base_price"].to_numpy(), self.n_regions)
        return keys, expected, prices

    def day(self, day: dt.date) -> pl.DataFrame:
        """One day's daily_agg: Poisson orders per cell, a few SKUs and sometimes a region dropped."""
        keys, expected, prices = self._cells
        rng = np.random.default_rng([self.seed, day.toordinal()])
        mean = expected * demand_factor(day)
        grid = mean.reshape(self.n_skus, self.n_regions)
        for sku in rng.choice(self.n_skus, 3, replace=False):  # stock-outs: a SKU everywhere at 20%
            grid[sku] *= 0.2
        if rng.random() < 0.1:  # an outage in one region: 40% of its demand lost
            grid[:, rng.integers(self.n_regions)] *= 0.6
        orders = rng.poisson(mean)
        units = orders + rng.binomial(orders, 0.3)
        cents = np.round(units * prices * 100).astype(np.int64)
        frame = keys.with_columns(
            date=pl.lit(day, dtype=pl.Date),
            orders=pl.Series(orders, dtype=pl.Int64),
            units=pl.Series(units, dtype=pl.Int64),
            revenue=pl.Series(cents / 100),
            aov=pl.Series(np.round(cents / np.maximum(orders, 1) / 100, 4)),
            cancelled_orders=pl.lit(0, dtype=pl.Int64),
            cancelled_revenue=pl.lit(0.0),
        ).filter(pl.col("orders") > 0)
        return conform(frame, DAILY_AGG)

    def write(self, root: str, days: list[dt.date]) -> int:
        """The catalog and every day's daily_agg under ``root``; the rows written."""
        store = DayStore(root)
        store.write("catalog", None, self.catalog)
        rows = 0
        for day in days:
            frame = self.day(day)
            store.write("daily_agg", day, frame)
            rows += frame.height
        return rows

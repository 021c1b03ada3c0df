"""Synthetic orders for one day, deterministic from the date and a seed.

Vectorised with numpy: expected orders per (sku, region) cell are drawn as Poisson counts and
expanded into order rows, so a million orders a day costs a fraction of a second.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import polars as pl

from ..schema import ORDERS, REGIONS
from .catalog import cell_weights, sku_popularity
from .drops import Incident, ground_truth, incidents_between
from .seasonality import demand_factor, promotions

# Share of orders per hour of the day (UTC): a lunchtime bump and an evening peak.
_HOURLY = np.array(
    [
        1,
        0.6,
        0.4,
        0.3,
        0.3,
        0.4,
        0.8,
        1.5,
        2.4,
        3,
        3.4,
        3.9,
        4.5,
        4.4,
        3.8,
        3.5,
        3.5,
        3.8,
        4.4,
        5.2,
        5.6,
        5,
        3.6,
        2,
    ],
    dtype=float,
)
_HOURLY /= _HOURLY.sum()


@dataclass(frozen=True)
class GeneratedDay:
    """One day of orders and the incidents injected into it."""

    orders: pl.DataFrame
    truth: pl.DataFrame


def incident_factors(day: dt.date, incidents: list[Incident], catalog: pl.DataFrame) -> np.ndarray:
    """Demand kept per (sku, region) cell on ``day`` after every active incident."""
    skus = np.array(catalog["sku"].to_list())
    cats = np.array(catalog["category"].to_list())
    regions = np.array(REGIONS)
    factors = np.ones((len(skus), len(regions)))
    for inc in incidents:
        f = inc.factor_on(day)
        if f == 1.0:
            continue
        rows = np.ones(len(skus), bool)
        cols = np.ones(len(regions), bool)
        if inc.sku is not None:
            rows &= skus == inc.sku
        elif inc.category is not None:
            rows &= cats == inc.category
        if inc.region is not None:
            cols &= regions == inc.region
        factors[np.ix_(rows, cols)] *= f
    return factors


def generate_day(day: dt.date, catalog: pl.DataFrame, orders_per_day: int, seed: int = 7) -> GeneratedDay:
    """Orders for ``day``: seasonality x promotions x injected drops over a Zipf SKU mix."""
    if orders_per_day < 0:
        raise ValueError(f"orders_per_day must be >= 0, got {orders_per_day}")
    rng = np.random.default_rng([seed, 5, day.toordinal()])
    n_skus = catalog.height
    cats = catalog["category"].to_list()
    prices = catalog["base_price"].to_numpy().astype(float)

    promo = promotions(day, sorted(set(cats)), seed)
    uplift = np.array([promo.get(c, (0.0, 1.0))[1] for c in cats])
    discount = np.array([promo.get(c, (0.0, 1.0))[0] for c in cats])
    incidents = incidents_between(day, day, catalog, sku_popularity(n_skus, seed), seed)

    lam = orders_per_day * demand_factor(day) * cell_weights(catalog, seed)
    lam *= uplift[:, None] * incident_factors(day, incidents, catalog)
    counts = rng.poisson(lam).ravel()
    n = int(counts.sum())
    cell = np.repeat(np.arange(counts.size), counts)
    sku_idx, region_idx = np.divmod(cell, len(REGIONS))

    seconds = (rng.choice(24, size=n, p=_HOURLY) * 3600 + rng.integers(0, 3600, size=n)).astype(np.int64)
    order = np.argsort(seconds, kind="stable")
    sku_idx, region_idx, seconds = sku_idx[order], region_idx[order], seconds[order]
    qty = np.minimum(rng.geometric(0.62, size=n), 12)
    unit_price = np.round(prices * (1.0 - discount), 2)[sku_idx]

    midnight_us = int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp()) * 1_000_000
    orders = pl.DataFrame(
        {
            "seq": np.arange(n, dtype=np.int64),
            "ts": midnight_us + seconds * 1_000_000,
            "sku_idx": sku_idx,
            "region_idx": region_idx,
            "qty": qty.astype(np.int64),
            "price": unit_price,
        }
    )
    sku_names = pl.Series(catalog["sku"].to_list(), dtype=pl.String)
    region_names = pl.Series(list(REGIONS), dtype=pl.String)
    orders = orders.select(
        order_id=pl.concat_str(pl.lit(day.strftime("%Y%m%d-")), pl.col("seq").cast(pl.String).str.zfill(7)),
        ts=pl.col("ts").cast(pl.Datetime("us", "UTC")),
        date=pl.lit(day, dtype=pl.Date),
        sku=pl.col("sku_idx").map_batches(lambda s: sku_names.gather(s), return_dtype=pl.String),
        region=pl.col("region_idx").map_batches(lambda s: region_names.gather(s), return_dtype=pl.String),
        qty=pl.col("qty"),
        price=pl.col("price"),
        revenue=(pl.col("qty") * pl.col("price")).round(2),
    )
    return GeneratedDay(orders=orders.cast(ORDERS), truth=ground_truth(day, incidents))

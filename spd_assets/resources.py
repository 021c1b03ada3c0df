"""Resources: where the orders come from."""

from __future__ import annotations

import datetime as dt

import dagster as dg
import polars as pl

from .core.catalog import generate_catalog, sku_popularity
from .core.generate import GeneratedDay, generate_day
from .core.incidents import ground_truth, incidents_between


class SyntheticSource(dg.ConfigurableResource):
    """Deterministic synthetic shop: the same settings give the same catalog and orders."""

    orders_per_day: int = 20_000
    n_skus: int = 200
    seed: int = 7

    def catalog(self) -> pl.DataFrame:
        return generate_catalog(self.n_skus, self.seed)

    def day(self, day: dt.date, catalog: pl.DataFrame) -> GeneratedDay:
        return generate_day(day, catalog, self.orders_per_day, self.seed)

    def truth(self, day: dt.date, catalog: pl.DataFrame) -> pl.DataFrame:
        incidents = incidents_between(day, day, catalog, sku_popularity(catalog.height, self.seed), self.seed)
        return ground_truth(day, incidents)

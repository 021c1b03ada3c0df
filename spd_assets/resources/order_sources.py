"""Resources: where the orders come from (SPD_SOURCE): the synthetic shop or the landing folder."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import ClassVar

import dagster as dg
import polars as pl

from ..core import schema
from ..core.landing import files as landing
from ..core.landing.catalog import landing_catalog
from ..core.landing.folder import check_unchanged
from ..core.landing.validate import LandingFileError, ValidatedDay, ValidationReport, empty_quarantine
from ..core.synthetic.catalog import generate_catalog, sku_popularity
from ..core.synthetic.drops import ground_truth, incidents_between
from ..core.synthetic.orders import GeneratedDay, generate_day


class OrderSource(dg.ConfigurableResource):
    """What the `catalog`, `orders` and `quarantine` assets read, whichever source is configured."""

    quarantine_max_rate: float = 0.05  # the WARN check on `quarantine` fails above this share of rows
    # Whether ``load_day`` and ``truth`` use the catalog they are given: the synthetic shop generates
    # from it; a landing folder's files stand alone, so its steps do not load the catalog at all.
    uses_catalog: ClassVar[bool] = False

    def catalog(self) -> pl.DataFrame:
        raise NotImplementedError

    def check_days(self, days: list[dt.date], requested: Mapping[dt.date, str] | None = None) -> None:
        """Fail fast, before anything is written, on what can be seen cheaply (no file, no header, a
        file that is not the one the sensor ``requested``: day -> sha256 prefix)."""

    def load_day(self, day: dt.date, catalog: pl.DataFrame) -> ValidatedDay:
        """One day's kept orders, its quarantined rows and the report (rows in, kept, quarantined)."""
        raise NotImplementedError

    def truth(self, day: dt.date, catalog: pl.DataFrame) -> pl.DataFrame:
        """Injected drops on ``day``: only a synthetic source knows any."""
        return schema.empty(schema.INJECTED_DROPS)


class SyntheticSource(OrderSource):
    """Deterministic synthetic shop: the same settings give the same catalog and orders."""

    orders_per_day: int = 20_000
    n_skus: int = 200
    seed: int = 7
    uses_catalog: ClassVar[bool] = True

    def catalog(self) -> pl.DataFrame:
        return generate_catalog(self.n_skus, self.seed)

    def day(self, day: dt.date, catalog: pl.DataFrame) -> GeneratedDay:
        return generate_day(day, catalog, self.orders_per_day, self.seed)

    def load_day(self, day: dt.date, catalog: pl.DataFrame) -> ValidatedDay:
        """Generated orders are valid by construction: nothing to quarantine."""
        orders = self.day(day, catalog).orders
        n = orders.height
        report = ValidationReport(day, "synthetic", rows_in=n, rows_kept=n, rows_quarantined=0)
        return ValidatedDay(orders=orders, quarantine=empty_quarantine(), report=report)

    def truth(self, day: dt.date, catalog: pl.DataFrame) -> pl.DataFrame:
        incidents = incidents_between(day, day, catalog, sku_popularity(catalog.height, self.seed), self.seed)
        return ground_truth(day, incidents)


class LandingSource(OrderSource):
    """The shop's own daily files in ``landing_dir`` (``orders_YYYY-MM-DD.csv``, optional catalog.csv)."""

    landing_dir: str
    timezone: str | None = None  # SPD_TIMEZONE: timestamps with an offset fall on the shop's day

    def catalog(self) -> pl.DataFrame:
        return landing_catalog(self.landing_dir)

    def check_days(self, days: list[dt.date], requested: Mapping[dt.date, str] | None = None) -> None:
        problems: list[LandingFileError] = []
        requested = requested or {}
        for day in days:
            try:
                path = landing.check_day(self.landing_dir, day)
                if day in requested:
                    check_unchanged(str(path), landing.sha256_file(path), requested[day])
            except LandingFileError as exc:
                problems.append(exc)
        if len(problems) == 1:
            raise problems[0]
        if problems:
            shown = "\n".join(map(str, problems[:20])) + ("\n..." if len(problems) > 20 else "")
            raise LandingFileError(self.landing_dir, f"{len(problems)} day files cannot be used:\n{shown}")

    def load_day(self, day: dt.date, catalog: pl.DataFrame) -> ValidatedDay:
        """The day's file, read through the folder's mapping.toml when it has one."""
        return landing.load_day(self.landing_dir, day, self.timezone)

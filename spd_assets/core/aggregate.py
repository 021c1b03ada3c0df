"""Daily aggregation: orders to one row per date x sku x region."""

from __future__ import annotations

import polars as pl

from .schema import DAILY_AGG, conform


def aggregate_daily(orders: pl.DataFrame | pl.LazyFrame, catalog: pl.DataFrame) -> pl.DataFrame:
    """Orders, units, revenue and AOV per date x sku x region, with the SKU's category.

    A SKU missing from the catalog keeps its rows under category ``unknown`` rather than vanishing.
    """
    agg = (
        orders.lazy()
        .group_by("date", "sku", "region")
        # Money is summed in integer cents: a float sum depends on the order the threads add rows in,
        # and the same orders must give the same bytes.
        .agg(
            orders=pl.len().cast(pl.Int64),
            units=pl.col("qty").sum(),
            cents=(pl.col("revenue") * 100).round().cast(pl.Int64).sum(),
        )
        .join(catalog.lazy().select("sku", "category"), on="sku", how="left")
        .with_columns(
            category=pl.col("category").fill_null("unknown"),
            revenue=pl.col("cents") / 100,
            aov=(pl.col("cents") / pl.col("orders") / 100).round(4),
        )
        .sort("date", "sku", "region")
        .collect()
    )
    return conform(agg, DAILY_AGG)

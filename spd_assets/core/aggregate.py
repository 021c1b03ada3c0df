"""Daily aggregation: orders to one row per date x sku x region."""

from __future__ import annotations

import polars as pl

from .schema import DAILY_AGG, conform


def aggregate_daily(orders: pl.DataFrame | pl.LazyFrame, catalog: pl.DataFrame) -> pl.DataFrame:
    """Orders, units, revenue and AOV per date x sku x region, with the SKU's category.

    Only counted rows make orders, units and revenue; rows whose status kept them out (cancelled,
    refunded, ...) are summed apart as ``cancelled_orders``/``cancelled_revenue``, so nothing is
    silently dropped. Orders files written before statuses existed count every row. A SKU missing
    from the catalog keeps its rows under category ``unknown`` rather than vanishing.
    """
    lazy = orders.lazy()
    counted = pl.col("counted") if "counted" in lazy.collect_schema().names() else pl.lit(True)
    # Money is summed in integer cents: a float sum depends on the order the threads add rows in,
    # and the same orders must give the same bytes.
    cents = (pl.col("revenue") * 100).round().cast(pl.Int64)
    agg = (
        lazy.with_columns(counted.fill_null(True).alias("__counted"))
        .group_by("date", "sku", "region")
        .agg(
            orders=pl.col("__counted").sum().cast(pl.Int64),
            units=pl.col("qty").filter("__counted").sum(),
            cents=cents.filter("__counted").sum(),
            cancelled_orders=(~pl.col("__counted")).sum().cast(pl.Int64),
            cancelled_cents=cents.filter(~pl.col("__counted")).sum(),
        )
        .join(catalog.lazy().select("sku", "category"), on="sku", how="left")
        .with_columns(
            category=pl.col("category").fill_null("unknown"),
            revenue=pl.col("cents") / 100,
            aov=pl.when(pl.col("orders") > 0).then((pl.col("cents") / pl.col("orders") / 100).round(4)),
            cancelled_revenue=pl.col("cancelled_cents") / 100,
        )
        .sort("date", "sku", "region")
        .collect()
    )
    return conform(agg, DAILY_AGG)

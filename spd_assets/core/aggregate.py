"""Daily aggregation: orders to one row per date x sku x region."""

from __future__ import annotations

import polars as pl

from .schema import DAILY_AGG, conform

# The orders columns aggregation reads: the rest (order ids, times, prices, statuses) are not decoded.
ORDER_COLUMNS = ("date", "sku", "region", "qty", "revenue", "counted")


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
    kept = counted.fill_null(True)
    # Plain sums of masked columns: a filter inside each sum took twice as long on a day of 1,000,000
    # lines (0.28 against 0.14 s), the same sums.
    agg = (
        lazy.select(
            "date",
            "sku",
            "region",
            orders=kept.cast(pl.Int64),
            units=pl.when(kept).then("qty").otherwise(0),
            cents=pl.when(kept).then(cents).otherwise(0),
            cancelled_orders=(~kept).cast(pl.Int64),
            cancelled_cents=pl.when(kept).then(0).otherwise(cents),
        )
        .group_by("date", "sku", "region")
        .agg(pl.col("orders", "units", "cents", "cancelled_orders", "cancelled_cents").sum())
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

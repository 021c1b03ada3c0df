"""Derived sales tables: the daily aggregate and the rolling KPIs."""

import datetime as dt

import dagster as dg
import polars as pl

from ..core import schema
from ..core.aggregate import aggregate_daily
from ..core.metrics import LOOKBACK_DAYS, rolling_metrics
from ..core.storage import DayBatches, DayFrames
from ..partitions import daily, partition_days, with_history
from ..progress import Progress

METRICS_CHUNK_DAYS = 31  # output days computed together in a range run


@dg.asset(
    group_name="sales",
    kinds={"polars", "parquet"},
    partitions_def=daily,
    backfill_policy=dg.BackfillPolicy.single_run(),
)
def daily_agg(context: dg.AssetExecutionContext, orders: DayFrames, catalog: pl.DataFrame) -> DayBatches:
    """Orders, units, revenue and AOV per date x sku x region; reads one day of orders at a time."""
    progress = Progress("daily_agg", len(orders.days), context.log.info)

    def batches():
        for _, frame in orders.chunks(1):
            progress.step(frame.height)
            yield aggregate_daily(frame, catalog)

    return DayBatches(batches(), schema.DAILY_AGG)


@dg.asset(
    group_name="sales",
    kinds={"polars", "parquet"},
    partitions_def=daily,
    backfill_policy=dg.BackfillPolicy.single_run(),
    ins={"daily_agg": with_history(LOOKBACK_DAYS)},
)
def daily_metrics(context: dg.AssetExecutionContext, daily_agg: DayFrames) -> DayBatches:
    """Rolling 7-day KPIs at every roll-up level; reads only the 13 earlier days the windows need."""
    out_days = partition_days(context)
    progress = Progress("daily_metrics", len(out_days), context.log.info)

    def batches():
        for i in range(0, len(out_days), METRICS_CHUNK_DAYS):
            chunk = out_days[i : i + METRICS_CHUNK_DAYS]
            first = chunk[0] - dt.timedelta(days=LOOKBACK_DAYS)
            need = [d for d in daily_agg.days if first <= d <= chunk[-1]]
            have = [d for d in need if d >= out_days[0] or daily_agg.store.exists(daily_agg.asset, d)]
            if len(have) < len(need):
                context.log.warning(
                    f"daily_agg is not materialized for {len(need) - len(have)} day(s) before {chunk[0]}: "
                    "windows reaching them cover fewer days (see window_days; pct_change_7d is left empty)"
                )
            need = have
            metrics = rolling_metrics(daily_agg.read(need), days=need, output_days=chunk)
            progress.step(metrics.height, days=len(chunk))
            yield metrics

    return DayBatches(batches(), schema.DAILY_METRICS)

"""Derived sales tables: the daily aggregate and the rolling KPIs."""

import datetime as dt

import dagster as dg
import polars as pl

from ..core import schema
from ..core.aggregate import ORDER_COLUMNS, aggregate_daily
from ..core.metrics import LOOKBACK_DAYS, chunk_days, rolling_metrics
from ..core.storage import DayBatches, DayFrames
from ..partitions import dated_asset, partition_days, with_history
from ..progress import Progress


def build(
    daily: dg.DailyPartitionsDefinition, fresh_by_hour: int = 6, policy: dg.BackfillPolicy | None = None
) -> list[dg.AssetsDefinition]:
    """``daily_agg`` and ``daily_metrics`` on ``daily``; metrics are due by ``fresh_by_hour`` UTC daily."""
    # Dagster's freshness is not partition-aware: it checks that some day was materialized since
    # midnight; the Data health page checks that yesterday's day itself is there.
    fresh = dg.FreshnessPolicy.cron(
        deadline_cron=f"0 {fresh_by_hour} * * *", lower_bound_delta=dt.timedelta(hours=fresh_by_hour)
    )

    @dated_asset(daily, "sales", policy)
    def daily_agg(context: dg.AssetExecutionContext, orders: DayFrames, catalog: pl.DataFrame) -> DayBatches:
        """Orders, units, revenue and AOV per date x sku x region; reads one day of orders at a time."""
        progress = Progress("daily_agg", len(orders.days), context.log.info)
        stored = orders.stored()
        out = DayBatches((), schema.DAILY_AGG)

        def batches():
            for day in orders.days:
                if day not in stored:
                    out.no_data.add(day)
                    continue
                frame = orders.read([day], ORDER_COLUMNS)
                progress.step(frame.height)
                yield aggregate_daily(frame, catalog)

        out.batches = batches()
        return out

    history = {"daily_agg": with_history(LOOKBACK_DAYS)}

    @dated_asset(daily, "sales", policy, ins=history, freshness_policy=fresh)
    def daily_metrics(context: dg.AssetExecutionContext, daily_agg: DayFrames) -> DayBatches:
        """Rolling 7-day KPIs at every roll-up level; reads only the 13 earlier days the windows need.

        A window over a day never materialized sums the days it has (``window_days`` says how many);
        an output day without its own daily_agg gets no file.
        """
        out_days = partition_days(context)
        progress = Progress("daily_metrics", len(out_days), context.log.info)
        out = DayBatches((), schema.DAILY_METRICS)

        size = daily_agg.newest_rows()  # sets how many days are computed together

        def batches():
            for chunk, have in daily_agg.windows(out_days, LOOKBACK_DAYS, chunk_days(size)):
                out.no_data.update(d for d in chunk if d not in have)
                if not any(d in have for d in chunk):
                    progress.step(0, days=len(chunk))
                    continue
                metrics = rolling_metrics(daily_agg.read(have), days=have, output_days=chunk)
                progress.step(metrics.height, days=len(chunk))
                yield metrics

        out.batches = batches()
        return out

    return [daily_agg, daily_metrics]

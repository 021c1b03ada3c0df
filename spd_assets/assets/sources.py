"""Where the data enters: the catalog, one day's orders, and the ground truth of injected drops."""

import dagster as dg
import polars as pl

from ..core import schema
from ..core.storage import DayBatches
from ..partitions import daily, partition_days
from ..progress import Progress
from ..resources import SyntheticSource


@dg.asset(group_name="sources", kinds={"polars", "parquet"})
def catalog(source: SyntheticSource) -> pl.DataFrame:
    """The product catalog (sku, name, category, base_price); every dated asset joins on it."""
    return schema.conform(source.catalog(), schema.CATALOG)


@dg.asset(
    group_name="sources",
    kinds={"polars", "parquet"},
    partitions_def=daily,
    backfill_policy=dg.BackfillPolicy.single_run(),
)
def orders(context: dg.AssetExecutionContext, catalog: pl.DataFrame, source: SyntheticSource) -> DayBatches:
    """One row per order line; a range run generates and writes one day at a time."""
    days = partition_days(context)
    progress = Progress("orders", len(days), context.log.info, unit="orders")

    def batches():
        for day in days:
            frame = source.day(day, catalog).orders
            progress.step(frame.height)
            yield frame

    return DayBatches(batches(), schema.ORDERS)


@dg.asset(
    group_name="sources",
    kinds={"polars", "parquet"},
    partitions_def=daily,
    backfill_policy=dg.BackfillPolicy.single_run(),
    deps=[catalog],
)
def injected_drops(
    context: dg.AssetExecutionContext, catalog: pl.DataFrame, source: SyntheticSource
) -> pl.DataFrame:
    """Ground truth: the drops the synthetic source injected on each day, to score detection against."""
    frames = [source.truth(day, catalog) for day in partition_days(context)]
    return pl.concat(frames) if frames else schema.empty(schema.INJECTED_DROPS)

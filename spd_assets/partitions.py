"""The daily partitions every dated asset shares, built from the settings, and the run's days."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import dagster as dg

from .core.run_tags import RANGE_END, RANGE_START, range_tags
from .core.settings import Settings
from .core.storage import parse_day

__all__ = [
    "RANGE_END",
    "RANGE_START",
    "backfill_policy",
    "daily_partitions",
    "dated_asset",
    "dated_out",
    "partition_days",
    "range_tags",
    "with_history",
]

KINDS = {"polars", "parquet"}  # what every dated asset is, shown on it in the Dagster UI


def daily_partitions(settings: Settings) -> dg.DailyPartitionsDefinition:
    """Complete days (in SPD_TIMEZONE, else UTC) from SPD_START_DATE: today appears once it has ended.

    With a fixed SPD_TODAY the set ends the day before it; otherwise it follows the clock, so a
    long-running daemon gains each new day without a reload.
    """
    end = settings.today.isoformat() if settings.today else None
    return dg.DailyPartitionsDefinition(
        start_date=settings.start_date.isoformat(), end_date=end, timezone=settings.timezone or "UTC"
    )


def backfill_policy(chunk_days: int = 0) -> dg.BackfillPolicy:
    """How a UI backfill splits into runs: one run per range (0, the default), or runs of
    ``chunk_days`` days each (SPD_BACKFILL_CHUNK_DAYS) that a cluster's run workers take in parallel.

    Either way a run covers a range of days, which the project's IO manager writes a day at a time."""
    return dg.BackfillPolicy.multi_run(chunk_days) if chunk_days else dg.BackfillPolicy.single_run()


def dated_asset(
    daily: dg.DailyPartitionsDefinition, group: str, policy: dg.BackfillPolicy | None = None, **kwargs: object
) -> Callable[[Callable[..., object]], dg.AssetsDefinition]:
    """The decorator of every dated asset: one Parquet file per day, a range is one run (single-run
    backfill policy unless ``policy`` chunks it, see ``backfill_policy``)."""
    return dg.asset(
        group_name=group,
        kinds=KINDS,
        partitions_def=daily,
        backfill_policy=policy or backfill_policy(),
        **kwargs,
    )


def dated_out(group: str, description: str) -> dg.AssetOut:
    """One output of a step that writes several dated assets (orders + quarantine, alerts + incidents):
    not required, so a run that selects one of them writes only that one."""
    return dg.AssetOut(group_name=group, kinds=KINDS, is_required=False, description=description)


def partition_days(context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext) -> list[dt.date]:
    """The days a run covers: one for a normal run, many for a single-run backfill."""
    return [parse_day(k) for k in context.partition_keys]


def with_history(days_before: int) -> dg.AssetIn:
    """An input reading the same days plus ``days_before`` earlier ones (fewer where history is shorter)."""
    return dg.AssetIn(
        partition_mapping=dg.TimeWindowPartitionMapping(
            start_offset=-days_before, allow_nonexistent_upstream_partitions=True
        )
    )

"""The daily partitions every dated asset shares."""

from __future__ import annotations

import datetime as dt

import dagster as dg

from .core.storage import parse_day
from .settings import load_settings

# Only complete UTC days are partitions: today appears once it has ended.
daily = dg.DailyPartitionsDefinition(start_date=load_settings().start_date.isoformat(), timezone="UTC")


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

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

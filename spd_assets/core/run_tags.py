"""Dagster's run tags for a single run over a range of partitions (one spelling for every caller)."""

from __future__ import annotations

import datetime as dt

RANGE_START, RANGE_END = "dagster/asset_partition_range_start", "dagster/asset_partition_range_end"


def range_tags(first: str | dt.date, last: str | dt.date) -> dict[str, str]:
    """The tags that make one run cover first..last (a single-run backfill)."""
    return {RANGE_START: str(first), RANGE_END: str(last)}

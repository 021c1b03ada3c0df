"""Jobs and schedules: the whole daily graph, run each night for yesterday, and the anomaly check."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import dagster as dg

AssetJob = Any  # what dg.define_asset_job returns (its class is not exported)
DATED = dg.AssetSelection.groups("sources", "sales", "detection") - dg.AssetSelection.keys("catalog")


@dataclass(frozen=True)
class Jobs:
    daily_pipeline: AssetJob
    anomaly_check: AssetJob
    schedule: dg.ScheduleDefinition


def build_jobs(daily: dg.DailyPartitionsDefinition) -> Jobs:
    """``daily_pipeline`` (every dated asset), its 02:00 schedule, and ``anomaly_check``."""
    pipeline = dg.define_asset_job(
        "daily_pipeline",
        selection=DATED,
        partitions_def=daily,
        description="Every dated asset for a day (or a range, in one run).",
    )
    # Selects the partitioned `alerts` and `incidents` (one step; the checks come along), so it runs
    # for a day or a range; the anomaly sensor requests it, and the dashboard launches it by this name.
    anomaly_check = dg.define_asset_job(
        "anomaly_check",
        selection=dg.AssetSelection.assets("alerts", "incidents"),
        partitions_def=daily,
        description="Detect revenue drops for a day (or a range) from daily_metrics already materialized.",
    )
    schedule = dg.build_schedule_from_partitioned_job(pipeline, hour_of_day=2, minute_of_hour=0)
    return Jobs(pipeline, anomaly_check, schedule)

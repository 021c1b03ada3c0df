"""Jobs and schedules: the whole daily graph, run each night for yesterday."""

from __future__ import annotations

import dagster as dg

from .partitions import daily

daily_pipeline = dg.define_asset_job(
    "daily_pipeline",
    selection=dg.AssetSelection.groups("sources", "sales", "detection") - dg.AssetSelection.keys("catalog"),
    partitions_def=daily,
    description="Every dated asset for a day (or a range, in one run).",
)

daily_schedule = dg.build_schedule_from_partitioned_job(daily_pipeline, hour_of_day=2, minute_of_hour=0)

# Selects the partitioned `alerts` asset (its checks come along), so it runs for a day or a range;
# the anomaly sensor requests it, and the dashboard launches it by this name.
anomaly_check = dg.define_asset_job(
    "anomaly_check",
    selection=dg.AssetSelection.assets("alerts"),
    partitions_def=daily,
    description="Detect revenue drops for a day (or a range) from daily_metrics already materialized.",
)

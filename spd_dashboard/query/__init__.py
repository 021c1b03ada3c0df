"""The dashboard's one data module: every read of the pipeline's Parquet, DuckDB queries cached by mtimes.

Pages call these functions and draw; nothing else in the dashboard opens a Parquet file.
"""

from .alerts import (
    agg_days,
    alert_days,
    alerts,
    incidents,
    metrics_days,
    partitions,
    quarantine_summary,
    series,
)
from .files import AssetFiles, data_dir, list_assets, one_listing, scan
from .regions import by_region_category, region_daily
from .sales import (
    Bounds,
    bounds,
    by_sku,
    cancelled,
    catalog,
    daily_totals,
    period_totals,
    seven_day,
)

__all__ = [
    "AssetFiles",
    "Bounds",
    "agg_days",
    "alert_days",
    "alerts",
    "bounds",
    "by_region_category",
    "by_sku",
    "cancelled",
    "catalog",
    "daily_totals",
    "data_dir",
    "incidents",
    "list_assets",
    "metrics_days",
    "one_listing",
    "partitions",
    "period_totals",
    "quarantine_summary",
    "region_daily",
    "scan",
    "series",
    "seven_day",
]

"""Column names and types of every asset, in one place, so writers, readers and checks agree."""

from __future__ import annotations

import polars as pl

REGIONS: tuple[str, ...] = ("us-east", "us-west", "eu-west", "eu-central", "apac", "latam")
LEVELS: tuple[str, ...] = ("total", "region", "category", "sku", "sku_region")  # the levels detection checks
# daily_metrics also holds one roll-up no detector reads: a category in a region, so that the dashboard
# sums 200 rows a day for that filter instead of 400,000 SKU x region rows at 20,000 SKUs x 20 regions.
# Files written before it lack its rows (the dashboard then sums the SKU x region rows, as it did).
# The levels in the order each day file holds them: the roll-ups' 20,000 rows first, where a read of
# them stops at the first row group, and the 400,000 SKU x region rows last.
METRICS_LEVELS: tuple[str, ...] = ("total", "region", "category", "category_region", "sku", "sku_region")
# The columns that name a series at each level (the rest are null), in the order daily_metrics writes
# the level's rows. SKU x region rows go region by region: a region's 20,000 rows of 400,000 then sit
# in one or two row groups, which a region filter's read skips to (the dashboard's most common filter);
# a SKU's rows are read from daily_agg, written SKU by SKU.
LEVEL_KEYS: dict[str, tuple[str, ...]] = {
    "total": (),
    "region": ("region",),
    "category": ("category",),
    "sku": ("sku",),
    "sku_region": ("region", "sku"),
    "category_region": ("region", "category"),
}
SEVERITIES: tuple[str, ...] = ("critical", "warning", "info")  # most severe first
SEVERITY_ORDER: dict[str, int] = {s: i for i, s in enumerate(SEVERITIES)}
FILE_NAME = "data.parquet"  # each asset's day file: <asset>/date=YYYY-MM-DD/data.parquet


def series_label(level: str, sku: str | None, category: str | None, region: str | None) -> str:
    """A person's name for a series: 'total', 'region us-east', 'sku SKU-0012 in eu-west', ..."""
    if level == "total":
        return "total"
    if level == "sku_region":
        return f"sku {sku} in {region}"
    return f"{level} {({'region': region, 'category': category, 'sku': sku}).get(level)}"


def severity_rank(column: str = "severity") -> pl.Expr:
    """Sort key for severity (critical first; unknown values last)."""
    return pl.col(column).replace_strict(SEVERITY_ORDER, default=len(SEVERITY_ORDER), return_dtype=pl.Int8)


CATALOG = {"sku": pl.String, "name": pl.String, "category": pl.String, "base_price": pl.Float64}

ORDERS = {
    "order_id": pl.String,
    "ts": pl.Datetime("us", "UTC"),
    "date": pl.Date,
    "sku": pl.String,
    "region": pl.String,
    "qty": pl.Int64,
    "price": pl.Float64,
    "revenue": pl.Float64,
}

# Added with order status; orders files written before it lack them (every row counted).
ORDER_STATUS = {"status": pl.String, "counted": pl.Boolean}

DAILY_AGG = {
    "date": pl.Date,
    "sku": pl.String,
    "category": pl.String,
    "region": pl.String,
    "orders": pl.Int64,
    "units": pl.Int64,
    "revenue": pl.Float64,  # counted rows only
    "aov": pl.Float64,
    # Added with order status; daily_agg files written before it lack them (read as 0).
    "cancelled_orders": pl.Int64,
    "cancelled_revenue": pl.Float64,
}
DAILY_AGG_ADDED = {"cancelled_orders": 0, "cancelled_revenue": 0.0}

DAILY_METRICS = {
    "date": pl.Date,
    "level": pl.String,
    "sku": pl.String,
    "category": pl.String,
    "region": pl.String,
    "orders": pl.Int64,
    "units": pl.Int64,
    "revenue": pl.Float64,
    "revenue_7d": pl.Float64,
    "revenue_7d_prev": pl.Float64,
    "pct_change_7d": pl.Float64,
    "units_7d": pl.Int64,
    "orders_7d": pl.Int64,
    "aov_7d": pl.Float64,
    "window_days": pl.Int32,
    # Added with the category_region roll-up: the day's cancelled, refunded, voided or failed order
    # lines of the series (kept out of orders and revenue). Files written before lack them (read null).
    "cancelled_orders": pl.Int64,
    "cancelled_revenue": pl.Float64,
}

INJECTED_DROPS = {
    "date": pl.Date,
    "incident_id": pl.String,
    "kind": pl.String,
    "level": pl.String,
    "sku": pl.String,
    "category": pl.String,
    "region": pl.String,
    "start": pl.Date,
    "end": pl.Date,
    "factor": pl.Float64,
}


def empty(schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """A frame with no rows and the asset's columns, for days that have nothing to write."""
    return pl.DataFrame(schema=schema)


def conform(frame: pl.DataFrame, schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """Select and cast to the schema's columns, in order; a missing column is a bug, so it raises."""
    missing = [c for c in schema if c not in frame.columns]
    if missing:
        raise ValueError(f"frame lacks columns {missing}; has {frame.columns}")
    return frame.select([pl.col(c).cast(t) for c, t in schema.items()])


def with_added(frame: pl.DataFrame, added: dict[str, object], schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """A frame from a file of an earlier layout, given the columns added since (with their defaults)."""
    return frame.with_columns(
        pl.lit(v, dtype=schema[c]).alias(c) if c not in frame.columns else pl.col(c).fill_null(v)
        for c, v in added.items()
    )


ALERTS = {
    "alert_id": pl.String,
    "date": pl.Date,
    "level": pl.String,
    "sku": pl.String,
    "category": pl.String,
    "region": pl.String,
    "metric": pl.String,
    "observed": pl.Float64,
    "baseline": pl.Float64,
    "spread": pl.Float64,  # what robust_z divides by: the floored, scaled MAD (was "mad" before)
    "robust_z": pl.Float64,
    "pct_drop": pl.Float64,
    "revenue_at_risk": pl.Float64,
    "severity": pl.String,
    "rule": pl.String,
    # Added with alert episodes; files written before them lack these columns (read_alerts fills them).
    "window_days": pl.Int32,  # days the test that fired looked at (1: the day itself)
    "episode_id": pl.String,  # one ongoing drop of one series, however many days it lasts
    "first_seen": pl.Date,  # the episode's first alert day
    "episode_status": pl.String,  # open (its first day), ongoing
    # Added with incidents; older files lack them (null incident_id: the alert stands alone).
    "incident_id": pl.String,  # the incident this alert belongs to (see INCIDENTS)
    "is_root": pl.Boolean,  # this alert's series is the incident's root cause
    # Added with feedback and the event calendar; older files lack them (read as null).
    "expected": pl.String,  # the calendar event that expects this drop (null: unexpected, notified)
    "threshold_note": pl.String,  # set when the series' bar was raised by feedback (core.feedback)
}
# An alert read from a file written before incidents stands alone: its own root (incident_id null).
ALERTS_ADDED = {"is_root": True}

INCIDENTS = {
    "incident_id": pl.String,  # stable: from the root series and its episode (re-runs never duplicate)
    "date": pl.Date,
    "level": pl.String,  # the root's level and keys (null keys where the level has none); a LEVELS
    # value, or "category_region" for one category in one region (a root no detection level has)
    "sku": pl.String,
    "category": pl.String,
    "region": pl.String,
    "root": pl.String,  # the root as a user reads it, e.g. "region east" or "category toys, region east"
    "alerts": pl.Int32,  # alerts of the day in the incident, root included
    "children": pl.Int32,  # alerts folded under the root
    "observed": pl.Float64,  # the root series' revenue that day
    "baseline": pl.Float64,
    "pct_drop": pl.Float64,
    "revenue_at_risk": pl.Float64,  # the root's (children are inside it, so not added again)
    "severity": pl.String,  # the highest of its alerts
    "drivers": pl.String,  # JSON: top 3 drivers [{"segment", "contribution", "share"}]
    "episode_id": pl.String,  # the root's alert episode: the same incident on later days of one drop
    "status": pl.String,  # open (its first day), ongoing ("recovered" only in recovery messages)
}

QUARANTINE = {
    "date": pl.Date,  # the partition (the day in the file's name)
    "source_file": pl.String,
    "line": pl.Int64,  # 1-based line in the file, header = line 1 (row number for Parquet)
    "order_id": pl.String,
    "field": pl.String,
    "reason": pl.String,
    "raw": pl.String,  # the original row as JSON, so nothing is lost
}

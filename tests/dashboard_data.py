"""Test data for the dashboard: a small history materialized by the real pipeline, plus hand-written
alerts and quarantine rows (so the Alerts and Data health pages have known content whatever detection
and ingestion do), and independent Parquet readers the tests compare the dashboard against.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import shutil
from dataclasses import dataclass, replace
from pathlib import Path

import dagster as dg
import polars as pl
from conftest import SMALL, materialize_range, recent_days

from spd_assets.core.schema import ALERTS, QUARANTINE
from spd_assets.core.settings import load_settings
from spd_assets.core.storage import DayStore
from spd_assets.definitions import build_defs

HISTORY_DAYS = 21


@dataclass(frozen=True)
class History:
    """A materialized data dir: its days (oldest first) and the alerts written into it."""

    data_dir: str
    days: list[dt.date]
    alerts: pl.DataFrame

    @property
    def last(self) -> dt.date:
        return self.days[-1]


def alert_row(
    day: dt.date,
    level: str,
    severity: str,
    *,
    sku: str | None = None,
    category: str | None = None,
    region: str | None = None,
    observed: float = 100.0,
    baseline: float = 400.0,
) -> dict:
    """One alert in the ALERTS schema, with a stable id and a drop computed from observed/baseline."""
    key = f"{day}|{level}|{sku}|{category}|{region}|revenue_drop"
    return {
        "alert_id": hashlib.sha1(key.encode()).hexdigest()[:16],
        "date": day,
        "level": level,
        "sku": sku,
        "category": category,
        "region": region,
        "metric": "revenue",
        "observed": observed,
        "baseline": baseline,
        "spread": baseline * 0.05,
        "robust_z": -(baseline - observed) / (baseline * 0.05 * 1.4826),
        "pct_drop": 1.0 - observed / baseline,
        "revenue_at_risk": baseline - observed,
        "severity": severity,
        "rule": "revenue_drop",
    }


def write_days(data_dir: str | Path, asset: str, frame: pl.DataFrame, days: list[dt.date]) -> None:
    """Replace ``asset`` with ``frame``, one file per day of ``days`` (empty files for days without rows)."""
    shutil.rmtree(Path(data_dir) / asset, ignore_errors=True)
    store = DayStore(str(data_dir))
    for day in days:
        store.write(asset, day, frame.filter(pl.col("date") == day))


def read_asset(data_dir: str | Path, asset: str) -> pl.DataFrame:
    """Every day file of an asset, read with polars: the tests' independent view of the Parquet."""
    return pl.read_parquet(f"{data_dir}/{asset}/date=*/data.parquet")


def metric_value(metrics: pl.DataFrame, day: dt.date, level: str, **keys: str) -> float:
    rows = metrics.filter((pl.col("date") == day) & (pl.col("level") == level))
    for col, value in keys.items():
        rows = rows.filter(pl.col(col) == value)
    return float(rows["revenue"][0])


def sample_alerts(data_dir: str | Path, days: list[dt.date]) -> pl.DataFrame:
    """Four alerts on two days: a critical region drop and a warning SKU drop on the last day, an info
    total dip and a warning sku_region drop three days earlier; observed values are the real revenue."""
    m = read_asset(data_dir, "daily_metrics")
    last, earlier = days[-1], days[-4]
    top = (
        m.filter((pl.col("level") == "sku") & (pl.col("date") == last))
        .sort("revenue", descending=True)
        .row(0, named=True)
    )
    r_east = metric_value(m, last, "region", region="us-east")
    r_sku = metric_value(m, last, "sku", sku=top["sku"])
    r_total = metric_value(m, earlier, "total")
    r_cell = metric_value(m, earlier, "sku_region", sku=top["sku"], region="apac")
    sku = {"sku": top["sku"], "category": top["category"]}
    rows = [
        alert_row(last, "region", "critical", region="us-east", observed=r_east, baseline=r_east * 3),
        alert_row(last, "sku", "warning", **sku, observed=r_sku, baseline=r_sku * 2),
        alert_row(earlier, "total", "info", observed=r_total, baseline=r_total * 1.3),
        alert_row(
            earlier, "sku_region", "warning", **sku, region="apac", observed=r_cell, baseline=r_cell * 2.5
        ),
    ]
    return pl.DataFrame(rows, schema=ALERTS)


def incident_alerts(data_dir: str | Path, day: dt.date, incident_id: str = "inc-us-east") -> pl.DataFrame:
    """One incident on ``day`` in the layout the incidents asset writes: the us-east region alert as its
    root and the two biggest SKU x region series of us-east folded under it, plus one alert alone."""
    m = read_asset(data_dir, "daily_metrics").filter(pl.col("date") == day)
    cells = m.filter((pl.col("level") == "sku_region") & (pl.col("region") == "us-east")).sort(
        "revenue", descending=True
    )
    r_east = metric_value(m, day, "region", region="us-east")
    rows = [alert_row(day, "region", "critical", region="us-east", observed=r_east, baseline=r_east * 3)]
    for cell in cells.head(2).iter_rows(named=True):
        keys = {k: cell[k] for k in ("sku", "category", "region")}
        rows.append(
            alert_row(
                day, "sku_region", "warning", **keys, observed=cell["revenue"], baseline=cell["revenue"] * 2
            )
        )
    alone = (
        m.filter((pl.col("level") == "region") & (pl.col("region") != "us-east"))
        .sort("revenue")
        .row(0, named=True)
    )
    rows.append(alert_row(day, "region", "info", region=alone["region"], observed=alone["revenue"],
                          baseline=alone["revenue"] * 1.5))  # fmt: skip
    ids = [incident_id, incident_id, incident_id, None]
    return pl.DataFrame(rows, schema=ALERTS).with_columns(
        incident_id=pl.Series(ids, dtype=pl.String), is_root=pl.Series([True, False, False, None])
    )


def sample_quarantine(days: list[dt.date]) -> pl.DataFrame:
    """Three quarantined rows on the last day (two reasons), none on the other days."""
    day = days[-1]
    rows = [
        {"date": day, "source_file": "orders.csv", "line": 3, "order_id": "o-1", "field": "qty",
         "reason": "negative quantity", "raw": "{}"},
        {"date": day, "source_file": "orders.csv", "line": 9, "order_id": "o-2", "field": "qty",
         "reason": "negative quantity", "raw": "{}"},
        {"date": day, "source_file": "orders.csv", "line": 12, "order_id": "o-3", "field": "sku",
         "reason": "unknown SKU", "raw": "{}"},
    ]  # fmt: skip
    return pl.DataFrame(rows, schema=QUARANTINE)


def materialize_history(root: Path, n_days: int = HISTORY_DAYS, *, extras: bool = True) -> History:
    """Run the real daily pipeline over ``n_days`` recent days into ``root/data``; with ``extras``,
    replace alerts and quarantine by the samples above."""
    settings = replace(
        load_settings(), data_dir=str(root / "data"), landing_dir=str(root / "landing"), **SMALL
    )
    days = recent_days(n_days)
    with dg.instance_for_test() as instance:
        result = materialize_range(build_defs(settings), instance, days[0], days[-1])
    assert result.success
    alerts = pl.DataFrame(schema=ALERTS)
    if extras:
        alerts = sample_alerts(settings.data_dir, days)
        write_days(settings.data_dir, "alerts", alerts, days)
        write_days(settings.data_dir, "quarantine", sample_quarantine(days), days)
    return History(settings.data_dir, days, alerts)

"""The `incidents` asset's side of the detection step: the metadata it shows and the days it reads back.

`incidents` is written by the same step as `alerts` (``assets/alerts.py``), as `orders` and
`quarantine` are: grouping needs every SKU x region baseline of the detection pass, which no file
keeps. One row per incident per day (``schema.INCIDENTS``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import dagster as dg
import polars as pl

from ..core import schema
from ..core.channels import driver_text, ordered
from ..core.storage import DayStore
from ..core.text import md_escape

TOP_INCIDENTS = 10  # incidents listed in the materialization metadata
OUT = dg.AssetOut(
    group_name="detection",
    kinds={"polars", "parquet"},
    is_required=False,
    description="One row per incident a day: the root cause, its alerts, the drop and the top drivers.",
)


def incidents_markdown(incidents: pl.DataFrame, limit: int = TOP_INCIDENTS) -> str:
    """A Markdown table of the first ``limit`` incidents, most severe first."""
    rows = ordered(incidents).head(limit).to_dicts()
    lines = [
        "| severity | date | root | status | alerts | observed | baseline | drop | at risk | top drivers |",
        "|---" * 10 + "|",
    ]
    for r in rows:
        drop = f"{r['pct_drop']:.0%}" if r["pct_drop"] is not None else ""
        lines.append(
            f"| {r['severity']} | {r['date']} | {md_escape(r['root'])} | {r['status']} | {r['alerts']} "
            f"| {r['observed']:,.0f} | {r['baseline']:,.0f} | {drop} | {r['revenue_at_risk']:,.0f} "
            f"| {md_escape(driver_text(r))} |"
        )
    if incidents.height > limit:
        lines.append(f"\n…and {incidents.height - limit} more.")
    return "\n".join(lines) if rows else "No incidents."


def incidents_metadata(incidents: pl.DataFrame, alerts: int) -> dict[str, Any]:
    counts = incidents["severity"].value_counts(sort=True)
    return {
        "incidents": incidents.height,
        "opened": incidents.filter(status="open").height,
        "alerts_folded": alerts - incidents.height,
        "by_severity": dict(zip(counts["severity"].to_list(), counts["count"].to_list(), strict=True)),
        "top_incidents": dg.MetadataValue.md(incidents_markdown(incidents)),
    }


def previous_incidents(store: DayStore, days: list[dt.date]) -> pl.DataFrame:
    """Stored incidents of ``days`` (those materialized), for the recoveries of incidents seen before."""
    frames = [store.read("incidents", d) for d in days if store.exists("incidents", d)]
    frames = [f.select(list(schema.INCIDENTS)) for f in frames if f.height]
    return pl.concat(frames) if frames else schema.empty(schema.INCIDENTS)

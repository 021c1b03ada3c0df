"""Alerts folded into incidents for the Alerts page and the Why view.

An alert whose ``incident_id`` is null (a file written before incidents existed, or before the
incidents asset ran) is an incident of its own and its root, so every page works on both layouts.
"""

from __future__ import annotations

import polars as pl

from .summary import series_names


def with_incidents(alerts: pl.DataFrame) -> pl.DataFrame:
    """Alerts with incident_id and is_root always set: an alert without an incident stands alone."""
    alone = pl.col("incident_id").is_null()
    return alerts.with_columns(
        incident_id=pl.coalesce("incident_id", "alert_id"),
        is_root=pl.when(alone).then(True).otherwise(pl.col("is_root").fill_null(False)),
    )


def fold(alerts: pl.DataFrame, incidents: pl.DataFrame | None = None) -> pl.DataFrame:
    """One row per incident, in the alerts' order: its lead alert (the root, else the first listed)
    with ``root`` (the incident's name), ``children`` (the other alerts' ids, in order), ``folded``,
    and the widest ``window_days`` and earliest ``first_seen`` of its alerts (its Why view's periods).
    """
    ranked = with_incidents(alerts).with_row_index("_order")
    lead = ranked.sort(pl.col("is_root").not_(), "_order").unique("incident_id", keep="first")
    members = ranked.group_by("incident_id").agg(
        pl.col("_order").min().alias("_first"),
        pl.col("window_days").max().alias("incident_window"),
        pl.col("first_seen").min().alias("incident_first_seen"),
    )
    children = (
        ranked.join(lead.select("incident_id", lead_id="alert_id"), on="incident_id")
        .filter(pl.col("alert_id") != pl.col("lead_id"))
        .sort("_order")
        .group_by("incident_id", maintain_order=True)
        .agg(children=pl.col("alert_id"))
    )
    names = series_names()
    if incidents is not None and incidents.height:
        names = pl.coalesce(pl.col("_root"), names)
        lead = lead.join(
            incidents.select("incident_id", _root="root").unique("incident_id"), on="incident_id", how="left"
        )
    return (
        lead.join(members, on="incident_id", how="left")
        .join(children, on="incident_id", how="left")
        .with_columns(
            root=names,
            children=pl.col("children").fill_null(pl.lit([], dtype=pl.List(pl.String))),
        )
        .with_columns(folded=pl.col("children").list.len().cast(pl.Int32))
        .sort("_first")
        .drop("_order", "_first", "_root", strict=False)
    )

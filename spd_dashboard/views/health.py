"""Data health: materialized partitions per asset, the latest day, quarantine counts, the Dagster UI."""

import polars as pl
import streamlit as st

from spd_dashboard import charts, query, ui
from spd_dashboard.dagster_runs import LaunchError, dagster_ui, reachable
from spd_dashboard.summary import asset_summary

EXPECTED = ("catalog", "orders", "daily_agg", "daily_metrics", "alerts", "quarantine", "injected_drops")

v = ui.view()
st.title("Data health")
try:
    dagster = dagster_ui()
    if reachable(dagster):
        st.markdown(f"Dagster UI: [{dagster.url}]({dagster.url}) is up.")
    else:
        st.warning(dagster.unreachable(), icon=":material/cloud_off:")
except LaunchError as exc:
    st.warning(str(exc))
st.caption(f"Data directory: `{v.root}`")
if not v.has_data:
    ui.empty_state(v.root)

assets = list(dict.fromkeys([*EXPECTED, *query.list_assets(v.root)]))
parts = {a: query.partitions(v.root, a) for a in assets if a != "catalog"}
summary = asset_summary(parts, query.catalog(v.root).height)

if v.has_data:
    b = v.bounds
    st.markdown(
        f"Latest sales day: **{b.last}** · history from {b.first} ({(b.last - b.first).days + 1} days)."
    )
ui.table(summary, "data health", {"rows": st.column_config.NumberColumn(format="localized")})

present = {a: f for a, f in parts.items() if not f.is_empty()}
if present:
    st.subheader("Partitions by day")
    st.caption("Green: materialized · yellow: materialized, no rows that day · red: missing.")
    first = min(f["date"].min() for f in present.values())
    last = max(f["date"].max() for f in present.values())
    st.plotly_chart(charts.partition_strip(present, first, last), key="partition_strip")

st.subheader("Quarantine")
quarantine = query.quarantine_summary(v.root)
if quarantine is None:
    st.caption("No quarantine yet: rows that fail validation land there once ingestion has run.")
elif quarantine.is_empty():
    st.success("Quarantine is materialized and empty: every row passed validation.")
else:
    st.metric("Quarantined rows", int(quarantine["rows"].sum()), border=True)
    by_reason = quarantine.group_by("field", "reason").agg(pl.col("rows").sum()).sort("rows", descending=True)
    ui.table(by_reason, "quarantine by reason")
    ui.table(quarantine, "quarantine by day")

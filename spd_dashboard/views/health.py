"""Data health: materialized partitions per asset, the latest day, quarantine counts, the Dagster UI."""

import datetime as dt

import polars as pl
import streamlit as st

from spd_assets.core.freshness import stale_since
from spd_assets.core.landing.folder import compare_with_loaded, landed_days
from spd_assets.core.settings import SettingsError, load_settings
from spd_assets.core.text import md_code, md_escape
from spd_dashboard import charts, query, ui
from spd_dashboard.dagster_runs import LaunchError, dagster_ui, latest_failure, reachable
from spd_dashboard.summary import asset_summary

EXPECTED = (
    "catalog",
    "orders",
    "daily_agg",
    "daily_metrics",
    "alerts",
    "incidents",
    "quarantine",
    "injected_drops",
)

v = ui.view()
st.title("Data health")
try:
    dagster = dagster_ui()
    if reachable(dagster):
        st.markdown(f"Dagster UI: [{dagster.url}]({dagster.url}) is up.")
        failed = latest_failure(dagster)
        if failed is not None:
            when = f" at {failed.ended:%Y-%m-%d %H:%M} UTC" if failed.ended else ""
            scope = f" ({failed.what})" if failed.what else ""
            st.error(
                f"Latest failed run: {md_code(failed.job)}{md_escape(scope)}{when}: "
                f"{md_escape(failed.error)} "
                f"[Open run {failed.run_id[:8]} in the Dagster UI]({dagster.run_url(failed.run_id)})",
                icon=":material/error:",
            )
    else:
        st.warning(dagster.unreachable(), icon=":material/cloud_off:")
except LaunchError as exc:
    st.warning(str(exc))
try:
    settings = load_settings(check_writable=False)
except SettingsError as exc:  # names the variable and its value, which may hold any character
    settings = None
    st.warning(md_escape(exc))
st.caption(f"Data directory: {md_code(v.root)}")
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
    due = settings.fresh_by_hour if settings is not None else 6
    stale = stale_since(b.last, dt.datetime.now(dt.UTC), due)
    if stale is not None:
        st.error(
            f"Stale since {stale}: that day should have been materialized by {due:02d}:00 UTC the day "
            "after (SPD_FRESH_BY_HOUR). Check the latest runs and the schedule or landing sensor.",
            icon=":material/schedule:",
        )
ui.table(summary, "data health", {"rows": st.column_config.NumberColumn(format="localized")})

present = {a: f for a, f in parts.items() if not f.is_empty()}
if present:
    st.subheader("Partitions by day")
    st.caption("Green: materialized · yellow: materialized, no rows that day · red: missing.")
    first = min(f["date"].min() for f in present.values())
    last = max(f["date"].max() for f in present.values())
    st.plotly_chart(charts.partition_strip(present, first, last), key="partition_strip")

if settings is not None and settings.source == "landing":
    st.subheader("Landing folder")
    files = compare_with_loaded(landed_days(settings.landing_dir), query.scan(v.root, "orders").days)
    st.caption(f"{md_code(settings.landing_dir)}: one orders file per day, picked up by the landing sensor.")
    if files["deleted"]:
        shown = md_escape(", ".join(map(str, files["deleted"][:10])))
        st.warning(
            f"{len(files['deleted'])} loaded day(s) no longer have a file in the landing folder ({shown}): "
            "their data stays until you withdraw the day (README, 'Withdrawing a day').",
            icon=":material/folder_off:",
        )
    if files["waiting"]:
        st.info(f"{len(files['waiting'])} day file(s) not loaded yet (the sensor picks them up).")
    if not files["deleted"] and not files["waiting"]:
        st.success("Every day file in the landing folder is loaded, and every loaded day has its file.")

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

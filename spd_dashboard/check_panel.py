"""The "Run anomaly check" panel: pick a day, launch the job through Dagster, follow the run to its end."""

from __future__ import annotations

import datetime as dt

import streamlit as st

from spd_assets.core.schema import series_label
from spd_assets.core.text import md_escape

from . import query
from .dagster_runs import TERMINAL, DagsterUI, LaunchError, dagster_ui, launch_check, run_status

_STATE = "spd_check"
_ICONS = {
    "SUCCESS": ":material/check_circle:",
    "FAILURE": ":material/error:",
    "CANCELED": ":material/cancel:",
}
POLL_SECONDS = 2
SHOW = 5  # alerts of the checked day listed in the panel
BADGE = {"critical": "red", "warning": "orange", "info": "blue"}


def _launch(ui: DagsterUI) -> None:
    day = st.session_state["check_day"]
    try:
        run_id = launch_check(ui, day)
    except LaunchError as exc:
        st.session_state[_STATE] = {"day": day, "error": str(exc)}
        return
    st.session_state[_STATE] = {"day": day, "run_id": run_id, "status": "QUEUED", "refreshed": False}


def _follow(ui: DagsterUI, root: str) -> None:
    info = st.session_state.get(_STATE)
    if not info or "run_id" not in info:
        return
    problem = None
    if info["status"] not in TERMINAL:
        try:
            info["status"] = run_status(ui, info["run_id"])
        except LaunchError as exc:
            problem = str(exc)
    status, day = info["status"], info["day"]
    icon = _ICONS.get(status, "spinner")
    link = f"[{info['run_id'][:8]}]({ui.run_url(info['run_id'])})"
    st.markdown(f"Run {link} of `anomaly_check` for {day}: **{status}**")
    if problem:
        st.warning(problem, icon=":material/cloud_off:")
    if status not in TERMINAL:
        st.caption(f"Checking the status every {POLL_SECONDS} s...")
    elif status == "SUCCESS":
        found = query.alerts(root, day, day)
        st.caption(f"{icon} Done: {found.height} alert(s) for {day}, the most severe first:")
        for a in found.head(SHOW).iter_rows(named=True):
            label = series_label(a["level"], a["sku"], a["category"], a["region"])
            drop = f" -{a['pct_drop']:.0%}" if a["pct_drop"] is not None else ""
            badge = f":{BADGE.get(a['severity'], 'gray')}-badge[{a['severity']}]"
            st.markdown(f"- {badge} {md_escape(label)}: {a['metric']}{drop}")
    else:
        st.caption(f"{icon} The run ended with {status}: see its logs in the Dagster UI.")
    if status in TERMINAL and not info["refreshed"]:
        info["refreshed"] = True
        if status == "SUCCESS":  # show the checked day's worst alert below, whatever was selected before
            first = query.alerts(root, day, day)["alert_id"].head(1).to_list()
            st.session_state.update({"alert_pick": first[0]} if first else {})
        st.rerun()  # the whole page, so the alerts list re-reads the new files


def panel(root: str, days: tuple[dt.date, ...]) -> None:
    """Draw the panel; the run's status is polled by a fragment only while the run is not finished."""
    try:
        ui = dagster_ui()
    except LaunchError as exc:
        st.error(str(exc))
        return
    with st.container(border=True):
        st.markdown("**Run anomaly check**")
        if not days:
            st.caption("daily_metrics has no day yet, so there is nothing to check.")
            return
        pick, go, hint = st.columns([2, 2, 5], vertical_alignment="bottom")
        pick.date_input(
            "Day to check",
            value=days[-1],
            min_value=days[0],
            max_value=days[-1],
            key="check_day",
            format="YYYY-MM-DD",
            help="Defaults to the latest day daily_metrics has.",
        )
        go.button(
            "Run anomaly check", type="primary", icon=":material/play_arrow:", on_click=_launch, args=(ui,)
        )
        hint.caption(f"Launches the `anomaly_check` job for that day's partition via {ui.url}.")
        info = st.session_state.get(_STATE)
        if info and "error" in info:
            st.warning(info["error"], icon=":material/cloud_off:")
        elif info:
            active = info["status"] not in TERMINAL
            st.fragment(run_every=POLL_SECONDS if active else None)(_follow)(ui, root)

"""The "Run anomaly check" panel: pick a day, launch the job through Dagster, follow the run to its end;
and the check for a set of days (what a calendar edit covers), one range run per consecutive span."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import streamlit as st

from spd_assets.core.landing.folder import contiguous as spans  # one run per span of consecutive days
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


@dataclass
class Launches:
    """What a set of days' check launched: runs per span, days with nothing to check yet, the error."""

    days: list[dt.date]
    runs: list[tuple[dt.date, dt.date, str]] = field(default_factory=list)
    unchecked: list[dt.date] = field(default_factory=list)  # not in daily_metrics: the pipeline checks them
    error: str | None = None
    pending: list[dt.date] = field(default_factory=list)  # still to launch after the error


def launch_days(root: str, days: list[dt.date]) -> Launches:
    """Launch ``anomaly_check`` for exactly ``days``: one run per span of consecutive days (a range run
    for more than one), skipping days daily_metrics lacks; stops at the first refusal and keeps the rest."""
    have = set(query.metrics_days(root))
    out = Launches(sorted(set(days)))
    out.unchecked = [d for d in out.days if d not in have]
    todo = spans([d for d in out.days if d in have])
    for i, (first, last) in enumerate(todo):
        try:
            out.runs.append((first, last, launch_check(dagster_ui(), first, last)))
        except LaunchError as exc:
            out.error = str(exc)
            out.pending = [d for lo, hi in todo[i:] for d in out.days if lo <= d <= hi]
            break
    return out


def _span(first: dt.date, last: dt.date) -> str:
    return str(first) if first == last else f"{first} to {last}"


def show_launches(done: Launches) -> None:
    """Say what was launched, for which days, and what was not and why."""
    if not done.days:
        st.caption("The change covers no day whose anomaly check depends on it: nothing to re-run.")
        return
    if done.runs:
        ui = dagster_ui()
        links = ", ".join(f"[{run[:8]}]({ui.run_url(run)}) for {_span(a, b)}" for a, b, run in done.runs)
        st.success(f"Launched `anomaly_check`: {links}.", icon=":material/play_circle:")
    if done.unchecked:
        few = ", ".join(map(str, done.unchecked[:5])) + (" ..." if len(done.unchecked) > 5 else "")
        st.caption(
            f"{len(done.unchecked)} day(s) not materialized yet ({few}): "
            "the pipeline checks them with this calendar."
        )
    if done.error:
        days = ", ".join(_span(a, b) for a, b in spans(done.pending))
        st.warning(
            f"The change is saved, but the check was not launched for {days}: {done.error}",
            icon=":material/cloud_off:",
        )

"""The Alerts page's learning: "real" / "false alarm" on an alert or its incident, the feedback given,
the precision that feedback implies, and the threshold adjustments in force, each with an undo.

The rules (when a threshold is raised, how precision counts an incident) live in
``spd_assets.core.feedback``; this module only asks and draws.
"""

from __future__ import annotations

import datetime as dt

import polars as pl
import streamlit as st

from spd_assets.core.feedback import Feedback, implied_precision
from spd_assets.core.text import md_escape

from . import ui

AUTHOR = "spd_author"  # who gives feedback: typed once, remembered for the session on every page
_DONE = "spd_feedback_done"
VERDICTS = {"real": "Real", "false_alarm": "False alarm"}
WINDOWS = (30, 90)


def today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


def _keep_author() -> None:
    st.session_state[AUTHOR] = st.session_state["feedback_author"]


def author(where: object = st) -> str:
    """The 'Who' field, prefilled with what this session typed before."""
    where.text_input(
        "Who",
        value=st.session_state.get(AUTHOR, ""),
        key="feedback_author",
        on_change=_keep_author,
        placeholder="your name",
    )
    return st.session_state.get(AUTHOR, "")


def with_verdicts(alerts: pl.DataFrame, feedback: pl.DataFrame) -> pl.DataFrame:
    """``alerts`` plus ``feedback``: the latest verdict given on each ('real', 'false alarm'), else null."""
    latest = (
        feedback.sort("feedback_id")
        .group_by("alert_id")
        .agg(feedback=pl.col("verdict").last().replace_strict(VERDICTS, return_dtype=pl.String))
    )
    return alerts.drop("feedback", strict=False).join(
        latest, on="alert_id", how="left", maintain_order="left"
    )


def _give(fb: Feedback, alerts: pl.DataFrame, verdict: str, target: str, target_id: str | None) -> None:
    _keep_author()
    created = fb.give(
        alerts,
        verdict,
        note=st.session_state.get("feedback_note", ""),
        author=st.session_state.get(AUTHOR, ""),
        target=target,
        target_id=target_id,
    )
    st.session_state[_DONE] = (VERDICTS[verdict], target, len(alerts), len(created))


def _undo(fb: Feedback, adjustment_id: int) -> None:
    fb.undo(adjustment_id, by=st.session_state.get(AUTHOR, ""))


def buttons(fb: Feedback, alert: dict, incident: pl.DataFrame) -> None:
    """Feedback buttons for the alert and, when it has others, its whole incident; then what was given."""
    note, who = st.columns([3, 1], vertical_alignment="bottom")
    note.text_input("Feedback note", key="feedback_note", placeholder="optional, e.g. a planned price test")
    author(who)
    one = incident.filter(pl.col("alert_id") == alert["alert_id"])
    row = st.columns(4, vertical_alignment="bottom")
    for col, verdict in zip(row, VERDICTS, strict=False):
        col.button(f"{VERDICTS[verdict]}: this alert", key=f"fb-alert-{verdict}",
                   on_click=_give, args=(fb, one, verdict, "alert", alert["alert_id"]))  # fmt: skip
    if incident.height > 1:
        incident_id = incident["incident_id"][0]
        for col, verdict in zip(row[2:], VERDICTS, strict=False):
            col.button(f"{VERDICTS[verdict]}: incident ({incident.height} alerts)", key=f"fb-inc-{verdict}",
                       on_click=_give, args=(fb, incident, verdict, "incident", incident_id))  # fmt: skip
    done = st.session_state.pop(_DONE, None)
    if done:
        verdict, target, n, raised = done
        more = f"; threshold raised on {raised} series" if raised else ""
        st.success(f"Recorded **{verdict}** for the {target} ({n} alert(s)){more}.", icon=":material/done:")
    given = fb.table().filter(pl.col("alert_id").is_in(incident["alert_id"].to_list()))
    if given.height:
        st.caption("Feedback on this incident's alerts:")
        columns = ["created_at", "target", "verdict", "author", "note", "series", "alert_date"]
        st.dataframe(given.sort("created_at", descending=True).select(columns), hide_index=True)


def _precision_card(where: object, table: pl.DataFrame, days: int) -> None:
    overall = table.filter(pl.col("level") == "all")
    if overall.is_empty() or overall["precision"][0] is None:
        where.metric(f"Precision, last {days} days", "—", border=True, help="No feedback in that window.")
        return
    r = overall.row(0, named=True)
    where.metric(
        f"Precision, last {days} days",
        f"{r['precision']:.0%}",
        delta=f"{r['real']} real · {r['false_alarm']} false alarm(s)",
        delta_color="off",
        delta_arrow="off",
        border=True,
        help="Share marked 'real' of the alerts and incidents given feedback; an incident counts once.",
    )


def learning(fb: Feedback) -> None:
    """What the feedback implies: precision per level and overall, and the adjustments in force."""
    st.subheader("What the feedback says")
    day = today()
    feedback = fb.table()
    tables = {days: implied_precision(feedback, day, days) for days in WINDOWS}
    cards = st.columns(len(WINDOWS))
    for card, days in zip(cards, WINDOWS, strict=True):
        _precision_card(card, tables[days], days)
    per_level = tables[WINDOWS[0]].join(
        tables[WINDOWS[1]], on="level", how="full", coalesce=True, suffix=f"_{WINDOWS[1]}d"
    )
    if tables[WINDOWS[-1]]["precision"].is_not_null().any():  # any feedback in the longer window
        config = {"precision": ui.PERCENT, f"precision_{WINDOWS[1]}d": ui.PERCENT}
        st.dataframe(per_level, hide_index=True, column_config=config)

    st.markdown("**Threshold adjustments in force**")
    force = fb.in_force(day)
    if force.is_empty():
        st.caption("None: every series uses the configured thresholds.")
    for r in force.iter_rows(named=True):
        text, undo = st.columns([6, 1], vertical_alignment="center")
        bars = f"alerts only on a drop over {r['pct_bar']:.0%} with robust z below -{r['z_bar']:.1f}"
        text.markdown(
            f"**{md_escape(r['series'])}** since {r['effective_from']}: {md_escape(r['reason'])}"
            f" (step {r['step']}: {bars})"
        )
        undo.button("Undo", key=f"undo-{r['adjustment_id']}", icon=":material/undo:",
                    on_click=_undo, args=(fb, r["adjustment_id"]))  # fmt: skip
    history = fb.adjustments(include_undone=True)
    if history.height:
        with st.expander(f"All adjustments ({history.height}, undone ones included)"):
            st.dataframe(history, hide_index=True)

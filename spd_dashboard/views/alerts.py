"""Alerts: launch an anomaly check, list incidents (children folded) with filters, inspect an alert,
acknowledge or snooze it, open its Why view, and mark it or its incident real or a false alarm.

``/alerts?incident=<id>`` (the link in a notification) opens with that incident's alert selected."""

import datetime as dt

import polars as pl
import streamlit as st

from spd_assets.core.schema import LEVELS, SEVERITIES
from spd_assets.core.text import md_escape
from spd_dashboard import charts, check_panel, feedback_panel, query, ui
from spd_dashboard.alert_state import AlertStates, with_status
from spd_dashboard.incidents import fold, with_incidents
from spd_dashboard.query import state
from spd_dashboard.selection import filter_alerts
from spd_dashboard.summary import series_names

BADGE = check_panel.BADGE

v = ui.view()
ui.header("Alerts", v)
check_panel.panel(v.root, query.metrics_days(v.root))
ui.require_data(v)
p, sel = v.period, v.selection

left, mid, right = st.columns([3, 3, 2], vertical_alignment="bottom")
severities = left.multiselect("Severity", SEVERITIES, key="severity", bind="query-params", placeholder="All")
levels = mid.multiselect("Level", LEVELS, key="level", bind="query-params", placeholder="All levels")
show_closed = right.toggle(
    "Include closed", key="closed", bind="query-params", help="Also list acknowledged and snoozed alerts."
)
st.caption(
    "Region, category and SKU come from the sidebar; a region filter leaves out alerts on wider series."
)

states, feedback = AlertStates(v.root), state.feedback(v.root)
found = filter_alerts(query.alerts(v.root, p.start, p.end), sel, tuple(severities), tuple(levels))
found = with_incidents(with_status(found, states.all()).with_columns(series=series_names()))
found = feedback_panel.with_verdicts(found, feedback.table())
shown = found if show_closed else found.filter(pl.col("status") == "open")
checked = query.alert_days(v.root).count_between(p.start, p.end)
hidden = found.height - shown.height
folded = fold(shown, query.incidents(v.root, p.start, p.end))
st.markdown(
    f"**{shown.height}** alert(s) shown"
    + (f" ({hidden} acknowledged or snoozed hidden)" if hidden else "")
    + f" in **{folded.height}** incident(s)"
    + f" · the anomaly check has run for {checked} of the period's {p.days} days."
)
wanted = st.query_params.get("incident")
if wanted and st.session_state.get("_spd_incident") != wanted:  # once per link, then the user picks
    st.session_state["_spd_incident"] = wanted
    lead = folded.filter(pl.col("incident_id") == wanted)["alert_id"].to_list()
    if lead:
        st.session_state["alert_pick"] = lead[0]
    else:
        where = query.alerts(v.root).filter(pl.col("incident_id") == wanted)["date"].to_list()
        hint = f"it is dated {where[0]}, outside this period" if where else "no alert of it was found"
        if found.filter(pl.col("incident_id") == wanted).height:
            hint = "its alerts are acknowledged or snoozed: turn on 'Include closed'"
        st.warning(f"Incident {md_escape(wanted)} is not listed: {hint}.", icon=":material/link_off:")
if shown.is_empty():
    st.info("No open alert in this period for these filters.", icon=":material/notifications_off:")
    feedback_panel.learning(feedback)
    st.stop()

columns = ["date", "severity", "series", "folded", "metric", "observed", "baseline", "pct_drop", "robust_z",
           "revenue_at_risk", "status", "note", "feedback", "expected", "threshold_note", "rule",
           "alert_id"]  # fmt: skip
columns = [c for c in columns if c in folded.columns]  # alerts written before feedback lack the last two
ids = folded["alert_id"].to_list()  # one row per incident: its root (or first) alert


def _pick_from_table() -> None:
    rows = st.session_state["alerts_table"].selection.rows
    if rows:
        st.session_state["alert_pick"] = ids[rows[0]]


config = {
    "folded": st.column_config.NumberColumn(help="Alerts of the incident folded under this one, below."),
    "observed": st.column_config.NumberColumn(format="localized"),
    "baseline": st.column_config.NumberColumn(format="localized"),
    "pct_drop": st.column_config.NumberColumn("drop", format="percent"),
    "robust_z": st.column_config.NumberColumn("robust z", format="%.1f"),
    "revenue_at_risk": st.column_config.NumberColumn("revenue at risk", format="dollar"),
    "expected": st.column_config.TextColumn(help="The calendar event that explains the drop: not notified."),
    "threshold_note": st.column_config.TextColumn(
        "threshold", help="Raised after false alarms on the series."
    ),
}
ui.table(
    folded.select(columns),
    "alerts",
    config,
    key="alerts_table",
    on_select=_pick_from_table,
    selection_mode="single-row",
)

rows = {r["alert_id"]: r for r in shown.iter_rows(named=True)}
child_columns = ["date", "severity", "series", "observed", "baseline", "pct_drop", "revenue_at_risk",
                 "status", "alert_id"]  # fmt: skip
for incident in folded.filter(pl.col("folded") > 0).iter_rows(named=True):
    label = f"{md_escape(incident['root'])} on {incident['date']}: {incident['folded']} alert(s) folded"
    with st.expander(label, icon=":material/account_tree:"):
        children = shown.filter(pl.col("alert_id").is_in(incident["children"]))
        shown_config = {"date": ui.DATE} | config
        st.dataframe(children.select(child_columns), hide_index=True, column_config=shown_config)
        st.page_link(
            "views/why.py",
            label="Why did this incident happen?",
            icon=":material/troubleshoot:",
            query_params={"explain": "incident", "incident": incident["incident_id"]},
        )

if st.session_state.get("alert_pick") not in rows:
    st.session_state.pop("alert_pick", None)
picked = st.selectbox(
    "Alert",
    ids + [i for i in rows if i not in set(ids)],
    key="alert_pick",
    format_func=lambda a: " · ".join(str(rows[a][k]) for k in ("date", "severity", "series", "metric")),
)
a = rows[picked]
badge = f":{BADGE.get(a['severity'], 'gray')}-badge[{a['severity']}]"
st.markdown(f"#### {badge} {md_escape(a['series'])} · {a['metric']} on {a['date']}")
drop = f"-{a['pct_drop']:.0%}" if a["pct_drop"] is not None else "n/a"
st.markdown(
    f"Observed **{a['observed']:,.2f}** against a baseline of **{a['baseline']:,.2f}** ({drop}, robust z "
    f"{a['robust_z'] or 0:.1f}); revenue at risk **${a['revenue_at_risk'] or 0:,.0f}**. Rule `{a['rule']}`. "
    f"Status: **{a['status']}**" + (f" ({md_escape(a['note'])})." if a["note"] else ".")
)
if a.get("expected"):
    st.info(
        f"Expected: {md_escape(a['expected'])} (the event calendar), so not notified.",
        icon=":material/event:",
    )
if a.get("threshold_note"):
    st.caption(f":material/tune: {md_escape(a['threshold_note'])}")
st.page_link(
    "views/why.py",
    label="Why did it drop? Key drivers against its baseline",
    icon=":material/troubleshoot:",
    query_params={"explain": "alert", "alert": picked},
)
around = query.series(
    v.root,
    a["level"],
    a["sku"],
    a["category"],
    a["region"],
    a["date"] - dt.timedelta(days=28),
    a["date"] + dt.timedelta(days=7),
)
metric = a["metric"] if a["metric"] in around.columns else "revenue"
st.plotly_chart(charts.alert_series(around, a, metric, state.events(v.root)), key="alert_series")


def _acknowledge(alert_id: str) -> None:
    states.acknowledge(alert_id, note=st.session_state.get("alert_note", ""))


def _snooze(alert_id: str) -> None:
    states.snooze(alert_id, days=st.session_state["snooze_days"], note=st.session_state.get("alert_note", ""))


note_col, ack, snooze_for, snooze, reopen = st.columns([4, 2, 2, 2, 2], vertical_alignment="bottom")
note_col.text_input("Note", key="alert_note", placeholder="optional, e.g. known stock-out")
ack.button(
    "Acknowledge",
    icon=":material/done:",
    on_click=_acknowledge,
    args=(picked,),
    disabled=a["status"] == "acknowledged",
)
snooze_for.selectbox("Snooze for", (1, 3, 7), format_func=lambda d: f"{d} day(s)", key="snooze_days")
snooze.button("Snooze", icon=":material/snooze:", on_click=_snooze, args=(picked,))
reopen.button(
    "Reopen", icon=":material/undo:", on_click=states.reopen, args=(picked,), disabled=a["status"] == "open"
)

st.markdown("**Feedback**: a real problem? Two false alarms on a series in 30 days raise its threshold.")
incident = found.filter(pl.col("incident_id") == a["incident_id"]).sort(pl.col("is_root").not_())
feedback_panel.buttons(feedback, a, incident)  # root first: precision counts an incident at its level
feedback_panel.learning(feedback)

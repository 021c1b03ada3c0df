"""The dashboard's side of alerts that learn: feedback buttons, precision, undoing a threshold adjustment,
the event calendar page, and events shaded on the trend charts; AppTest on the small real history."""

from __future__ import annotations

import datetime as dt
import json
import shutil

import plotly.graph_objects as go
import polars as pl
from dashboard_data import alert_row, incident_alerts, metric_value, read_asset, write_days
from streamlit.testing.v1 import AppTest
from test_dashboard_app import _texts, _week

from spd_assets.core.events import EVENT_COLUMNS
from spd_assets.core.landing.folder import contiguous as spans
from spd_assets.core.schema import ALERTS
from spd_dashboard import charts
from spd_dashboard.check_panel import launch_days
from spd_dashboard.query import state

ALERTS_PAGE, CALENDAR = "views/alerts.py", "views/events.py"


def _button(at: AppTest, label: str):
    return next(b for b in at.button if b.label == label)


def _shapes(at: AppTest, key: str) -> dict:
    spec = next(json.loads(c.proto.spec) for c in at.get("plotly_chart") if key in c.proto.id)
    return spec["layout"]


def _copy(h, tmp_path) -> str:
    return str(shutil.copytree(h.data_dir, tmp_path / "data"))  # the state store lives under the data dir


def _event(
    name: str,
    start: dt.date,
    end: dt.date,
    kind: str = "promotion",
    scope: str | None = None,
    value: str | None = None,
) -> pl.DataFrame:
    row = {"event_id": name, "name": name, "kind": kind, "start": start, "end": end,
           "scope_level": scope, "scope_value": value}  # fmt: skip
    return pl.DataFrame([row], schema=EVENT_COLUMNS)


# ---- the shaded spans --------------------------------------------------------------------------


def test_an_event_inside_the_charts_range_is_a_named_span_and_one_outside_is_not(dashboard_history):
    h = dashboard_history
    totals = read_asset(h.data_dir, "daily_agg").group_by("date").agg(pl.col("revenue").sum()).sort("date")
    week = totals.filter(pl.col("date") >= h.days[-7])
    seven = pl.DataFrame({"date": week["date"], "revenue_7d": week["revenue"], "window_days": [1] * 7})
    marks = pl.DataFrame(
        schema={"date": pl.Date, "revenue": pl.Float64, "severity": pl.String, "text": pl.String}
    )
    inside = _event("Spring <b>sale</b>", h.days[-5], h.days[-4])
    outside = _event("Last year's sale", h.days[0], h.days[2])

    fig = charts.trend_figure(week, seven, marks, pl.concat([inside, outside]))
    (span,) = fig.layout.shapes
    assert (span.type, span.xref, span.layer) == ("rect", "x", "below")
    assert (
        span.x0
        < dt.datetime.combine(h.days[-5], dt.time())
        < dt.datetime.combine(h.days[-4], dt.time())
        < span.x1
    )
    (label,) = fig.layout.annotations
    assert label.text == "Spring &lt;b&gt;sale&lt;/b&gt;"  # names are shown as typed, never as HTML

    assert charts.trend_figure(week, seven, marks, outside).layout.shapes == ()
    assert charts.trend_figure(week, seven, marks).layout.shapes == ()


def test_events_of_the_same_days_share_one_span_and_neighbours_names_take_separate_lines():
    day, sunday = dt.date(2026, 11, 26), dt.date(2026, 11, 29)
    events = pl.concat([
        _event("books promotion (-10%)", day, sunday, scope="category", value="books"),
        _event("grocery promotion (-10%)", day, sunday, scope="category", value="grocery"),
        _event("Black Friday", day + dt.timedelta(days=1), day + dt.timedelta(days=1), kind="holiday"),
    ])  # fmt: skip
    fig = charts.shade_events(go.Figure(), events, [day - dt.timedelta(days=20), day + dt.timedelta(days=5)])
    assert [a.text for a in fig.layout.annotations] == [
        "books promotion (-10%) · grocery promotion (-10%)",  # the scope is in the names already
        "Black Friday",
    ]
    assert [a.yshift for a in fig.layout.annotations] == [0, -13]


def test_the_pages_charts_shade_the_calendars_events(dashboard_history, open_app, tmp_path):
    h = dashboard_history
    data_dir = _copy(h, tmp_path)
    cal = state.calendar(data_dir)
    cal.add("Flash sale", "promotion", h.days[-3], h.days[-2])
    cal.add("Warehouse move", "site_change", h.days[-6], h.days[-6], "region", "us-east")
    at = open_app(data_dir, params=_week(h))
    trend = _shapes(at, "trend")
    assert [a["text"] for a in trend["annotations"]] == [  # by start date
        "Warehouse move (region us-east)",
        "Flash sale",
    ]
    assert len(trend["shapes"]) == 2

    at.switch_page("views/regions.py").run()
    regions = _shapes(at, "region_trends")
    n_regions = len(read_asset(h.data_dir, "daily_agg")["region"].unique())
    assert len(regions["shapes"]) == n_regions + 1  # the sale on every region's chart, the move on one
    moved = [s for s in regions["shapes"] if s["fillcolor"] == charts.EVENT_COLORS["site_change"]]
    assert len(moved) == 1


# ---- feedback and the calendar persist; the calendar launches the check -------------------------


def test_feedback_and_calendar_persist_across_a_dashboard_restart(
    dashboard_history, open_app, tmp_path, closed_port
):
    h = dashboard_history
    data_dir = _copy(h, tmp_path)
    at = open_app(data_dir, page=ALERTS_PAGE, params=_week(h))
    picked = at.selectbox(key="alert_pick").value
    at.text_input(key="feedback_author").set_value("ana")
    at.text_input(key="feedback_note").set_value("planned price test")
    _button(at, "False alarm: this alert").click().run()
    assert "Recorded **False alarm** for the alert (1 alert(s))" in _texts(at)
    assert {m.label: m.value for m in at.metric}["Precision, last 30 days"] == "0%"

    at.switch_page(CALENDAR).run()
    at.text_input(key="add_name").set_value("Spring sale")
    at.date_input(key="add_start").set_value(h.days[-3])
    at.date_input(key="add_end").set_value(h.days[-2])
    at.selectbox(key="add_scope").set_value("region")
    at.text_input(key="add_value").set_value("us-east")
    _button(at, "Add event").click().run()
    assert not at.exception
    warning = at.warning[0].value
    assert "The change is saved, but the check was not launched" in warning
    assert f"not reachable at http://127.0.0.1:{closed_port}" in warning
    _button(at, "Launch the check again").click().run()  # still down: the same days are still pending
    assert at.warning[0].value == warning
    at.switch_page(ALERTS_PAGE).run()
    assert at.text_input(key="feedback_author").value == "ana"  # remembered for the session

    restarted = open_app(data_dir, page=ALERTS_PAGE, params=_week(h))
    restarted.selectbox(key="alert_pick").set_value(picked).run()
    assert restarted.dataframe[0].value.set_index("alert_id").loc[picked, "feedback"] == "False alarm"
    given = restarted.dataframe[1].value
    assert given[["verdict", "author", "note"]].values.tolist() == [
        ["false_alarm", "ana", "planned price test"]
    ]
    restarted.switch_page(CALENDAR).run()
    events = restarted.dataframe[0].value
    assert events[["name", "kind", "scope_level", "scope_value"]].values.tolist() == [
        ["Spring sale", "promotion", "region", "us-east"]
    ]


def test_a_calendar_change_checks_only_the_days_it_covers_one_run_per_span(dashboard_history):
    h = dashboard_history
    assert spans([h.days[3], h.days[1], h.days[2], h.days[7]]) == [
        (h.days[1], h.days[3]),
        (h.days[7], h.days[7]),
    ]
    later = h.last + dt.timedelta(days=1)  # not materialized: the pipeline checks it when it comes
    done = launch_days(h.data_dir, [h.days[2], h.days[1], later])  # Dagster is down (a closed port)
    assert done.runs == [] and done.unchecked == [later] and done.pending == [h.days[1], h.days[2]]
    assert "not reachable" in done.error


# ---- the threshold adjustment and its undo --------------------------------------------------------


def test_two_false_alarms_raise_a_threshold_and_undo_in_the_dashboard_restores_it(
    dashboard_history, open_app, tmp_path
):
    h = dashboard_history
    data_dir = _copy(h, tmp_path)
    m = read_asset(data_dir, "daily_metrics")
    days = [h.days[-8], h.last]
    revenue = {d: metric_value(m, d, "region", region="eu-west") for d in days}
    rows = [
        alert_row(d, "region", "warning", region="eu-west", observed=r, baseline=r * 2)
        for d, r in revenue.items()
    ]
    write_days(data_dir, "alerts", pl.DataFrame(rows, schema=ALERTS), h.days)
    at = open_app(data_dir, page=ALERTS_PAGE, params={"dates": [h.days[-10].isoformat(), h.last.isoformat()]})
    for row in rows:
        at.selectbox(key="alert_pick").set_value(row["alert_id"]).run()
        _button(at, "False alarm: this alert").click().run()
    assert "threshold raised on 1 series" in _texts(at)
    fb = state.feedback(data_dir)
    today = dt.datetime.now(dt.UTC).date()
    (adjustment,) = fb.in_force(today).iter_rows(named=True)
    assert "threshold raised after 2 false alarms" in _texts(at)

    _button(at, "Undo").click().run()
    assert fb.in_force(today).is_empty()
    assert "None: every series uses the configured thresholds." in _texts(at)
    undone = fb.adjustments(include_undone=True).filter(
        pl.col("adjustment_id") == adjustment["adjustment_id"]
    )
    assert undone["undone_at"][0] is not None  # history kept


# ---- the notification link ------------------------------------------------------------------------


def test_the_notification_link_selects_the_incident_and_takes_its_feedback(
    dashboard_history, open_app, tmp_path
):
    h = dashboard_history
    data_dir = _copy(h, tmp_path)
    alerts = incident_alerts(data_dir, h.last)
    write_days(data_dir, "alerts", alerts, h.days)
    root = alerts.filter(pl.col("is_root").fill_null(False))["alert_id"][0]
    at = open_app(data_dir, page=ALERTS_PAGE, params=_week(h) | {"incident": "inc-us-east"})
    assert at.selectbox(key="alert_pick").value == root
    _button(at, "Real: incident (3 alerts)").click().run()
    given = state.feedback(data_dir).table()
    assert sorted(given["alert_id"]) == sorted(
        alerts.filter(pl.col("incident_id") == "inc-us-east")["alert_id"]
    )
    assert set(given["target"]) == {"incident"} and set(given["verdict"]) == {"real"}
    assert {m.label: m.value for m in at.metric}["Precision, last 30 days"] == "100%"


def test_a_link_to_an_unknown_incident_says_so(dashboard_history, open_app):
    h = dashboard_history
    incident = "inc-nowhere"
    at = open_app(h.data_dir, page=ALERTS_PAGE, params=_week(h) | {"incident": incident})
    assert f"Incident {incident} is not listed: no alert of it was found." in at.warning[0].value


def test_the_calendar_page_edits_and_removes_an_event(dashboard_history, open_app, tmp_path):
    h = dashboard_history
    data_dir = _copy(h, tmp_path)
    cal = state.calendar(data_dir)
    event_id = cal.add("Sumer sale", "promotion", h.days[-3], h.days[-2])
    at = open_app(data_dir, page=CALENDAR)
    assert at.selectbox(key="event_pick").value == event_id
    at.text_input(key=f"edit_{event_id}_name").set_value("Summer sale")
    at.date_input(key=f"edit_{event_id}_end").set_value(h.last)
    _button(at, "Save changes").click().run()
    assert "**Saved 'Summer sale'.**" in _texts(at)
    assert cal.table()[["name", "end"]].rows() == [("Summer sale", h.last)]

    _button(at, "Remove event").click().run()
    assert cal.table().is_empty() and "**Removed 'Summer sale'.**" in _texts(at)
    assert "No event yet" in at.info[0].value


def test_the_calendar_page_works_before_any_data(open_app, tmp_path):
    at = open_app(str(tmp_path / "empty"), page=CALENDAR)
    assert "No event yet" in at.info[0].value
    assert "Add the default retail dates" not in [b.label for b in at.button]

"""The Why view: which baseline belongs to an alert, incidents folded on the Alerts page, and the view
itself through Streamlit's AppTest on the small history the real pipeline materialized."""

from __future__ import annotations

import datetime as dt
import json
import shutil

import polars as pl
import pytest
from dashboard_data import incident_alerts, read_asset, write_days
from streamlit.testing.v1 import AppTest
from test_dashboard_app import _week

from spd_assets.core.drivers import alert_periods, key_drivers
from spd_assets.core.text import md_escape
from spd_dashboard import charts
from spd_dashboard.selection import Selection, drill_down

DAY = dt.date(2025, 6, 18)  # a Wednesday: every base below must be a Wednesday too
WEEK = dt.timedelta(days=7)


@pytest.mark.parametrize(
    ("window", "first_seen", "base", "current"),
    [
        (1, None, (DAY - WEEK, DAY - WEEK), (DAY, DAY)),
        (7, None, (DAY - 2 * WEEK + dt.timedelta(days=1), DAY - WEEK), (DAY - dt.timedelta(days=6), DAY)),
        (3, DAY, (DAY - dt.timedelta(days=9), DAY - WEEK), (DAY - dt.timedelta(days=2), DAY)),
        # an episode that began 8 days ago: last week's Wednesday is inside the drop, so two weeks back
        (1, DAY - dt.timedelta(days=8), (DAY - 2 * WEEK, DAY - 2 * WEEK), (DAY, DAY)),
    ],
)
def test_an_alerts_base_is_the_same_weekdays_before_its_drop_began(window, first_seen, base, current):
    got_base, got_current = alert_periods(DAY, window, first_seen)
    assert (got_base, got_current) == (base, current)
    assert got_base[0].weekday() == got_current[0].weekday()
    assert (got_base[1] - got_base[0]) == (got_current[1] - got_current[0])
    assert got_base[1] < min(first_seen or DAY, DAY) - dt.timedelta(days=window - 1)


def test_a_zero_run_longer_than_a_week_is_compared_with_days_before_it():
    base, current = alert_periods(DAY, 10)
    assert current == (DAY - dt.timedelta(days=9), DAY)
    assert base == (DAY - dt.timedelta(days=23), DAY - 2 * WEEK) and base[1] < current[0]


# ---- the view, through AppTest ------------------------------------------------------------------


def _waterfall(at: AppTest) -> dict:
    charts_ = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    (trace,) = [t for c in charts_ for t in c["data"] if t["type"] == "waterfall"]
    return trace


def _agg(data_dir: str, day: dt.date, cond: pl.Expr) -> pl.DataFrame:
    return read_asset(data_dir, "daily_agg").filter((pl.col("date") == day) & cond)


def _biggest(base: pl.DataFrame, current: pl.DataFrame, by: str, sign: float) -> tuple[str, float]:
    """The segment of ``by`` whose revenue moved most in the direction of the change (polars only)."""
    both = (
        base.group_by(by)
        .agg(b=pl.col("revenue").sum())
        .join(current.group_by(by).agg(c=pl.col("revenue").sum()), on=by, how="full", coalesce=True)
        .fill_null(0.0)
        .with_columns(d=(pl.col("c") - pl.col("b")) * sign)
        .sort("d", descending=True)
    )
    return both[by][0], float(both["d"][0]) * sign


def test_why_view_explains_an_alert_within_its_series_against_last_weeks_same_day(
    dashboard_history, open_app
):
    h = dashboard_history
    alert = h.alerts.filter(pl.col("severity") == "critical").row(0, named=True)  # region us-east, last day
    at = open_app(h.data_dir, page="views/why.py", params={"explain": "alert", "alert": alert["alert_id"]})
    east = pl.col("region") == "us-east"
    base, current = _agg(h.data_dir, h.last - WEEK, east), _agg(h.data_dir, h.last, east)
    trace = _waterfall(at)
    assert trace["x"][0] == "base" and trace["x"][-1] == "current" and trace["x"][-2] == "everything else"
    assert trace["measure"] == ["absolute", *["relative"] * (len(trace["x"]) - 3), "relative", "total"]
    assert trace["y"][0] == pytest.approx(base["revenue"].sum(), abs=0.01)
    assert sum(trace["y"][:-1]) == pytest.approx(current["revenue"].sum(), abs=0.01)  # the steps land on it
    sign = 1.0 if current["revenue"].sum() >= base["revenue"].sum() else -1.0
    best = max((_biggest(base, current, by, sign) for by in ("category", "sku")), key=lambda s: abs(s[1]))
    by = "category" if best[0] in set(base["category"]) | set(current["category"]) else "sku"
    assert trace["x"][1] == f"{by} {best[0]}" and trace["y"][1] == pytest.approx(best[1], abs=0.01)
    assert not any(x.startswith("region") for x in trace["x"])  # within us-east, region is not a driver
    assert f"{h.last - WEEK}..{h.last - WEEK} (base)" in "\n".join(c.value for c in at.caption)
    buttons = [b.label for b in at.button if b.key and b.key.startswith("why_driver_")]
    assert len(buttons) == len(trace["x"]) - 3 and buttons[0].startswith(md_escape(trace["x"][1]))


def test_a_drivers_button_selects_its_series_and_opens_its_trend(dashboard_history, open_app):
    h = dashboard_history
    alert = h.alerts.filter(pl.col("severity") == "critical").row(0, named=True)
    at = open_app(h.data_dir, page="views/why.py", params={"explain": "alert", "alert": alert["alert_id"]})
    sku = next(
        b for b in at.button if b.key and b.key.startswith("why_driver_") and b.label.startswith("sku")
    )
    sku_id = sku.label.split()[1]
    sku.click().run()
    assert not at.exception, [e.message for e in at.exception]
    assert at.title[0].value == "SKUs"
    assert at.multiselect(key="region").value == ["us-east"] and at.text_input(key="sku").value == sku_id
    assert at.selectbox(key="sku_pick").value == sku_id
    assert at.date_input(key="dates").value[1] == h.last


def test_why_view_compares_two_chosen_periods_of_the_sidebar_selection(dashboard_history, open_app):
    h = dashboard_history
    params = {"explain": "periods", "kpi": "orders", "region": ["apac"],
              "why_base": [h.days[-14].isoformat(), h.days[-8].isoformat()],
              "why_current": [h.days[-7].isoformat(), h.last.isoformat()]}  # fmt: skip
    at = open_app(h.data_dir, page="views/why.py", params=params)
    agg = read_asset(h.data_dir, "daily_agg").filter(pl.col("region") == "apac")
    base = agg.filter(pl.col("date").is_between(h.days[-14], h.days[-8]))["orders"].sum()
    current = agg.filter(pl.col("date").is_between(h.days[-7], h.last))["orders"].sum()
    trace = _waterfall(at)
    assert trace["y"][0] == base and sum(trace["y"][:-1]) == pytest.approx(current)
    assert {m.label: m.value for m in at.metric}["Compared"] == f"{current:,.0f}"
    assert set(at.dataframe[0].value["dimension"]) <= {"category", "sku"}  # one region: not a dimension


def test_why_view_splits_aov_into_mix_and_rate(dashboard_history, open_app):
    h = dashboard_history
    params = {"explain": "periods", "kpi": "aov", "why_base": [h.days[-8].isoformat()] * 2,
              "why_current": [h.last.isoformat()] * 2}  # fmt: skip
    at = open_app(h.data_dir, page="views/why.py", params=params)
    agg = read_asset(h.data_dir, "daily_agg")
    aov = [
        agg.filter(pl.col("date") == d)["revenue"].sum() / agg.filter(pl.col("date") == d)["orders"].sum()
        for d in (h.days[-8], h.last)
    ]
    trace = _waterfall(at)
    assert trace["y"][0] == pytest.approx(aov[0]) and sum(trace["y"][:-1]) == pytest.approx(aov[1])
    effects = at.dataframe[1].value.set_index("dimension")
    assert effects.loc["region", "total"] == pytest.approx(aov[1] - aov[0], abs=1e-9)


def _with_alerts(h, tmp_path, alerts: pl.DataFrame) -> str:
    data_dir = str(shutil.copytree(h.data_dir, tmp_path / "data"))
    write_days(data_dir, "alerts", alerts, h.days)
    return data_dir


def test_alerts_page_folds_an_incidents_children_under_its_root(dashboard_history, open_app, tmp_path):
    h = dashboard_history
    alerts = incident_alerts(h.data_dir, h.last)
    at = open_app(_with_alerts(h, tmp_path, alerts), page="views/alerts.py", params=_week(h))
    table = at.dataframe[0].value
    assert table["series"].tolist() == ["region us-east", f"region {alerts['region'][3]}"]
    assert table["folded"].tolist() == [2, 0]
    assert "**4** alert(s) shown in **2** incident(s)" in "\n".join(m.value for m in at.markdown)
    (expander,) = at.expander
    assert expander.label == f"region us-east on {h.last}: 2 alert(s) folded"
    children = expander.dataframe[0].value
    assert sorted(children["alert_id"]) == sorted(
        alerts.filter(~pl.col("is_root").fill_null(True))["alert_id"]
    )
    link = [str(e.proto) for e in expander.get("page_link")]
    assert link and "incident=inc-us-east" in link[0]


def test_alerts_in_the_layout_before_incidents_stand_alone(dashboard_history, open_app, tmp_path):
    h = dashboard_history
    old = incident_alerts(h.data_dir, h.last).drop("incident_id", "is_root")  # files written before them
    at = open_app(_with_alerts(h, tmp_path, old), page="views/alerts.py", params=_week(h))
    assert at.dataframe[0].value["folded"].tolist() == [0, 0, 0, 0] and not at.expander
    why = open_app(str(tmp_path / "data"), page="views/why.py", params={"explain": "incident"})
    assert len(why.selectbox(key="why_incident").options) == 4


def test_why_view_explains_an_incident_within_its_root(dashboard_history, open_app, tmp_path):
    h = dashboard_history
    data_dir = _with_alerts(h, tmp_path, incident_alerts(h.data_dir, h.last))
    at = open_app(data_dir, page="views/why.py", params={"explain": "incident", "incident": "inc-us-east"})
    east = read_asset(data_dir, "daily_agg").filter(pl.col("region") == "us-east")
    trace = _waterfall(at)
    assert trace["y"][0] == pytest.approx(east.filter(pl.col("date") == h.last - WEEK)["revenue"].sum())
    assert sum(trace["y"][:-1]) == pytest.approx(east.filter(pl.col("date") == h.last)["revenue"].sum())


def test_names_are_never_markup_in_the_waterfall_or_in_markdown():
    day = dt.date(2025, 6, 18)
    frame = pl.DataFrame(
        {
            "date": [day - WEEK, day - WEEK, day, day],
            "region": ["r1", "r2", "r1", "r2"],
            "category": ["<b>toys</b>", "*bold* :red[x]", "<b>toys</b>", "*bold* :red[x]"],
            "sku": ["A", "B", "A", "B"],
            "orders": [10, 10, 1, 10],
            "units": [10, 10, 1, 10],
            "revenue": [100.0, 100.0, 10.0, 100.0],
        }
    )
    drivers = key_drivers(frame, "revenue", (day - WEEK, day - WEEK), (day, day), top=1)
    trace = charts.drivers_waterfall(drivers).to_dict()["data"][0]
    assert trace["x"][1] in {"region r1", "category &lt;b&gt;toys&lt;/b&gt;", "sku A"}
    assert sum(trace["y"][:-1]) == pytest.approx(110.0)
    assert md_escape("*bold* :red[x] <b>") == r"\*bold\* \:red\[x\] \<b\>"


def test_why_view_on_an_empty_data_dir_says_what_to_run(open_app, tmp_path):
    at = open_app(str(tmp_path / "empty"), page="views/why.py")
    assert "No data yet" in at.info[0].value


def test_a_driver_opens_the_page_that_shows_its_own_trend():
    end, first = dt.date(2025, 6, 18), dt.date(2025, 6, 1)
    page, state = drill_down({"region": "us-east", "category": "toys", "sku": "SKU-0004"}, end, first)
    assert page == "views/skus.py" and state["sku_pick"] == "SKU-0004" and state["sku"] == "SKU-0004"
    assert state["region"] == ["us-east"] and state["category"] == []  # the SKU names its category
    assert state["dates"] == (first, end)  # 28 days back would start before the history
    assert drill_down({"region": "apac", "category": "toys"}, end, first)[0] == "views/regions.py"
    page, state = drill_down({"category": "toys"}, end, dt.date(2025, 1, 1))
    assert page == "views/overview.py" and state["category"] == ["toys"] and state["region"] == []
    assert state["dates"] == (end - dt.timedelta(days=27), end)


def test_an_alerts_series_is_selected_by_its_levels_keys_only():
    sku_alert = Selection.of_series("sku", "SKU-0004", "toys", None)  # alerts carry a SKU's category too
    assert (sku_alert.regions, sku_alert.categories, sku_alert.skus) == ((), (), ("SKU-0004",))
    root = Selection.of_series("category_region", None, "toys", "us-east")  # an incident root's level
    assert (root.regions, root.categories, root.skus) == (("us-east",), ("toys",), None)

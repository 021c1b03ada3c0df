"""Every dashboard page through Streamlit's AppTest, on a small history the real pipeline materialized.

Expected numbers are computed here from the Parquet with polars, independently of the dashboard's DuckDB
queries; filters are set through the widgets and through the URL's query parameters.
"""

from __future__ import annotations

import json
import re
import shutil

import polars as pl
import pytest
from dashboard_data import read_asset
from streamlit.testing.v1 import AppTest

from spd_dashboard import charts, summary

PAGES = ("views/overview.py", "views/skus.py", "views/regions.py", "views/alerts.py", "views/health.py")


def _metrics(at: AppTest) -> dict[str, tuple[float, str]]:
    """label -> (exact value from the card's help, delta); the card shows the short form of that value."""
    out = {}
    for m in at.metric:
        exact = float(re.search(r"Exactly \$?([\d,.]+)\.$", m.proto.help).group(1).replace(",", ""))
        assert m.value == summary.short(exact, summary.MONEY if "$" in m.value else summary.COUNT)
        out[m.label] = (exact, m.proto.delta)
    return out


def _sums(data_dir: str, start, end, cond: pl.Expr | None = None) -> dict[str, float]:
    agg = read_asset(data_dir, "daily_agg").filter(pl.col("date").is_between(start, end))
    agg = agg if cond is None else agg.filter(cond)
    return {c: float(agg[c].sum()) for c in ("revenue", "orders", "units")}


def _week(h) -> dict:
    return {"dates": [h.days[-7].isoformat(), h.last.isoformat()]}


def _texts(at: AppTest) -> str:
    parts = [*at.markdown, *at.caption, *at.info, *at.warning, *at.success, *at.title]
    return "\n".join(str(e.value) for e in parts)


def _chart(at: AppTest, index: int = 0) -> dict:
    return json.loads(at.get("plotly_chart")[index].proto.spec)


def test_overview_kpis_equal_the_parquet_sums_with_deltas(dashboard_history, open_app):
    h = dashboard_history
    at = open_app(h.data_dir, params=_week(h))
    cur, prev = _sums(h.data_dir, h.days[-7], h.last), _sums(h.data_dir, h.days[-14], h.days[-8])
    got = _metrics(at)
    assert got["Revenue"][0] == pytest.approx(cur["revenue"], abs=0.01)
    assert got["Orders"][0] == cur["orders"] and got["Units"][0] == cur["units"]
    assert got["AOV"][0] == pytest.approx(cur["revenue"] / cur["orders"], abs=0.01)
    assert got["Revenue"][1] == f"{cur['revenue'] / prev['revenue'] - 1:+.1%}"
    assert got["Units"][1] == f"{cur['units'] / prev['units'] - 1:+.1%}"
    total = read_asset(h.data_dir, "daily_metrics").filter(
        (pl.col("level") == "total") & (pl.col("date") == h.last)
    )
    assert got["7-day revenue"][0] == pytest.approx(total["revenue_7d"][0], abs=0.01)
    assert got["7-day revenue"][1] == f"{total['pct_change_7d'][0]:+.1%}"
    assert len(at.dataframe) == 2  # the movers, up and down


def test_overview_marks_the_alert_days_on_the_trend(dashboard_history, open_app):
    h = dashboard_history
    at = open_app(h.data_dir, params=_week(h))
    traces = {t["name"]: t for t in _chart(at)["data"]}
    assert traces["critical alerts"]["x"] == [h.last.isoformat()]
    assert traces["warning alerts"]["x"] == [h.days[-4].isoformat()]  # info and warning: the worst shows
    assert "info alerts" not in traces
    assert len(traces["Daily revenue"]["x"]) == 7


def test_region_widget_narrows_the_kpis(dashboard_history, open_app):
    h = dashboard_history
    at = open_app(h.data_dir, params=_week(h))
    everything = _metrics(at)["Revenue"][0]
    at.multiselect(key="region").set_value(["us-east", "apac"]).run()
    want = _sums(h.data_dir, h.days[-7], h.last, pl.col("region").is_in(["us-east", "apac"]))
    got = _metrics(at)
    assert got["Revenue"][0] == pytest.approx(want["revenue"], abs=0.01) and got["Revenue"][0] < everything
    assert got["Orders"][0] == want["orders"]
    seven = read_asset(h.data_dir, "daily_metrics").filter(
        (pl.col("level") == "region")
        & pl.col("region").is_in(["us-east", "apac"])
        & (pl.col("date") == h.last)
    )
    assert got["7-day revenue"][0] == pytest.approx(seven["revenue_7d"].sum(), abs=0.01)


def test_filters_in_the_url_reproduce_a_view(dashboard_history, open_app):
    h = dashboard_history
    params = {"dates": [h.days[-10].isoformat(), h.days[-3].isoformat()], "region": "eu-west",
              "category": ["electronics", "home"], "sku": "SKU-00"}  # fmt: skip
    at = open_app(h.data_dir, params=params)
    assert at.multiselect(key="region").value == ["eu-west"]
    assert at.text_input(key="sku").value == "SKU-00"
    cond = (pl.col("region") == "eu-west") & pl.col("category").is_in(["electronics", "home"])
    cond &= pl.col("sku").str.contains("SKU-00", literal=True)
    want = _sums(h.data_dir, h.days[-10], h.days[-3], cond)
    assert _metrics(at)["Revenue"][0] == pytest.approx(want["revenue"], abs=0.01)
    assert "8 days" in _texts(at)


def test_skus_page_table_matches_the_parquet_and_search_narrows_it(dashboard_history, open_app):
    h = dashboard_history
    at = open_app(h.data_dir, page="views/skus.py", params=_week(h))
    table = at.dataframe[0].value
    per_sku = (
        read_asset(h.data_dir, "daily_agg").filter(pl.col("date") >= h.days[-7]).group_by("sku")
        .agg(pl.col("revenue").sum()).sort("revenue", descending=True)
    )  # fmt: skip
    assert table["sku"].tolist()[:5] == per_sku["sku"].to_list()[:5]
    assert table["revenue"].sum() == pytest.approx(per_sku["revenue"].sum(), abs=0.1)
    assert table["share"].sum() == pytest.approx(1.0)
    assert {"change", "daily"} <= set(table.columns)
    assert at.selectbox(key="sku_pick").value == per_sku["sku"][0]
    at.text_input(key="sku").set_value("SKU-001").run()
    narrowed = at.dataframe[0].value
    assert sorted(narrowed["sku"]) == sorted(s for s in per_sku["sku"] if "SKU-001" in s)
    at.selectbox(key="sku_pick").set_value(narrowed["sku"].iloc[-1]).run()
    history = _chart(at)["data"]
    assert {t["name"] for t in history} >= {"7-day average", "us-east"}


def test_regions_page_breaks_revenue_down_in_each_regions_colour(dashboard_history, open_app):
    h = dashboard_history
    at = open_app(h.data_dir, page="views/regions.py", params=_week(h))
    detail = at.dataframe[0].value
    agg = read_asset(h.data_dir, "daily_agg").filter(pl.col("date") >= h.days[-7])
    want = agg.group_by("region", "category").agg(pl.col("revenue").sum())
    got = {(r, c): v for r, c, v in detail[["region", "category", "revenue"]].itertuples(index=False)}
    assert got == pytest.approx({(r, c): v for r, c, v in want.iter_rows()})
    bars = _chart(at, 0)["data"][0]
    assert bars["marker"]["color"] == [charts.REGION_COLORS[r] for r in bars["y"]]
    trends = _chart(at, 2)["data"]
    assert {t["marker"]["color"] for t in trends if t["type"] == "bar"} == {
        charts.REGION_COLORS[r] for r in bars["y"]
    }


def test_alerts_table_names_a_sku_region_series_with_its_region(dashboard_history, open_app):
    h = dashboard_history
    at = open_app(h.data_dir, page="views/alerts.py", params=_week(h))
    table = at.dataframe[0].value
    cell = h.alerts.filter(pl.col("level") == "sku_region").row(0, named=True)
    sku = h.alerts.filter(pl.col("level") == "sku").row(0, named=True)
    assert f"sku {cell['sku']} in apac" in table["series"].tolist()
    assert f"sku {sku['sku']}" in table["series"].tolist()


def test_alerts_page_filters_and_remembers_an_acknowledgement(dashboard_history, open_app, tmp_path):
    h = dashboard_history
    data_dir = str(shutil.copytree(h.data_dir, tmp_path / "data"))  # acknowledging writes under the data dir
    at = open_app(data_dir, page="views/alerts.py", params=_week(h))
    assert "**4** alert(s) shown" in _texts(at)
    assert (
        at.selectbox(key="alert_pick").value
        == h.alerts.filter(pl.col("severity") == "critical")["alert_id"][0]
    )
    assert "region us-east · revenue on" in _texts(at)
    series = {t["name"]: t for t in _chart(at)["data"]}
    assert h.last.isoformat() in series["daily revenue"]["x"]

    at.multiselect(key="severity").set_value(["warning"]).run()
    assert at.dataframe[0].value["severity"].tolist() == ["warning", "warning"]
    at.multiselect(key="severity").set_value([]).run()

    critical = h.alerts.filter(pl.col("severity") == "critical")["alert_id"][0]
    at.selectbox(key="alert_pick").set_value(critical).run()
    at.text_input(key="alert_note").set_value("known: us-east warehouse closed")
    next(b for b in at.button if b.label == "Acknowledge").click().run()
    assert "**3** alert(s) shown (1 acknowledged or snoozed hidden)" in _texts(at)

    restarted = open_app(data_dir, page="views/alerts.py", params=_week(h))
    assert "**3** alert(s) shown" in _texts(restarted)
    restarted.toggle(key="closed").set_value(True).run()
    table = restarted.dataframe[0].value
    critical_row = table[table["severity"] == "critical"]
    warning = h.alerts.filter(pl.col("severity") == "warning")["alert_id"][0]
    restarted.selectbox(key="alert_pick").set_value(warning).run()
    restarted.selectbox(key="snooze_days").set_value(3)
    next(b for b in restarted.button if b.label == "Snooze").click().run()
    statuses = sorted(restarted.dataframe[0].value["status"].str.slice(0, 13))
    assert statuses == ["acknowledged", "open", "open", "snoozed until"]
    assert critical_row[["status", "note"]].values.tolist() == [
        ["acknowledged", "known: us-east warehouse closed"]
    ]


def test_run_anomaly_check_without_a_webserver_says_what_to_start(dashboard_history, open_app, closed_port):
    h = dashboard_history
    at = open_app(h.data_dir, page="views/alerts.py")
    assert at.date_input(key="check_day").value == h.last
    next(b for b in at.button if b.label == "Run anomaly check").click().run()
    warning = at.warning[0].value
    assert f"not reachable at http://127.0.0.1:{closed_port}" in warning and "`make run`" in warning


def test_health_page_lists_partitions_and_quarantine(dashboard_history, open_app):
    h = dashboard_history
    at = open_app(h.data_dir, page="views/health.py")
    table = at.dataframe[0].value.set_index("asset")
    assert table.loc["daily_agg", "days"] == len(h.days) and table.loc["daily_agg", "missing_days"] == 0
    assert str(table.loc["daily_metrics", "latest"])[:10] == h.last.isoformat()
    assert table.loc["alerts", "rows"] == 4 and table.loc["alerts", "empty_days"] == len(h.days) - 2
    assert table.loc["catalog", "rows"] == pl.read_parquet(f"{h.data_dir}/catalog/data.parquet").height
    assert {m.label: m.value for m in at.metric}["Quarantined rows"] == "3"
    assert "is not reachable" in at.warning[0].value


@pytest.mark.parametrize("page", PAGES)
def test_an_empty_data_dir_shows_what_to_run_instead_of_an_error(open_app, tmp_path, closed_port, page):
    at = open_app(str(tmp_path / "empty"), page=None if page == PAGES[0] else page)
    message = "\n".join(i.value for i in at.info)
    assert "No data yet" in message and "`make run`" in message
    assert f"http://127.0.0.1:{closed_port}" in message

"""The dashboard's plain logic: periods, selections, KPIs and deltas, movers, alert states, launch errors."""

from __future__ import annotations

import datetime as dt
import socket
import sqlite3

import polars as pl
import pytest
from dashboard_data import alert_row

from spd_dashboard import charts, summary
from spd_dashboard.alert_state import AlertStates, with_status
from spd_dashboard.dagster_runs import DagsterUI, LaunchError, dagster_ui, launch_check
from spd_dashboard.selection import (
    Period,
    Selection,
    default_period,
    filter_alerts,
    match_skus,
    period_from_input,
)

D = dt.date(2025, 6, 10)


def _totals(revenue: list[float], orders: list[int], units: list[int], start: dt.date = D) -> pl.DataFrame:
    days = [start + dt.timedelta(days=i) for i in range(len(revenue))]
    return pl.DataFrame({"date": days, "revenue": revenue, "orders": orders, "units": units})


def test_previous_period_has_the_same_length_and_ends_the_day_before():
    p = Period(dt.date(2025, 3, 8), dt.date(2025, 3, 14))
    assert (p.days, p.prev_start, p.prev_end) == (7, dt.date(2025, 3, 1), dt.date(2025, 3, 7))
    assert default_period(dt.date(2025, 1, 1), dt.date(2025, 3, 31)) == Period(
        dt.date(2025, 3, 4), dt.date(2025, 3, 31)
    )
    assert default_period(dt.date(2025, 3, 20), dt.date(2025, 3, 31)).start == dt.date(2025, 3, 20)


def test_a_half_picked_date_range_is_one_day_and_nothing_picked_falls_back():
    fallback = Period(D, D + dt.timedelta(days=6))
    assert period_from_input((D,), fallback) == Period(D, D)
    assert period_from_input((), fallback) == fallback
    assert period_from_input((D + dt.timedelta(days=2), D), fallback) == Period(D, D + dt.timedelta(days=2))


def test_the_metrics_level_is_the_finest_one_the_selection_needs():
    assert Selection().metrics_level == "total"
    assert Selection(regions=("apac",)).metrics_level == "region"
    assert Selection(categories=("toys",)).metrics_level == "category"
    assert Selection(skus=("SKU-0001",)).metrics_level == "sku"
    assert Selection(categories=("toys",), skus=("SKU-0001",)).metrics_level == "sku"
    assert Selection(regions=("apac",), categories=("toys",)).metrics_level == "sku_region"


def test_sku_search_matches_id_or_name_case_insensitively(small_catalog):
    name = small_catalog["name"][3]
    hits = match_skus(small_catalog, name.upper())
    assert small_catalog["sku"][3] in hits
    assert match_skus(small_catalog, "sku-0001") == ("SKU-0001",)
    assert match_skus(small_catalog, "  ") is None
    assert match_skus(small_catalog, "no such thing") == ()


def test_kpis_sum_the_period_and_compare_with_the_previous_one():
    current = _totals([100.0, 300.0], [2, 4], [3, 5])
    previous = _totals([150.0, 50.0], [2, 3], [2, 2], start=D - dt.timedelta(days=2))
    seven = pl.DataFrame({"date": [D, D + dt.timedelta(days=1)], "revenue_7d": [900.0, 1000.0],
                          "pct_change_7d": [None, -0.2], "window_days": [7, 7]})  # fmt: skip
    kpis = {k.label: k for k in summary.period_kpis(current, previous, seven)}
    assert kpis["Revenue"].value == 400.0 and kpis["Revenue"].delta == pytest.approx(1.0)
    assert kpis["Orders"].value == 6 and kpis["Orders"].delta == pytest.approx(0.2)
    assert kpis["Units"].value == 8 and kpis["Units"].delta == pytest.approx(1.0)
    assert kpis["AOV"].value == pytest.approx(400 / 6) and kpis["AOV"].delta == pytest.approx(
        (400 / 6) / 40 - 1
    )
    assert kpis["AOV"].spark == [50.0, 75.0]
    assert kpis["7-day revenue"].value == 1000.0 and kpis["7-day revenue"].delta == -0.2
    assert "Exactly $400.00" in kpis["Revenue"].help
    no_prev = summary.period_kpis(current, None, seven)
    assert [k.delta for k in no_prev[:4]] == [None, None, None, None]
    assert summary.delta_text(-0.1234) == "-12.3%" and summary.delta_text(None) is None
    assert kpis["Revenue"].shown == "$400.00" and kpis["Orders"].shown == "6"


def test_card_numbers_are_short_enough_for_a_laptop_screen():
    money, count = summary.MONEY, summary.COUNT
    assert summary.short(8_025_123.45, money) == "$8.03M"
    assert summary.short(1_234_567_890, money) == "$1.23B"
    assert summary.short(16_345.6, money) == "$16.3K"
    assert summary.short(100.594, money) == "$100.59"
    assert summary.short(79_642, count) == "79,642"
    assert summary.short(2_800_400, count) == "2.80M"
    assert summary.short(None, count) == "—"


def test_movers_rank_by_money_gained_and_lost():
    by_sku = pl.DataFrame({
        "sku": ["A", "B", "C", "D"], "category": ["x"] * 4, "revenue": [1000.0, 10.0, 500.0, 0.0],
        "units": [1, 1, 1, 0], "orders": [1, 1, 1, 0], "prev_revenue": [800.0, 1.0, 900.0, 50.0],
        "daily": [[1.0]] * 4,
    })  # fmt: skip
    catalog = pl.DataFrame({"sku": ["A", "B", "C", "D"], "name": ["a", "b", "c", "d"]})
    table = summary.sku_table(by_sku, catalog, prev_complete=True)
    assert table["share"].sum() == pytest.approx(1.0)
    up, down = summary.movers(table, n=2)
    assert up["sku"].to_list() == ["A", "B"]  # +200 beats +9 even though B grew 900%
    assert down["sku"].to_list() == ["C", "D"]
    assert summary.movers(summary.sku_table(by_sku, catalog, prev_complete=False))[0].is_empty()


def test_alert_filters_follow_the_selection():
    alerts = pl.DataFrame(
        [alert_row(D, "region", "critical", region="apac"), alert_row(D, "total", "info"),
         alert_row(D, "sku", "warning", sku="SKU-0002", category="toys")],
    )  # fmt: skip
    assert filter_alerts(alerts, Selection(regions=("apac",)))["level"].to_list() == ["region"]
    assert filter_alerts(alerts, Selection(), severities=("info", "warning")).height == 2
    assert filter_alerts(alerts, Selection(categories=("toys",)))["sku"].to_list() == ["SKU-0002"]
    assert filter_alerts(alerts, Selection(), levels=("total",))["severity"].to_list() == ["info"]


def test_alert_marks_sit_on_the_days_revenue_with_the_worst_severity():
    totals = _totals([100.0, 200.0], [1, 1], [1, 1])
    alerts = pl.DataFrame([alert_row(D, "total", "info"), alert_row(D, "region", "critical", region="apac")])
    marks = summary.alert_marks(alerts, totals)
    assert marks.select("date", "revenue", "count", "severity").rows() == [(D, 100.0, 2, "critical")]
    assert marks["text"][0].startswith("critical region apac")


def test_alert_marks_name_a_sku_region_series_with_its_region():
    totals = _totals([100.0], [1], [1])
    alerts = pl.DataFrame(
        [alert_row(D, "sku_region", "warning", sku="SKU-0007", category="toys", region="apac")]
    )
    text = summary.alert_marks(alerts, totals)["text"][0]
    assert text == "warning sku SKU-0007 in apac: -75.0%"  # the core's label, region included


def test_acknowledgements_and_snoozes_survive_a_new_store(tmp_path):
    root = str(tmp_path)
    AlertStates(root).acknowledge("a1", note="known outage")
    until = AlertStates(root).snooze("a2", days=3)
    fresh = AlertStates(root).all()  # a new object: what a restarted dashboard sees
    assert fresh["a1"].shown_as() == "acknowledged" and fresh["a1"].note == "known outage"
    assert fresh["a2"].shown_as().startswith("snoozed until")
    assert fresh["a2"].shown_as(now=until + dt.timedelta(seconds=1)) == "open"
    AlertStates(root).reopen("a1")
    assert "a1" not in AlertStates(root).all()
    with sqlite3.connect(tmp_path / "_state" / "state.sqlite") as con:  # the default state store
        assert con.execute("SELECT alert_id, status FROM alert_state").fetchall() == [("a2", "snoozed")]
    AlertStates(root).snooze("a3", days=1, note="waiting for the supplier")
    alerts = pl.DataFrame({"alert_id": ["a1", "a2", "a3"]})
    shown = with_status(alerts, AlertStates(root).all())
    assert shown["status"][0] == "open" and shown["status"][2].startswith("snoozed until")
    assert shown["note"].to_list() == ["", "", "waiting for the supplier"]


def test_launching_without_a_webserver_says_what_to_start(monkeypatch):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens once the socket is closed
    monkeypatch.setenv("SPD_DAGSTER_PORT", str(port))
    ui = dagster_ui()
    assert ui == DagsterUI("127.0.0.1", port)
    with pytest.raises(
        LaunchError, match=rf"not reachable at http://127\.0\.0\.1:{port}: start it with `make run`"
    ):
        launch_check(ui, D)
    assert ui.run_url("abc") == f"http://127.0.0.1:{port}/runs/abc"
    monkeypatch.setenv("SPD_DAGSTER_PORT", "three thousand")
    with pytest.raises(LaunchError, match="SPD_DAGSTER_PORT"):
        dagster_ui()


def test_every_known_region_has_its_own_colour_and_unknown_ones_a_stable_one():
    assert len(set(charts.REGION_COLORS.values())) == len(charts.REGION_COLORS) == 6
    assert charts.region_color("us-east") == "#0072B2"
    # An unknown region's colour comes from its letters (not hash(), which changes per process): the
    # same in every run and every chart, and never one a known region already has.
    assert charts.region_color("mars") == "#BCBD22"  # sum of ords 435 % 6 spares = 3
    assert charts.region_color("marr") == "#17BECF"
    assert not {charts.region_color(r) for r in ("mars", "marr")} & set(charts.REGION_COLORS.values())

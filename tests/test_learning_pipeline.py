"""Feedback and the event calendar through real `alerts` materializations (anomaly_check job)."""

from __future__ import annotations

import functools
import json

import polars as pl
from conftest import recent_days
from test_alerts_asset import check, metadata, write_metrics

from spd_assets.assets.alerts import read_alerts
from spd_assets.core.events import Calendar
from spd_assets.core.feedback import REASON, Feedback
from spd_assets.core.schema import ALERTS
from spd_assets.core.state_store import StateStore, default_state_url
from spd_assets.core.storage import DayStore
from spd_assets.definitions import build_defs


def state(settings) -> StateStore:
    return StateStore(default_state_url(settings.data_dir, {}))


def sku_alerts(settings, day, sku: str = "SKU-A") -> pl.DataFrame:
    return DayStore(settings.data_dir).read("alerts", day).filter(level="sku", sku=sku)


def test_an_expected_drop_is_labelled_and_not_sent_another_scope_the_same_day_is(
    settings, instance, httpserver_ipv4, monkeypatch
) -> None:
    days = recent_days(70)
    day = days[-1]
    write_metrics(settings.data_dir, days, {("SKU-A", day): 0.5, ("SKU-B", day): 0.5})
    Calendar(state(settings)).add("Home shop migration", "site_change", day, day, "category", "home")
    httpserver_ipv4.expect_request("/hook", method="POST").respond_with_data("ok")
    monkeypatch.setenv("SPD_WEBHOOK_URL", httpserver_ipv4.url_for("/hook"))
    monkeypatch.setenv("SPD_DASHBOARD_URL", "https://spd.example.test/")

    # two drops in a two-category shop: measured raw, not against each other
    result = check(day, build_defs(settings), instance, level_adjust="none")
    alerts = DayStore(settings.data_dir).read("alerts", day)
    home = alerts.filter(pl.col("category") == "home")
    toys = alerts.filter(pl.col("category") == "toys")
    assert home.height and set(home["expected"]) == {"Home shop migration"}
    assert toys.height and toys["expected"].null_count() == toys.height
    # the home incident (its total alert included) is labelled; the regions' and SKU-B's are not
    expected = set(alerts.filter(pl.col("expected").is_not_null())["incident_id"])
    assert set(home["incident_id"]) == expected and expected.isdisjoint(toys["incident_id"])
    posted = [json.loads(r.data) for r, _ in httpserver_ipv4.log]
    sent = {
        p["blocks"][2]["elements"][0]["text"].split(" ")[2]: p["blocks"][1]["text"]["text"] for p in posted
    }
    assert set(sent) == set(alerts["incident_id"]) - expected and set(toys["incident_id"]) <= set(sent)
    link = "https://spd.example.test/alerts?incident="
    assert all(f"{link}{incident}" in body for incident, body in sent.items())
    meta = metadata(result)
    assert meta["expected_alerts"] == alerts["expected"].count() == home.height + 1  # + the total
    assert "Home shop migration" in meta["calendar_used"] and "category home" in meta["calendar_used"]


def test_two_false_alarms_raise_the_bar_an_equal_drop_is_quiet_a_twice_as_deep_one_alerts(
    settings, instance
) -> None:
    days = recent_days(70)
    d1, d2, d3 = days[-12], days[-6], days[-1]
    drops = {("SKU-A", d1): 0.6, ("SKU-A", d2): 0.6, ("SKU-A", d3): 0.6}
    # write_metrics' busier shop: at the small shop's own size a 40% drop of SKU-A's 50-60 weekend
    # orders is only 2.9 Poisson spreads, so the first drops alerted or not by the weekday they fell on.
    write = functools.partial(write_metrics, settings.data_dir, days)
    write(drops)
    defs = build_defs(settings)
    feedback = Feedback(state(settings))
    for day in (d1, d2):
        check(day, defs, instance)
        found = sku_alerts(settings, day)
        assert found.height == 1
        made = feedback.give(found, "false_alarm", note="noisy", author="test")
    (adjustment,) = made

    result = check(d3, defs, instance)
    assert sku_alerts(settings, d3).is_empty()  # an equal drop no longer passes
    assert f"| {d3} | sku SKU-A | 1 |" in metadata(result)["adjustments_used"]
    before = sku_alerts(settings, d2)["alert_id"].to_list()
    check(d2, defs, instance)  # a re-run of an old day applies what applied then
    assert sku_alerts(settings, d2)["alert_id"].to_list() == before

    write({**drops, ("SKU-A", d3): 0.2})
    check(d3, defs, instance)
    deeper = sku_alerts(settings, d3)
    assert deeper["threshold_note"].to_list() == [REASON]  # twice as deep still alerts

    feedback.undo(adjustment, by="test")
    write(drops)
    check(d3, defs, instance)
    assert sku_alerts(settings, d3)["threshold_note"].to_list() == [None]  # the default again


def test_alert_files_without_the_new_columns_still_read(settings) -> None:
    day = recent_days(1)[0]
    old = {c: t for c, t in ALERTS.items() if c not in ("expected", "threshold_note")}
    row = dict.fromkeys(old) | {"alert_id": "a" * 16, "date": day, "level": "sku", "sku": "SKU-A"}
    store = DayStore(settings.data_dir)
    store.write("alerts", day, pl.DataFrame([row], schema=old))
    read = read_alerts(store.read("alerts", day))
    assert dict(read.schema) == ALERTS
    assert read.select("expected", "threshold_note").row(0) == (None, None)

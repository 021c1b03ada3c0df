"""Incidents: one day's alerts grouped around a root cause, stored, and notified once per incident."""

from __future__ import annotations

import datetime as dt
import json

import polars as pl
import pytest
from conftest import SMALL, materialize_range, recent_days
from polars.testing import assert_frame_equal
from test_house_rules import _with_resources

from spd_assets.core import incidents
from spd_assets.core.detect import alert_id
from spd_assets.core.episodes import assign_episodes
from spd_assets.core.schema import ALERTS, INCIDENTS
from spd_assets.core.storage import DayStore
from spd_assets.definitions import build_defs, build_resources
from spd_assets.resources.order_sources import SyntheticSource

DAY = dt.date(2026, 3, 10)
REGIONS = ("east", "west", "north")
SKUS = {f"S{i}": ("toys" if i < 3 else "books") for i in range(6)}


def alert(day: dt.date, level: str, sku=None, region=None, at_risk=100.0, severity="warning") -> dict:
    category = SKUS[sku] if sku else None
    return {
        "alert_id": alert_id(day, level, sku, category, region, "weekday_mad"),
        "date": day, "level": level, "sku": sku, "category": category, "region": region,
        "metric": "revenue", "observed": 0.0, "baseline": at_risk, "spread": 10.0, "robust_z": -9.0,
        "pct_drop": 1.0, "revenue_at_risk": at_risk, "severity": severity, "rule": "weekday_mad",
    }  # fmt: skip


def alerts_of(*rows: dict) -> pl.DataFrame:
    return assign_episodes(pl.DataFrame(list(rows), schema=ALERTS))


def leaves(day: dt.date, down: dict[str, float]) -> pl.DataFrame:
    """Every SKU x region leaf expecting 100; a region in ``down`` keeps that share."""
    rows = [
        {"date": day, "region": r, "category": c, "sku": s, "observed": 100.0 * down.get(r, 1.0)}
        for s, c in SKUS.items()
        for r in REGIONS
    ]
    return pl.DataFrame(rows).with_columns(expected=pl.lit(100.0))


def daily(days: list[dt.date], down: dict[tuple[dt.date, str], float]) -> pl.DataFrame:
    """daily_agg-like SKU x region rows; (day, region) in ``down`` keeps that share, S0 sells most."""
    rows = []
    for d in days:
        for s, c in SKUS.items():
            for r in REGIONS:
                revenue = (300.0 if s == "S0" else 100.0) * down.get((d, r), 1.0)
                rows.append({"date": d, "region": r, "category": c, "sku": s, "orders": int(revenue // 10),
                             "units": int(revenue // 10), "revenue": revenue})  # fmt: skip
    return pl.DataFrame(rows)


def outage_day() -> tuple[pl.DataFrame, pl.DataFrame]:
    """East is out: its region alert, two SKU x region alerts, the total, and an unrelated SKU alert."""
    found = alerts_of(
        alert(DAY, "region", region="east", at_risk=600.0, severity="critical"),
        alert(DAY, "sku_region", "S0", "east"),
        alert(DAY, "sku_region", "S4", "east"),
        alert(DAY, "total", at_risk=600.0),
        alert(DAY, "sku", "S5", at_risk=50.0, severity="info"),
    )
    history = daily([DAY - dt.timedelta(days=7), DAY], {(DAY, "east"): 0.0})
    return found, history


def test_a_region_outage_is_one_incident_rooted_at_the_region() -> None:
    found, history = outage_day()
    grouped, rows = incidents.group(found, leaves(DAY, {"east": 0.0}), history)
    by_level = {r["level"]: r for r in grouped.iter_rows(named=True)}
    region = rows.filter(level="region").row(0, named=True)
    assert (region["root"], region["region"], region["alerts"], region["children"]) == (
        "region east",
        "east",
        4,
        3,
    )
    assert {by_level[lv]["incident_id"] for lv in ("region", "total")} == {region["incident_id"]}
    assert grouped.filter(level="sku_region")["incident_id"].to_list() == [region["incident_id"]] * 2
    roots = {by_level["region"]["alert_id"], by_level["sku"]["alert_id"]}
    assert set(grouped.filter("is_root")["alert_id"]) == roots
    assert (region["severity"], region["status"], region["revenue_at_risk"]) == ("critical", "open", 600.0)
    # The unrelated SKU stands alone, its own root.
    alone = rows.filter(level="sku").row(0, named=True)
    assert (alone["root"], alone["alerts"], alone["children"]) == ("sku S5", 1, 0)
    assert by_level["sku"]["is_root"] and by_level["sku"]["incident_id"] == alone["incident_id"]
    assert rows.height == 2 and dict(rows.schema) == INCIDENTS


def test_an_incidents_top_drivers_are_inside_its_root() -> None:
    found, history = outage_day()
    _, rows = incidents.group(found, leaves(DAY, {"east": 0.0}), history)
    drivers = json.loads(rows.filter(level="region")["drivers"][0])
    assert len(drivers) == 3 and drivers[0]["segment"] == "category toys"  # S0 (toys) sells most
    assert all("east" not in d["segment"] for d in drivers)  # the root's own key adds nothing
    assert drivers[0]["contribution"] == pytest.approx(-500.0) and drivers[0]["share"] == pytest.approx(
        500 / 800
    )


def test_a_total_alert_a_category_explains_joins_the_category_when_no_root_is_found() -> None:
    """No leaves to find roots on: the alerts nest. The total's drop is the category's, so the
    category names the incident (the total first would make a small shop's category drop 'total')."""
    found = alerts_of(
        alert(DAY, "total", at_risk=500.0),
        {**alert(DAY, "category", at_risk=480.0), "category": "toys", "alert_id": "c"},
        alert(DAY, "sku", "S0", at_risk=480.0),
    )
    _, rows = incidents.group(found, leaves(DAY, {}).head(0), daily([DAY], {}))
    (row,) = rows.iter_rows(named=True)
    assert (row["root"], row["level"], row["alerts"]) == ("category toys", "category", 3)
    # A total far bigger than any alert inside it is its own incident: a site-wide drop.
    found = alerts_of(alert(DAY, "total", at_risk=5000.0), alert(DAY, "sku", "S0", at_risk=480.0))
    _, rows = incidents.group(found, leaves(DAY, {}).head(0), daily([DAY], {}))
    assert sorted(rows["root"]) == ["sku S0", "total"]


def test_a_root_no_alert_names_takes_its_figures_from_the_leaves() -> None:
    found = alerts_of(alert(DAY, "sku_region", "S0", "east"), alert(DAY, "sku_region", "S1", "east"))
    grouped, rows = incidents.group(found, leaves(DAY, {"east": 0.25}), daily([DAY], {}))
    (row,) = rows.iter_rows(named=True)
    assert (row["root"], row["level"], row["alerts"], row["children"]) == ("region east", "region", 2, 2)
    assert (row["observed"], row["baseline"], row["pct_drop"]) == (150.0, 600.0, 0.75)
    assert not grouped["is_root"].any()


def test_without_a_root_cause_the_widest_alert_holds_those_inside_it() -> None:
    found = alerts_of(
        alert(DAY, "sku_region", "S0", "east"),
        alert(DAY, "sku", "S0", at_risk=300.0),
        alert(DAY, "sku_region", "S4", "west"),
    )
    no_leaves = leaves(DAY, {}).clear()
    grouped, rows = incidents.group(found, no_leaves, daily([DAY], {}))
    assert sorted(rows["root"]) == ["region west, sku S4", "sku S0"]
    sku = rows.filter(root="sku S0").row(0, named=True)
    assert (sku["alerts"], sku["children"]) == (2, 1)
    assert grouped.filter(sku="S0")["incident_id"].unique().to_list() == [sku["incident_id"]]


def test_a_wide_alert_joins_a_root_inside_it_only_if_that_root_carries_most_of_its_drop() -> None:
    """A category drop is not re-rooted at one small leaf inside it that root_causes singled out."""
    rows = [{**a, "_seg": incidents.segment(a)} for a in (
        alert(DAY, "category", region=None, at_risk=900.0) | {"category": "toys"},
        alert(DAY, "sku", "S1", at_risk=300.0),
    )]  # fmt: skip
    small, big = {"region": "east", "category": "toys", "sku": "S0"}, {"category": "toys"}
    here = (
        leaves(DAY, {})
        .with_columns(
            observed=pl.when((pl.col("sku") == "S0") & (pl.col("region") == "east"))
            .then(80.0)
            .otherwise("observed")
        )
        .with_columns(observed=pl.when(pl.col("sku") == "S1").then(0.0).otherwise("observed"))
    )
    groups = incidents._groups(rows, [small], here)
    assert [(seg, members) for seg, members in groups] == [(big, [0, 1])]  # S0 in east: 20 of 320
    assert incidents._groups(rows, [{"category": "toys", "sku": "S1"}], here)[0][1] == [0, 1]


def test_the_same_drop_is_the_same_incident_on_later_days_and_recovers_once() -> None:
    days = [DAY + dt.timedelta(days=k) for k in range(2)]
    history = daily([d - dt.timedelta(days=7) for d in days] + days, {(d, "east"): 0.0 for d in days})
    found, rows = [], []
    for day in days:
        today = assign_episodes(
            pl.DataFrame([alert(day, "region", region="east"), alert(day, "sku_region", "S0", "east")],
                         schema=ALERTS), pl.concat(found) if found else None)  # fmt: skip
        grouped, day_rows = incidents.group(today, leaves(day, {"east": 0.0}), history)
        found.append(grouped)
        rows.append(day_rows)
    both = pl.concat(rows)
    assert both["incident_id"].n_unique() == 1 and both["status"].to_list() == ["open", "ongoing"]
    alerts, seen = pl.concat(found), both
    quiet = days[-1] + dt.timedelta(days=1)  # one quiet day is still inside the episode
    assert incidents.recovered(alerts, seen, [quiet]).is_empty()
    (back,) = incidents.recovered(alerts, seen, [quiet + dt.timedelta(days=1)]).iter_rows(named=True)
    assert (back["status"], back["root"], back["episode_id"]) == (
        "recovered",
        "region east",
        both["episode_id"][0],
    )
    assert back["incident_id"] != both["incident_id"][0]  # a message of its own, recorded once


def test_a_drop_that_moves_to_another_root_has_not_recovered() -> None:
    day2 = DAY + dt.timedelta(days=1)
    first = alerts_of(alert(DAY, "sku_region", "S0", "east"))
    g1, r1 = incidents.group(first, leaves(DAY, {}).clear(), daily([DAY], {}))
    rows = [alert(day2, "sku_region", "S0", "east"), alert(day2, "region", region="east")]
    second = assign_episodes(pl.DataFrame(rows, schema=ALERTS), g1)
    g2, r2 = incidents.group(second, leaves(day2, {}).clear(), daily([day2], {}))
    assert r2["root"].to_list() == ["region east"] and r1["incident_id"][0] != r2["incident_id"][0]
    ended = incidents.recovered(pl.concat([g1, g2]), pl.concat([r1, r2]), [DAY + dt.timedelta(days=2)])
    assert ended.is_empty()  # S0 in east went on inside the region's incident


# ---- through the pipeline: the synthetic shop with a region outage, a real webhook on loopback ----


class OutageSource(SyntheticSource):
    """The synthetic shop with one region's orders gone on one day (an injected outage)."""

    outage_day: str
    outage_region: str

    def day(self, day, catalog):
        generated = super().day(day, catalog)
        if day.isoformat() != self.outage_day:
            return generated
        kept = generated.orders.filter(pl.col("region") != self.outage_region)
        return type(generated)(orders=kept, truth=generated.truth)


def test_a_region_outage_in_synthetic_data_is_one_incident_and_one_webhook_message(
    settings, instance, httpserver_ipv4, monkeypatch
) -> None:
    days = recent_days(30)
    outage, region = days[-1], "eu-west"
    source = OutageSource(**SMALL, outage_day=outage.isoformat(), outage_region=region)

    def with_outage():
        return _with_resources(build_defs(settings), {**build_resources(settings), "source": source})

    assert materialize_range(with_outage(), instance, days[0], days[-2]).success  # no webhook yet

    httpserver_ipv4.expect_request("/hook", method="POST").respond_with_data("ok")
    monkeypatch.setenv("SPD_WEBHOOK_URL", httpserver_ipv4.url_for("/hook"))
    assert materialize_range(with_outage(), instance, outage, outage).success

    store = DayStore(settings.data_dir)
    alerts, found = store.read("alerts", outage), store.read("incidents", outage)
    (root,) = found.filter(pl.col("region") == region).iter_rows(named=True)
    assert (root["level"], root["root"], root["pct_drop"]) == ("region", f"region {region}", 1.0)
    mine = alerts.filter(pl.col("incident_id") == root["incident_id"])
    children = alerts.filter(level="sku_region", region=region)
    assert children.height >= 3 and set(children["alert_id"]) <= set(mine["alert_id"])
    assert mine.filter("is_root").select("level", "region").rows() == [("region", region)]
    assert root["children"] == mine.height - 1 and root["alerts"] == mine.height

    posted = [json.loads(request.data) for request, _ in httpserver_ipv4.log]
    about = [p for p in posted if region in p["text"]]
    assert len(about) == 1 and len(posted) == found.height  # one message per incident, not per alert
    assert about[0]["text"].startswith(f"[spd] 1 revenue drop (critical) on {outage}: region {region}")
    assert "Top drivers:" in about[0]["blocks"][1]["text"]["text"]


def test_the_cells_of_day_frames_are_their_sku_region_rows_in_order() -> None:
    """A day file's levels come one after the other (a slice); any other order is filtered."""
    day = dt.date(2026, 3, 2)
    rows = [("total", None), ("sku", "A"), ("sku_region", "A"), ("sku_region", "B"), ("region", None)]
    frame = pl.DataFrame(
        {"date": [day] * 5, "level": [r[0] for r in rows], "sku": [r[1] for r in rows],
         "category": ["c"] * 5, "region": ["us", "us", "us", "eu", "eu"],
         "orders": [9, 5, 3, 2, 4], "units": [9, 5, 3, 2, 4], "revenue": [9.0, 5.0, 3.0, 2.0, 4.0]}
    )  # fmt: skip
    mixed = frame[[2, 0, 3, 1, 4]]  # the cells not next to each other
    for frames in ([frame], [frame, mixed], [mixed], [frame.filter(pl.col("level") != "sku_region")]):
        expected = pl.concat(frames).filter(level="sku_region").select(incidents.DRIVER_COLUMNS)
        assert_frame_equal(incidents.cell_rows(frames), expected)

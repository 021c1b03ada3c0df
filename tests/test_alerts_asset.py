"""The `alerts` asset through the anomaly_check job, on a hand-made daily_metrics with a known drop."""

from __future__ import annotations

import datetime as dt
import json

import dagster as dg
import polars as pl
import pytest
from conftest import recent_days
from test_detect import shop_agg

from spd_assets.assets.alerts import read_alerts
from spd_assets.core.delivery_ledger import DeliveryLedger
from spd_assets.core.metrics import rolling_metrics
from spd_assets.core.schema import ALERTS, INCIDENTS
from spd_assets.core.state_store import default_state_url
from spd_assets.core.storage import DayStore
from spd_assets.definitions import build_defs


def write_metrics(data_dir: str, days: list[dt.date], drops: dict | None = None, scale: float = 4.0) -> None:
    """daily_metrics files for ``days`` of the small test shop (``scale`` x its orders), as the
    pipeline would write them. Four times its orders by default: at 1x, SKU-A's 50% drop on a Sunday
    (50 orders) is 3.2 Poisson spreads, no alert, and the tests failed when two days ago was a Sunday."""
    agg = shop_agg(days, drops, scale=scale)
    metrics = rolling_metrics(agg, days, days)
    store = DayStore(data_dir)
    for (day,), part in metrics.partition_by("date", as_dict=True).items():
        store.write("daily_metrics", day, part)


def check(
    day: dt.date, defs: dg.Definitions, instance: dg.DagsterInstance, **run_config
) -> dg.ExecuteInProcessResult:
    config = {"ops": {"alerts": {"config": run_config}}} if run_config else None
    job = defs.resolve_job_def("anomaly_check")
    return job.execute_in_process(partition_key=day.isoformat(), instance=instance, run_config=config)


def metadata(result: dg.ExecuteInProcessResult, asset: str = "alerts") -> dict:
    """The run's materialization metadata of ``asset`` (`alerts` and `incidents` come from one step)."""
    found = result.asset_materializations_for_node("alerts")
    (mat,) = [m for m in found if m.asset_key == dg.AssetKey(asset)]
    return {k: getattr(v, "value", v) for k, v in mat.metadata.items()}


def evaluations(result: dg.ExecuteInProcessResult) -> dict:
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


@pytest.fixture
def shop_days(settings) -> list[dt.date]:
    """70 days of daily_metrics ending two days ago; on the last one SKU-A sold half its usual."""
    days = recent_days(70)
    write_metrics(settings.data_dir, days, {("SKU-A", days[-1]): 0.5})
    return days


def test_alerts_name_the_drop_and_the_warn_check_shows_them(settings, defs, instance, shop_days) -> None:
    result = check(shop_days[-1], defs, instance)
    assert result.success
    alerts = DayStore(settings.data_dir).read("alerts", shop_days[-1])
    assert dict(alerts.schema) == ALERTS
    sku = alerts.filter(level="sku").row(0, named=True)
    assert (sku["sku"], sku["date"], sku["rule"]) == ("SKU-A", shop_days[-1], "weekday_mad")
    assert 0.42 <= sku["pct_drop"] <= 0.58
    assert alerts.filter(pl.col("category") == "toys").is_empty()

    meta = metadata(result)
    assert meta["alerts"] == alerts.height and sku["alert_id"] in meta["top_alerts"]
    (incident,) = DayStore(settings.data_dir).read("incidents", shop_days[-1]).iter_rows(named=True)
    # SKU-A is all of category home: the category names the drop, the SKU alerts fold under it.
    (incident,) = DayStore(settings.data_dir).read("incidents", shop_days[-1]).iter_rows(named=True)
    assert (incident["root"], incident["alerts"], incident["status"]) == (
        "category home",
        alerts.height,
        "open",
    )
    assert set(alerts["incident_id"]) == {incident["incident_id"]}
    assert alerts.filter("is_root")["level"].to_list() == ["category"]
    assert meta["sent"] == {"log": 1}  # two days ago is within the 3-day lookback
    assert "category home" in metadata(result, "incidents")["top_incidents"]
    evals = evaluations(result)
    warn = evals["no_revenue_drops"]
    assert not warn.passed and warn.severity == dg.AssetCheckSeverity.WARN
    assert warn.metadata["alerts"].value == alerts.height
    assert {r["alert_id"] for r in warn.metadata["alert_rows"].value} == set(alerts["alert_id"])
    assert evals["alerts_schema"].passed
    assert warn.partition == shop_days[-1].isoformat()  # a one-day run records the check on its day


def test_a_day_without_drops_is_an_empty_file_and_the_check_passes(
    settings, defs, instance, shop_days
) -> None:
    result = check(shop_days[-2], defs, instance)
    alerts = DayStore(settings.data_dir).read("alerts", shop_days[-2])
    assert alerts.is_empty() and dict(alerts.schema) == ALERTS
    incidents = DayStore(settings.data_dir).read("incidents", shop_days[-2])
    assert incidents.is_empty() and dict(incidents.schema) == INCIDENTS
    assert evaluations(result)["no_revenue_drops"].passed
    assert metadata(result)["series_days_by_status"].get("alert", 0) == 0


def test_rematerializing_gives_the_same_alert_ids_and_no_new_deliveries(
    settings, instance, shop_days, httpserver_ipv4, monkeypatch
) -> None:
    httpserver_ipv4.expect_request("/hook", method="POST").respond_with_data("ok")
    monkeypatch.setenv("SPD_WEBHOOK_URL", httpserver_ipv4.url_for("/hook"))
    defs = build_defs(settings)
    store = DayStore(settings.data_dir)

    first = check(shop_days[-1], defs, instance)
    ids = sorted(store.read("alerts", shop_days[-1])["alert_id"])
    incident_ids = sorted(store.read("incidents", shop_days[-1])["incident_id"])
    second = check(shop_days[-1], defs, instance)
    assert sorted(store.read("alerts", shop_days[-1])["alert_id"]) == ids and ids
    assert sorted(store.read("incidents", shop_days[-1])["incident_id"]) == incident_ids and incident_ids

    assert metadata(first)["sent"] == {"log": len(incident_ids), "webhook": len(incident_ids)}
    assert metadata(second)["sent"] == {"log": 0, "webhook": 0}
    assert len(httpserver_ipv4.log) == len(incident_ids)
    posted = [json.loads(r.data)["blocks"][2]["elements"][0]["text"] for r, _ in httpserver_ipv4.log]
    assert sorted(p.removeprefix("incident id: ").split(" ")[0] for p in posted) == incident_ids
    ledger = DeliveryLedger(default_state_url(settings.data_dir, {})).table()
    assert ledger.height == 2 * len(incident_ids) and set(ledger["status"]) == {"delivered"}


def test_a_short_history_raises_no_alert_and_says_why(settings, defs, instance) -> None:
    days = recent_days(20)
    write_metrics(settings.data_dir, days, {("SKU-A", days[-1]): 0.0})
    result = check(days[-1], defs, instance)
    meta = metadata(result)
    assert meta["alerts"] == 0 and set(meta["series_days_by_status"]) == {"short_history"}
    assert "fewer than 4 same-weekday days" in meta["why_quiet"]
    assert meta["history_days_read"].startswith("20 of ")


def test_alerts_older_than_the_lookback_are_kept_but_not_sent(settings, defs, instance) -> None:
    days = recent_days(70, end_offset=10)
    write_metrics(settings.data_dir, days, {("SKU-A", days[-1]): 0.0})
    meta = metadata(check(days[-1], defs, instance))
    assert meta["alerts"] > 0 and meta["not_sent_older_than_lookback"] == meta["incidents"] > 0
    assert meta["sent"] == {"log": 0}
    assert DayStore(settings.data_dir).read("alerts", days[-1]).height == meta["alerts"]


def test_thresholds_are_run_config(settings, defs, instance, shop_days) -> None:
    one_day = ["weekday_mad"]  # the rule whose drop threshold is pct_threshold
    assert metadata(check(shop_days[-1], defs, instance, rules=one_day))["alerts"] > 0
    strict = check(shop_days[-1], defs, instance, rules=one_day, pct_threshold=0.7)
    assert metadata(strict)["alerts"] == 0
    with pytest.raises(dg.DagsterInvalidConfigError):
        check(shop_days[-1], defs, instance, z_treshold=3.0)  # a typo is refused, not ignored


def test_alerts_files_written_before_incidents_still_chain_and_the_drop_is_not_sent_again(
    settings, defs, instance
) -> None:
    days = recent_days(70)
    write_metrics(settings.data_dir, days, {("SKU-A", d): 0.2 for d in days[-2:]})
    store = DayStore(settings.data_dir)
    first = check(days[-2], defs, instance)
    assert metadata(first)["sent"] == {"log": 1}
    before = store.read("alerts", days[-2])
    store.write("alerts", days[-2], before.drop("incident_id", "is_root"))  # the previous layout

    later = check(days[-1], defs, instance)
    alerts = store.read("alerts", days[-1])
    series = ["level", "sku", "region"]
    again = alerts.join(before.select(series), on=series, nulls_equal=True)  # alerted yesterday too
    assert again.height == before.height and set(again["first_seen"]) == {days[-2]}
    assert set(again["episode_status"]) == {"ongoing"}
    (incident,) = store.read("incidents", days[-1]).iter_rows(named=True)
    assert incident["status"] == "ongoing" and incident["incident_id"] == before["incident_id"][0]
    assert metadata(later)["sent"] == {"log": 0}  # the same drop, already told


def test_an_old_alerts_file_reads_in_the_current_layout(settings) -> None:
    day = recent_days(1)[0]
    row = {
        "alert_id": "a" * 16,
        "date": day,
        "level": "sku",
        "sku": "SKU-A",
        "category": "toys",
        "metric": "revenue",
        "observed": 50.0,
        "baseline": 100.0,
        "severity": "warning",
        "rule": "weekday_mad",
    }
    old = {c: t for c, t in ALERTS.items() if c not in ("incident_id", "is_root")}  # fmt: skip
    store = DayStore(settings.data_dir)
    store.write("alerts", day, pl.DataFrame([row], schema=old))
    read = read_alerts(store.read("alerts", day))
    assert dict(read.schema) == ALERTS and read.height == 1
    assert read.select("incident_id", "is_root").row(0) == (None, True)  # it stands alone, its own root

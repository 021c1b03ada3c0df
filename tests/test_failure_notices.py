"""A failed run and a stale pipeline reach the alert channels once: a real failed run on a real instance,
the sensors' evaluation, a real webhook receiver on loopback."""

from __future__ import annotations

import datetime as dt
import json

import dagster as dg
import polars as pl
import pytest
from conftest import recent_days

from spd_assets.core.delivery_ledger import DeliveryLedger
from spd_assets.core.notices import failure_notice, notices_frame, stale_notices
from spd_assets.core.state_store import default_state_url
from spd_assets.core.storage import DayStore
from spd_assets.resources.notifications import Notifications
from spd_assets.sensors.failures import notify_stale

TOKEN = "T0KEN-s3cr3t"
UI = "http://127.0.0.1:3999"


@pytest.fixture
def notifications(httpserver_ipv4, tmp_path) -> Notifications:
    return Notifications(
        state_url=default_state_url(str(tmp_path), {}),
        webhook_url=httpserver_ipv4.url_for(f"/hook/{TOKEN}"),
        dagster_url=UI,
    )


def failed_run(defs: dg.Definitions, instance: dg.DagsterInstance, day: dt.date, secret: str):
    """anomaly_check for ``day`` with a config its step refuses (the error echoes ``secret``)."""
    config = {"ops": {"alerts": {"config": {"level_adjust": secret}}}}
    result = defs.resolve_job_def("anomaly_check").execute_in_process(
        instance=instance, partition_key=day.isoformat(), run_config=config, raise_on_error=False
    )
    assert not result.success
    return result


def evaluate_failure_sensor(defs, instance, result, notifications) -> None:
    context = dg.build_run_status_sensor_context(
        sensor_name="run_failure_notice",
        dagster_event=result.get_run_failure_event(),
        dagster_instance=instance,
        dagster_run=result.dagster_run,
        resources={"notifications": notifications},
    )
    defs.resolve_sensor_def("run_failure_notice")(context)


def sent(httpserver) -> list[dict]:
    return [json.loads(request.data) for request, _ in httpserver.log]


def test_a_failed_run_is_one_message_with_job_days_error_and_link(
    defs, instance, httpserver_ipv4, notifications
) -> None:
    httpserver_ipv4.expect_request(f"/hook/{TOKEN}", method="POST").respond_with_data("ok")
    day = recent_days(1)[0]
    result = failed_run(defs, instance, day, notifications.webhook_url)

    evaluate_failure_sensor(defs, instance, result, notifications)
    evaluate_failure_sensor(defs, instance, result, notifications)  # the same failure looked at again

    (payload,) = sent(httpserver_ipv4)
    assert payload["text"].startswith(f"[spd] run failed: anomaly_check for {day}: alerts: ValueError")
    body = payload["blocks"][1]["text"]["text"]
    run_id = result.dagster_run.run_id
    assert f"Run {run_id} of anomaly_check failed" in body and "expected shop or none" in body
    assert f"{UI}/runs/{run_id}" in body
    assert TOKEN not in json.dumps(payload) and "level_adjust='***'" in body  # the secret is blanked
    assert payload["blocks"][2]["elements"][0]["text"] == f"notice id: failure-{run_id}"


def test_a_failure_notice_is_kept_while_the_channel_is_down_and_sent_once_on_the_next_tick(
    defs, instance, settings, httpserver_ipv4, notifications
) -> None:
    httpserver_ipv4.expect_ordered_request(f"/hook/{TOKEN}").respond_with_data("down", status=503)
    httpserver_ipv4.expect_ordered_request(f"/hook/{TOKEN}").respond_with_data("ok")
    result = failed_run(defs, instance, recent_days(1)[0], "nope")
    evaluate_failure_sensor(defs, instance, result, notifications)
    assert notifications.ledger().pending_count("webhook") == 1

    now = dt.datetime.now(dt.UTC)  # no data at all: nothing is stale, the tick only retries what is owed
    report = notify_stale(notifications, DayStore(settings.data_dir), now, 6, print)
    evaluate_failure_sensor(defs, instance, result, notifications)
    assert report.sent == {"log": 0, "webhook": 1} and report.pending["webhook"] == 0
    assert [response.status_code for _, response in httpserver_ipv4.log] == [503, 200]


def test_each_day_missing_after_the_due_hour_is_one_message(settings, httpserver_ipv4, notifications) -> None:
    httpserver_ipv4.expect_request(f"/hook/{TOKEN}").respond_with_data("ok")
    store = DayStore(settings.data_dir)
    today = dt.datetime.now(dt.UTC).date()
    store.write("daily_metrics", today - dt.timedelta(days=3), pl.DataFrame({"date": [today]}))
    morning = dt.datetime.combine(today, dt.time(7), dt.UTC)  # due at 06:00: yesterday is late

    assert notify_stale(notifications, store, morning, 6, print).sent["webhook"] == 2
    assert notify_stale(notifications, store, morning, 6, print).sent["webhook"] == 0  # told once
    assert notify_stale(notifications, store, morning + dt.timedelta(days=1), 6, print).sent["webhook"] == 1
    store.write("daily_metrics", today, pl.DataFrame({"date": [today]}))  # the pipeline caught up
    assert notify_stale(notifications, store, morning + dt.timedelta(days=1), 6, print).sent["webhook"] == 0

    texts = [p["text"] for p in sent(httpserver_ipv4)]
    missing = [today - dt.timedelta(days=k) for k in (2, 1, 0)]
    assert texts == [
        f"[spd] pipeline stale: daily_metrics for {d} missing (due 06:00 UTC on {d + dt.timedelta(days=1)}; "
        f"latest day {today - dt.timedelta(days=3)})"
        for d in missing
    ]
    assert all(f"{UI}/assets/daily_metrics" in p["blocks"][1]["text"]["text"] for p in sent(httpserver_ipv4))


def test_the_stale_sensor_ticks_on_the_project_definitions(defs, instance) -> None:
    resources = {"notifications": defs.resources["notifications"]}  # what the daemon hands the sensor
    context = dg.build_sensor_context(instance=instance, definitions=defs, resources=resources)
    result = defs.resolve_sensor_def("stale_pipeline_notice").evaluate_tick(context)
    assert result.run_requests == [] and "notices sent" in (result.skip_message or "")


def test_a_recheck_of_alerts_never_withdraws_a_notice(tmp_path) -> None:
    ledger = DeliveryLedger(default_state_url(str(tmp_path), {}))
    day = recent_days(1)[0]
    notice = failure_notice("run-1", "daily_pipeline", {"dagster/partition": str(day)}, "boom", None, day)
    ledger.record(notices_frame([notice]), ["webhook"])
    assert ledger.withdraw_absent([day], []) == 0  # a re-run of the day finds no such incident
    (owed,) = ledger.claim("webhook", "run-2").to_dicts()
    assert owed["incident_id"] == "failure-run-1" and owed["root"] == f"run failed: daily_pipeline for {day}"


def test_a_week_old_pipeline_is_told_for_the_last_lookback_days_only() -> None:
    today = dt.datetime.now(dt.UTC).date()
    noon = dt.datetime.combine(today, dt.time(12), dt.UTC)
    week_ago = today - dt.timedelta(days=7)
    days = [n["date"] for n in stale_notices(week_ago, noon, 6, lookback_days=3)]
    assert days == [today - dt.timedelta(days=k) for k in (4, 3, 2, 1)]
    assert stale_notices(today - dt.timedelta(days=1), noon, 6, 3) == []  # fresh
    assert stale_notices(None, noon, 6, 3) == []  # nothing ran yet: not stale

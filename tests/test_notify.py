"""Notifications against real servers on loopback: a webhook receiver and an SMTP server."""

from __future__ import annotations

import datetime as dt
import json
import socket
import threading
import time

import polars as pl
import pytest
from smtpdfix import SMTPDFix
from werkzeug import Request, Response

from spd_assets.core.channels import (
    DeliveryError,
    EmailNotifier,
    LogNotifier,
    WebhookNotifier,
    deliver,
    slack_payload,
)
from spd_assets.core.delivery_ledger import DeliveryLedger
from spd_assets.core.detect import alert_id
from spd_assets.core.incidents import as_messages
from spd_assets.core.notices import MESSAGES
from spd_assets.core.schema import ALERTS, INCIDENTS
from spd_assets.core.settings import SettingsError, load_settings
from spd_assets.core.state_store import default_state_url
from spd_assets.resources.notifications import notifications_from_env

TODAY = dt.date(2026, 3, 10)


def make_alerts(*specs: tuple[dt.date, str, str | None, str, float]) -> pl.DataFrame:
    """Alerts from (date, level, key, severity, revenue_at_risk); the key fills the level's column."""
    rows = []
    for day, level, key, severity, at_risk in specs:
        keys = {"sku": None, "category": None, "region": None}
        if level in ("sku", "region", "category"):
            keys[level] = key
        at = {"observed": 100.0, "baseline": 100.0 + at_risk, "pct_drop": at_risk / (100 + at_risk)}
        rows.append(
            {
                "alert_id": alert_id(day, level, *keys.values(), "weekday_mad"),
                "date": day, "level": level, **keys, "metric": "revenue", **at,
                "spread": 12.0, "robust_z": -6.5,
                "revenue_at_risk": at_risk, "severity": severity, "rule": "weekday_mad",
            }
        )  # fmt: skip
    return pl.DataFrame(rows, schema=ALERTS)


@pytest.fixture
def ledger(tmp_path) -> DeliveryLedger:
    return DeliveryLedger(default_state_url(str(tmp_path), {}))


@pytest.fixture
def smtp_server():
    with SMTPDFix("127.0.0.1") as server:
        yield server


def two_alerts() -> pl.DataFrame:
    yesterday = TODAY - dt.timedelta(days=1)
    return make_alerts(
        (yesterday, "region", "us-east", "critical", 3000.0), (yesterday, "sku", "SKU-0007", "info", 40.0)
    )


def test_webhook_receives_a_slack_compatible_payload(httpserver_ipv4, ledger) -> None:
    httpserver_ipv4.expect_request("/hook", method="POST").respond_with_data("ok")
    alerts = two_alerts()  # no incident: each alert stands alone, one message each
    report = deliver(alerts, [WebhookNotifier(httpserver_ipv4.url_for("/hook"))], ledger, TODAY, 3, "run-1")

    assert report.sent == {"webhook": 2} and report.pending == {"webhook": 0}
    (first, _), (second, _) = httpserver_ipv4.log
    assert first.headers["Content-Type"] == "application/json"
    payload = json.loads(first.data)  # most severe first
    assert payload["text"] == "[spd] 1 revenue drop (critical) on 2026-03-09: region us-east -97%"
    section = payload["blocks"][1]["text"]["text"]
    assert "region us-east" in section and "3,000 at risk" in section and "-97%" in section
    assert "sku SKU-0007" in json.loads(second.data)["text"]
    ids = [json.loads(r.data)["blocks"][2]["elements"][0]["text"] for r, _ in httpserver_ipv4.log]
    assert [i.removeprefix("incident id: ").split(" ")[0] for i in ids] == alerts["alert_id"].to_list()


def test_an_endpoint_that_fails_then_recovers_gets_each_alert_exactly_once(httpserver_ipv4, ledger) -> None:
    httpserver_ipv4.expect_ordered_request("/hook").respond_with_data("down", status=500)
    httpserver_ipv4.expect_ordered_request("/hook").respond_with_data("ok")
    httpserver_ipv4.expect_ordered_request("/hook").respond_with_data("ok")
    webhook = WebhookNotifier(httpserver_ipv4.url_for("/hook"))
    alerts = two_alerts()

    first = deliver(alerts, [webhook], ledger, TODAY, 3, "run-1")
    assert first.sent == {"webhook": 0} and first.pending == {"webhook": 2}
    assert first.errors == {"webhook": "webhook answered HTTP 500"}
    second = deliver(alerts.clear(), [webhook], ledger, TODAY, 3, "run-2")  # the next check, no new alerts
    assert second.sent == {"webhook": 2} and second.errors == {}
    third = deliver(alerts, [webhook], ledger, TODAY, 3, "run-3")  # a re-run with the same alerts
    assert third.sent == {"webhook": 0}

    assert len(httpserver_ipv4.log) == 3  # the refused message, then each message once
    delivered = [json.loads(r.data)["blocks"][2]["elements"][0]["text"] for r, _ in httpserver_ipv4.log[1:]]
    assert all(any(a in d for d in delivered) for a in alerts["alert_id"])
    table = ledger.table()
    assert table["status"].to_list() == ["delivered"] * 2 and table["attempts"].to_list() == [2, 2]


def test_a_slow_webhook_stays_pending_and_is_delivered_once_when_it_answers_again(
    httpserver_ipv4, ledger
) -> None:
    released = threading.Event()

    def stalled(request: Request) -> Response:  # holds the request far past the client's timeout
        released.wait(30)
        return Response("too late", status=503)

    httpserver_ipv4.expect_ordered_request("/hook").respond_with_handler(stalled)
    httpserver_ipv4.expect_ordered_request("/hook").respond_with_data("ok")
    webhook = WebhookNotifier(httpserver_ipv4.url_for("/hook"), timeout_s=0.3)
    alerts = two_alerts().head(1)
    try:
        started = time.monotonic()
        first = deliver(alerts, [webhook], ledger, TODAY, 3, "run-1")
        waited = time.monotonic() - started
    finally:
        released.set()
    assert waited < 5  # the check gave up after the timeout, not after the endpoint's 30 s
    assert first.sent == {"webhook": 0} and first.pending == {"webhook": 1}
    assert "timed out" in first.errors["webhook"]
    second = deliver(alerts.clear(), [webhook], ledger, TODAY, 3, "run-2")  # the next check
    third = deliver(alerts, [webhook], ledger, TODAY, 3, "run-3")
    assert second.sent == {"webhook": 1} and third.sent == {"webhook": 0}
    assert [response.status_code for _, response in httpserver_ipv4.log] == [503, 200]
    assert ledger.table()[["status", "attempts"]].rows() == [("delivered", 2)]


def test_the_webhook_timeout_comes_from_spd_webhook_timeout_s(tmp_path) -> None:
    env = {"SPD_DATA_DIR": str(tmp_path), "SPD_WEBHOOK_URL": "http://127.0.0.1:9/hook"}
    assert load_settings(env).webhook_timeout_s == 10
    settings = load_settings({**env, "SPD_WEBHOOK_TIMEOUT_S": "3"})
    resource = notifications_from_env(settings, {"SPD_WEBHOOK_URL": "http://127.0.0.1:9/hook"})
    assert resource.webhook_timeout_s == 3
    with pytest.raises(SettingsError, match="SPD_WEBHOOK_TIMEOUT_S"):
        load_settings({**env, "SPD_WEBHOOK_TIMEOUT_S": "0"})


def test_an_unreachable_webhook_keeps_the_alerts_for_later(ledger) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    report = deliver(
        two_alerts(), [WebhookNotifier(f"http://127.0.0.1:{port}/hook", timeout_s=2)], ledger, TODAY, 3, "r"
    )
    assert report.errors["webhook"].startswith("webhook unreachable")
    assert report.pending == {"webhook": 2}


def test_email_reaches_a_real_smtp_server(smtp_server, ledger) -> None:
    email = EmailNotifier(
        host=smtp_server.hostname,
        port=smtp_server.port,
        sender="spd@example.org",
        recipients=["ops@example.org"],
    )
    report = deliver(two_alerts(), [email], ledger, TODAY, 3, "run-1")
    assert report.sent == {"email": 2}
    message, other = smtp_server.messages  # one per incident (each alert stands alone here)
    assert message["To"] == "ops@example.org" and message["From"] == "spd@example.org"
    assert message["Subject"] == "[spd] 1 revenue drop (critical) on 2026-03-09: region us-east -97%"
    assert "CRITICAL 2026-03-09 region us-east" in message.get_payload()
    assert "sku SKU-0007" in other["Subject"] and "INFO 2026-03-09 sku SKU-0007" in other.get_payload()

    again = deliver(two_alerts(), [email], ledger, TODAY, 3, "run-2")
    assert again.sent == {"email": 0} and len(smtp_server.messages) == 2


def test_alerts_older_than_the_lookback_are_kept_but_not_sent(ledger) -> None:
    lines: list[str] = []
    old = make_alerts((TODAY - dt.timedelta(days=4), "total", None, "critical", 9000.0))
    recent = make_alerts((TODAY - dt.timedelta(days=3), "total", None, "critical", 9000.0))
    report = deliver(pl.concat([old, recent]), [LogNotifier(lines.append)], ledger, TODAY, 3, "run-1")
    assert report.skipped_old == 1 and report.sent == {"log": 1}
    assert len(lines) == 1 and recent["alert_id"][0] in lines[0] and old["alert_id"][0] not in lines[0]
    assert ledger.table()["alert_id"].to_list() == recent["alert_id"].to_list()


def test_each_channel_is_owed_separately(httpserver_ipv4, ledger) -> None:
    httpserver_ipv4.expect_request("/hook").respond_with_data("down", status=503)
    lines: list[str] = []
    notifiers = [LogNotifier(lines.append), WebhookNotifier(httpserver_ipv4.url_for("/hook"))]
    report = deliver(two_alerts(), notifiers, ledger, TODAY, 3, "run-1")
    assert report.sent == {"log": 2, "webhook": 0} and report.pending == {"log": 0, "webhook": 2}
    assert set(ledger.table().select("channel", "status").iter_rows()) == {
        ("log", "delivered"),
        ("webhook", "pending"),
    }


def test_a_claimed_alert_is_not_sent_by_a_second_check(ledger) -> None:
    alerts = two_alerts()
    ledger.record(alerts, ["webhook"])
    assert ledger.claim("webhook", "run-1").height == 2
    assert ledger.claim("webhook", "run-2").is_empty()  # run-1 is still sending them
    taken = ledger.claim("webhook", "run-3", stale_after_s=0)  # run-1 died: its claim is stale
    assert sorted(taken["incident_id"]) == sorted(alerts["alert_id"])  # alone: an incident of one
    assert taken.schema == pl.Schema(MESSAGES) and taken["date"][0] == TODAY - dt.timedelta(days=1)
    assert taken["notice"].is_null().all()  # incidents, not notices about the pipeline


def incident_of(alerts: pl.DataFrame, drivers: list[dict] | None = None) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``alerts`` as one incident rooted at the first of them (its level and keys)."""
    lead = alerts.row(0, named=True)
    incident = {
        **{k: lead[k] for k in ("date", "level", "sku", "category", "region", "observed", "baseline")},
        **{k: lead[k] for k in ("pct_drop", "revenue_at_risk", "severity")},
        "incident_id": "inc0000000000001", "root": "category toys", "alerts": alerts.height,
        "children": alerts.height - 1, "drivers": json.dumps(drivers or []), "episode_id": "ep1",
        "status": "open",
    }  # fmt: skip
    found = alerts.with_columns(incident_id=pl.lit("inc0000000000001"), is_root=pl.int_range(pl.len()) == 0)
    return found, pl.DataFrame([incident], schema=INCIDENTS)


def test_a_flood_inside_one_incident_is_one_message_naming_root_drop_and_drivers(
    httpserver_ipv4, ledger
) -> None:
    httpserver_ipv4.expect_request("/hook").respond_with_data("ok")
    day = TODAY - dt.timedelta(days=1)
    many = make_alerts(*[(day, "sku", f"SKU-{i:04d}", "warning", float(i)) for i in range(45)])
    drivers = [{"segment": "region us-east", "contribution": -1200.0, "share": 0.45},
               {"segment": "sku SKU-0003", "contribution": -300.0, "share": 0.11},
               {"segment": "region apac", "contribution": -100.0, "share": 0.04}]  # fmt: skip
    alerts, incidents = incident_of(many, drivers)
    hook = WebhookNotifier(httpserver_ipv4.url_for("/hook"))
    report = deliver(alerts, [hook], ledger, TODAY, 3, "run-1", incidents=incidents)
    assert report.sent == {"webhook": 1}
    ((request, _),) = httpserver_ipv4.log
    payload = json.loads(request.data)
    assert payload["text"].startswith(f"[spd] 1 revenue drop (warning) on {day}: category toys")
    body = payload["blocks"][1]["text"]["text"]
    assert "44 more alert(s) inside it" in body
    assert "Top drivers: region us-east -1,200 (45%), sku SKU-0003 -300 (11%), region apac -100 (4%)" in body
    assert payload["blocks"][2]["elements"][0]["text"] == "incident id: inc0000000000001 (45 alert(s))"


def test_an_ongoing_incident_is_not_sent_again(httpserver_ipv4, ledger) -> None:
    httpserver_ipv4.expect_request("/hook").respond_with_data("ok")
    hook = WebhookNotifier(httpserver_ipv4.url_for("/hook"))
    yesterday, today = (TODAY - dt.timedelta(days=k) for k in (2, 1))
    alerts, incidents = incident_of(make_alerts((yesterday, "category", "toys", "critical", 900.0)))
    assert deliver(alerts, [hook], ledger, TODAY, 3, "run-1", incidents=incidents).sent == {"webhook": 1}
    later = alerts.with_columns(date=pl.lit(today))
    lasting = incidents.with_columns(date=pl.lit(today), status=pl.lit("ongoing"))
    assert deliver(later, [hook], ledger, TODAY, 3, "run-2", incidents=lasting).sent == {"webhook": 0}
    # Even marked open again (a re-run), the same incident id is owed once.
    reopened = incidents.with_columns(date=pl.lit(today))
    assert deliver(later, [hook], ledger, TODAY, 3, "run-3", incidents=reopened).sent == {"webhook": 0}
    assert len(httpserver_ipv4.log) == 1


def test_a_ledger_row_recorded_before_incidents_is_still_sent(ledger) -> None:
    (row,) = two_alerts().head(1).with_columns(pl.col("date").cast(pl.String)).to_dicts()
    with ledger.store.begin() as db:  # the payload an earlier version recorded: one alert
        db.exec_driver_sql(
            "INSERT INTO deliveries (alert_id, channel, alert_date, alert, status, recorded_at)"
            " VALUES (?, 'log', ?, ?, 'pending', 0)",
            (row["alert_id"], row["date"], json.dumps(row)),
        )
    lines: list[str] = []
    report = deliver(two_alerts().clear(), [LogNotifier(lines.append)], ledger, TODAY, 3, "run-1")
    assert report.sent == {"log": 1} and "CRITICAL 2026-03-09 region us-east" in lines[0]


def test_payload_fits_slack_limits() -> None:
    day = TODAY - dt.timedelta(days=1)
    (message,) = as_messages(make_alerts((day, "sku", "SKU-" + "9" * 400, "info", 1.0))).to_dicts()
    payload = slack_payload({**message, "drivers": json.dumps([{"segment": "x" * 2000, "contribution": -1.0,
                                                                "share": 0.5}] * 3)})  # fmt: skip
    assert (
        len(payload["blocks"][1]["text"]["text"]) <= 3000 and len(payload["blocks"][0]["text"]["text"]) <= 150
    )


def test_email_never_sends_a_password_in_clear(smtp_server) -> None:
    email = EmailNotifier(
        host=smtp_server.hostname,
        port=smtp_server.port,
        sender="a@b",
        recipients=["c@d"],
        user="u",
        password="p",
    )
    (message,) = as_messages(two_alerts().head(1)).to_dicts()
    with pytest.raises(DeliveryError, match="offers no STARTTLS"):
        email.send(message)
    assert smtp_server.messages == []


def test_notification_settings_come_from_the_environment(settings) -> None:
    env = {"SPD_WEBHOOK_URL": "http://127.0.0.1:9/hook", "SPD_SMTP_HOST": "mail", "SPD_SMTP_TO": "a@b, c@d",
           "SPD_SMTP_PASSWORD": "secret", "SPD_NOTIFY_LOOKBACK_DAYS": "5"}  # fmt: skip
    resource = notifications_from_env(settings, env)
    assert resource.lookback_days == 5 and resource.state_url == default_state_url(settings.data_dir, {})
    assert type(resource.webhook_url).__name__ == "EnvVar"  # secrets are resolved at run time, not stored
    assert notifications_from_env(settings, {}).lookback_days == 3
    with pytest.raises(SettingsError, match="SPD_NOTIFY_LOOKBACK_DAYS"):
        notifications_from_env(settings, {"SPD_NOTIFY_LOOKBACK_DAYS": "soon"})
    with pytest.raises(SettingsError, match="SPD_SMTP_TO"):
        notifications_from_env(settings, {"SPD_SMTP_HOST": "mail"})


def test_an_incident_whose_alert_was_sent_before_incidents_is_not_sent_again(ledger) -> None:
    lines: list[str] = []
    alerts = make_alerts((TODAY - dt.timedelta(days=1), "category", "toys", "critical", 900.0))
    deliver(alerts, [LogNotifier(lines.append)], ledger, TODAY, 3, "old-version")  # the alert alone
    grouped, incidents = incident_of(alerts)  # a re-run groups it into an incident
    report = deliver(grouped, [LogNotifier(lines.append)], ledger, TODAY, 3, "run-2", incidents=incidents)
    assert report.sent == {"log": 0} and len(lines) == 1


def test_a_recovered_incident_is_one_message_only_when_asked(ledger) -> None:
    lines: list[str] = []
    alerts, incidents = incident_of(
        make_alerts((TODAY - dt.timedelta(days=3), "category", "toys", "warning", 90.0))
    )
    ended = incidents.with_columns(
        incident_id=pl.lit("rec0000000000001"),
        date=pl.lit(TODAY - dt.timedelta(days=1)),
        status=pl.lit("recovered"),
    )
    log = [LogNotifier(lines.append)]
    quiet = deliver(alerts.clear(), log, ledger, TODAY, 3, "run-1", recovered=ended, notify_recovery=False)
    assert quiet.sent == {"log": 0}
    told = deliver(alerts.clear(), log, ledger, TODAY, 3, "run-2", recovered=ended, notify_recovery=True)
    again = deliver(alerts.clear(), log, ledger, TODAY, 3, "run-3", recovered=ended, notify_recovery=True)
    assert told.sent == {"log": 1} and again.sent == {"log": 0}
    assert lines[0].startswith("[spd] revenue drop recovered by") and "category toys" in lines[0]

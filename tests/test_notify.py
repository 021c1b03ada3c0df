"""Notifications against real servers on loopback: a webhook receiver and an SMTP server."""

from __future__ import annotations

import datetime as dt
import json
import socket

import polars as pl
import pytest
from smtpdfix import SMTPDFix

from spd_assets.core.channels import (
    MAX_PER_MESSAGE,
    DeliveryError,
    EmailNotifier,
    LogNotifier,
    WebhookNotifier,
    deliver,
    slack_payload,
)
from spd_assets.core.delivery_ledger import DeliveryLedger
from spd_assets.core.detect import alert_id
from spd_assets.core.schema import ALERTS
from spd_assets.core.settings import SettingsError
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
    return DeliveryLedger(tmp_path / "deliveries.sqlite")


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
    httpserver_ipv4.expect_oneshot_request("/hook", method="POST").respond_with_data("ok")
    alerts = two_alerts()
    report = deliver(alerts, [WebhookNotifier(httpserver_ipv4.url_for("/hook"))], ledger, TODAY, 3, "run-1")

    assert report.sent == {"webhook": 2} and report.pending == {"webhook": 0}
    (request, _response), *_ = httpserver_ipv4.log
    assert request.headers["Content-Type"] == "application/json"
    payload = json.loads(request.data)
    assert payload["text"] == "[spd] 2 revenue drops (1 critical, 1 info) on 2026-03-09"
    section = payload["blocks"][1]["text"]["text"]
    assert section.index("region us-east") < section.index("sku SKU-0007")  # most severe first
    assert "3,000 at risk" in section and "-97%" in section
    assert set(payload["blocks"][2]["elements"][0]["text"].removeprefix("alert ids: ").split(", ")) == set(
        alerts["alert_id"]
    )


def test_an_endpoint_that_fails_then_recovers_gets_each_alert_exactly_once(httpserver_ipv4, ledger) -> None:
    httpserver_ipv4.expect_ordered_request("/hook").respond_with_data("down", status=500)
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

    assert len(httpserver_ipv4.log) == 2
    delivered = json.loads(httpserver_ipv4.log[1][0].data)["blocks"][2]["elements"][0]["text"]
    assert all(a in delivered for a in alerts["alert_id"])
    table = ledger.table()
    assert table["status"].to_list() == ["delivered"] * 2 and table["attempts"].to_list() == [2, 2]


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
    (message,) = smtp_server.messages
    assert message["To"] == "ops@example.org" and message["From"] == "spd@example.org"
    assert message["Subject"] == "[spd] 2 revenue drops (1 critical, 1 info) on 2026-03-09"
    body = message.get_payload()
    assert "CRITICAL 2026-03-09 region us-east" in body and "sku SKU-0007" in body

    again = deliver(two_alerts(), [email], ledger, TODAY, 3, "run-2")
    assert again.sent == {"email": 0} and len(smtp_server.messages) == 1


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
    assert sorted(taken["alert_id"]) == sorted(alerts["alert_id"])
    assert taken.schema == pl.Schema(ALERTS) and taken["date"][0] == TODAY - dt.timedelta(days=1)


def test_a_flood_is_split_into_messages_of_at_most_twenty(httpserver_ipv4, ledger) -> None:
    httpserver_ipv4.expect_request("/hook").respond_with_data("ok")
    day = TODAY - dt.timedelta(days=1)
    many = make_alerts(*[(day, "sku", f"SKU-{i:04d}", "warning", float(i)) for i in range(45)])
    report = deliver(many, [WebhookNotifier(httpserver_ipv4.url_for("/hook"))], ledger, TODAY, 3, "run-1")
    assert report.sent == {"webhook": 45}
    sizes = [
        len(json.loads(r.data)["blocks"][2]["elements"][0]["text"].split(", "))
        for r, _ in httpserver_ipv4.log
    ]
    assert sizes == [MAX_PER_MESSAGE, MAX_PER_MESSAGE, 5]


def test_payload_fits_slack_limits() -> None:
    day = TODAY - dt.timedelta(days=1)
    payload = slack_payload(make_alerts(*[(day, "sku", f"SKU-{i:04d}", "info", 1.0) for i in range(20)]))
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
    with pytest.raises(DeliveryError, match="offers no STARTTLS"):
        email.send(two_alerts())
    assert smtp_server.messages == []


def test_notification_settings_come_from_the_environment(settings) -> None:
    env = {"SPD_WEBHOOK_URL": "http://127.0.0.1:9/hook", "SPD_SMTP_HOST": "mail", "SPD_SMTP_TO": "a@b, c@d",
           "SPD_SMTP_PASSWORD": "secret", "SPD_NOTIFY_LOOKBACK_DAYS": "5"}  # fmt: skip
    resource = notifications_from_env(settings, env)
    assert resource.lookback_days == 5 and resource.ledger_path.startswith(settings.data_dir)
    assert type(resource.webhook_url).__name__ == "EnvVar"  # secrets are resolved at run time, not stored
    assert notifications_from_env(settings, {}).lookback_days == 3
    with pytest.raises(SettingsError, match="SPD_NOTIFY_LOOKBACK_DAYS"):
        notifications_from_env(settings, {"SPD_NOTIFY_LOOKBACK_DAYS": "soon"})
    with pytest.raises(SettingsError, match="SPD_SMTP_TO"):
        notifications_from_env(settings, {"SPD_SMTP_HOST": "mail"})

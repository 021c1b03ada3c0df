"""Notifications: one interface, three senders (log, Slack-compatible webhook, SMTP email).

``deliver`` is the whole policy: one message per alert episode, when it opens (its first alert day;
an alert from a file without episode columns counts as opening one), plus one when it recovers if
``notify_recovery`` is on. Those dated within the lookback are recorded in the delivery ledger for
every channel, then each channel is sent what the ledger says it has not had yet, so a
failed delivery is retried on the next check and a delivered alert is never sent again.
"""

from __future__ import annotations

import datetime as dt
import json
import smtplib
import ssl
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Protocol

import polars as pl

from .delivery_ledger import DeliveryLedger
from .episodes import with_alert_columns
from .schema import SEVERITIES, series_label, severity_rank

MAX_PER_MESSAGE = 20  # alerts per message: a Slack section holds 3,000 characters


class DeliveryError(RuntimeError):
    """A channel did not accept a message (endpoint down, timeout, non-2xx, SMTP refusal)."""


class Notifier(Protocol):
    """Sends one message about some alerts; raises DeliveryError if the channel did not take it."""

    channel: str

    def send(self, alerts: pl.DataFrame) -> None: ...


def ordered(alerts: pl.DataFrame) -> pl.DataFrame:
    """Most severe first, then most revenue at risk: the order people read alerts in."""
    return alerts.sort(
        severity_rank(), pl.col("revenue_at_risk"), "alert_id", descending=[False, True, False]
    )


def series_name(row: dict) -> str:
    """A person's name for the series of an alert row (schema.series_label)."""
    return series_label(row["level"], row.get("sku"), row.get("category"), row.get("region"))


def _test(row: dict) -> str:
    days = row.get("window_days")
    return f"{row['rule']} {days}d" if days and days > 1 else str(row["rule"])


def alert_line(row: dict) -> str:
    """One alert as one line of text (a recovery says which drop ended)."""
    if row.get("episode_status") == "recovered":
        return (
            f"RECOVERED {row['date']} {series_name(row)}: the drop seen from {row['first_seen']} "
            f"to its last alert has ended [{row['episode_id']}]"
        )
    return (
        f"{row['severity'].upper()} {row['date']} {series_name(row)}: {row['metric']} {row['observed']:,.0f} "
        f"vs {row['baseline']:,.0f} expected (-{row['pct_drop']:.0%}, z {row['robust_z']:.1f}), "
        f"{row['revenue_at_risk']:,.0f} at risk [{_test(row)} {row['alert_id']}]"
    )


def subject(alerts: pl.DataFrame) -> str:
    """'[spd] 3 revenue drops (1 critical) on 2026-11-20'; recoveries are named as such."""
    if (
        "episode_status" in alerts.columns
        and (alerts["episode_status"] == "recovered").fill_null(False).all()
    ):
        days = sorted(set(alerts["date"].to_list()))
        return f"[spd] {alerts.height} revenue drop(s) recovered by {days[-1]}"
    counts = alerts["severity"].value_counts()
    by = dict(zip(counts["severity"].to_list(), counts["count"].to_list(), strict=True))
    worst = ", ".join(f"{by[s]} {s}" for s in SEVERITIES if s in by)
    days = sorted(set(alerts["date"].to_list()))
    when = f"on {days[0]}" if len(days) == 1 else f"from {days[0]} to {days[-1]}"
    noun = "drop" if alerts.height == 1 else "drops"
    return f"[spd] {alerts.height} revenue {noun} ({worst}) {when}"


def slack_payload(alerts: pl.DataFrame) -> dict:
    """A Slack incoming-webhook message: plain ``text`` for notifications, ``blocks`` for the channel."""
    rows = ordered(alerts).to_dicts()
    lines = "\n".join(f"• {alert_line(r)}" for r in rows)
    return {
        "text": subject(alerts),
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": subject(alerts)[:150]}},
            {"type": "section", "text": {"type": "mrkdwn", "text": lines[:3000]}},
            {
                "type": "context",
                "elements": [
                    {"type": "mrkdwn", "text": "alert ids: " + ", ".join(r["alert_id"] for r in rows)}
                ],
            },
        ],
    }


@dataclass
class LogNotifier:
    """The default channel: alerts written to the run's log (works with no configuration)."""

    emit: Callable[[str], None]
    channel: str = "log"

    def send(self, alerts: pl.DataFrame) -> None:
        self.emit("\n".join([subject(alerts), *(alert_line(r) for r in ordered(alerts).to_dicts())]))


@dataclass
class WebhookNotifier:
    """POSTs a Slack-compatible JSON message to an incoming-webhook URL."""

    url: str
    timeout_s: float = 10.0
    channel: str = "webhook"

    def send(self, alerts: pl.DataFrame) -> None:
        body = json.dumps(slack_payload(alerts)).encode()
        request = urllib.request.Request(
            self.url, data=body, method="POST", headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                status = response.status
        except urllib.error.HTTPError as exc:
            raise DeliveryError(f"webhook answered HTTP {exc.code}") from None
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise DeliveryError(f"webhook unreachable: {reason}") from None
        if not 200 <= status < 300:
            raise DeliveryError(f"webhook answered HTTP {status}")


@dataclass
class EmailNotifier:
    """Plain-text email over SMTP: STARTTLS when offered; a login (user set) only ever over TLS."""

    host: str
    port: int
    sender: str
    recipients: Sequence[str]
    user: str | None = None
    password: str | None = None
    timeout_s: float = 10.0
    channel: str = "email"

    def message(self, alerts: pl.DataFrame) -> EmailMessage:
        msg = EmailMessage()
        msg["Subject"], msg["From"], msg["To"] = subject(alerts), self.sender, ", ".join(self.recipients)
        lines = [alert_line(r) for r in ordered(alerts).to_dicts()]
        msg.set_content("\n".join([subject(alerts), "", *lines, ""]))
        return msg

    def send(self, alerts: pl.DataFrame) -> None:
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout_s) as smtp:
                smtp.ehlo()
                if smtp.has_extn("starttls"):
                    smtp.starttls(context=ssl.create_default_context())
                    smtp.ehlo()
                elif self.user:
                    raise DeliveryError(
                        f"{self.host} offers no STARTTLS: refusing to send the password in clear"
                    )
                if self.user:
                    smtp.login(self.user, self.password or "")
                smtp.send_message(self.message(alerts))
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryError(f"email via {self.host}:{self.port} failed: {exc}") from None


@dataclass
class DeliveryReport:
    """What one check did per channel: alerts sent, still pending, and the last error."""

    sent: dict[str, int] = field(default_factory=dict)
    pending: dict[str, int] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    skipped_old: int = 0


def deliver(
    alerts: pl.DataFrame,
    notifiers: Sequence[Notifier],
    ledger: DeliveryLedger,
    today: dt.date,
    lookback_days: int,
    claimant: str,
    recovered: pl.DataFrame | None = None,
    notify_recovery: bool = False,
) -> DeliveryReport:
    """Record recent alerts for every channel, then send each channel what it has not had yet.

    Alerts dated before ``today - lookback_days`` are not recorded (a backfill of last year pages
    nobody). Earlier failures still pending are retried here, whatever their date.
    """
    report = DeliveryReport()
    alerts = with_alert_columns(alerts)
    opening = alerts.filter(pl.col("episode_status").is_null() | (pl.col("episode_status") == "open"))
    if notify_recovery and recovered is not None:
        opening = pl.concat([opening, with_alert_columns(recovered)])
    recent = opening.filter(pl.col("date") >= today - dt.timedelta(days=lookback_days))
    report.skipped_old = opening.height - recent.height
    ledger.record(recent, [n.channel for n in notifiers])
    for notifier in notifiers:
        batch = ordered(ledger.claim(notifier.channel, claimant))
        sent = 0
        for i in range(0, batch.height, MAX_PER_MESSAGE):
            ids = batch["alert_id"].slice(i, MAX_PER_MESSAGE).to_list()
            try:
                notifier.send(batch.slice(i, MAX_PER_MESSAGE))
            except DeliveryError as exc:  # the channel is down: keep this and the rest for the next check
                ledger.release(notifier.channel, batch["alert_id"].slice(i).to_list(), str(exc))
                report.errors[notifier.channel] = str(exc)
                break
            ledger.mark_delivered(notifier.channel, ids)
            sent += len(ids)
        report.sent[notifier.channel] = sent
        report.pending[notifier.channel] = ledger.pending_count(notifier.channel)
    return report

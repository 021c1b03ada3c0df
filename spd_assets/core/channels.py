"""Notifications: one interface, three senders (log, Slack-compatible webhook, SMTP email).

``deliver`` is the whole policy: one message per incident (``core.incidents``: a root and the
alerts it explains), when it opens (its first day; an alert from a file without incidents is an
incident of its own), plus one when it recovers if ``notify_recovery`` is on. Those dated within the
lookback are recorded in the delivery ledger for every channel, keyed by the incident's stable id,
then each channel is sent what the ledger says it has not had yet, so a failed delivery is retried
on the next check and an incident is never sent twice, however many days it lasts. ``notify`` does
the same for notices about the pipeline itself (``core.notices``: a failed run, a missing day).
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
from typing import Any, Protocol

import polars as pl

from .delivery_ledger import DeliveryLedger
from .events import expected_incidents
from .incidents import as_messages, incident_link
from .notices import notice_lines, notice_subject, notices_frame
from .schema import series_label, severity_rank

Message = dict[str, Any]  # one incident to notify, a row in the INCIDENTS layout


class DeliveryError(RuntimeError):
    """A channel did not accept a message (endpoint down, timeout, non-2xx, SMTP refusal)."""


class Notifier(Protocol):
    """Sends one message about one incident; raises DeliveryError if the channel did not take it."""

    channel: str

    def send(self, message: Message) -> None: ...


def ordered(frame: pl.DataFrame) -> pl.DataFrame:
    """Most severe first, then most revenue at risk: the order people read alerts and incidents in."""
    key = "alert_id" if "alert_id" in frame.columns else "incident_id"
    return frame.sort(severity_rank(), pl.col("revenue_at_risk"), key, descending=[False, True, False])


def series_name(row: dict) -> str:
    """A person's name for the series of an alert row (schema.series_label)."""
    return series_label(row["level"], row.get("sku"), row.get("category"), row.get("region"))


def _drivers(message: Message) -> list[dict]:
    return json.loads(message.get("drivers") or "[]")


def driver_text(message: Message) -> str:
    """'category toys -1,200 (45%), sku SKU-0003 -300 (11%)': the top drivers inside the root."""
    parts = []
    for d in _drivers(message):
        share = f" ({d['share']:.0%})" if d.get("share") is not None else ""
        parts.append(f"{d['segment']} {d['contribution']:+,.0f}{share}")
    return ", ".join(parts)


def message_line(message: Message) -> str:
    """The incident as one line: its root, the drop, the alerts folded in (a recovery says it ended)."""
    if message["status"] == "recovered":
        return f"RECOVERED {message['date']} {message['root']}: the drop has ended [{message['episode_id']}]"
    drop = f" (-{message['pct_drop']:.0%})" if message.get("pct_drop") is not None else ""
    inside = f", {message['children']} more alert(s) inside it" if message.get("children") else ""
    return (
        f"{message['severity'].upper()} {message['date']} {message['root']}: revenue "
        f"{message['observed']:,.0f} vs {message['baseline']:,.0f} expected{drop}, "
        f"{message['revenue_at_risk']:,.0f} at risk{inside} [incident {message['incident_id']}]"
    )


def subject(message: Message) -> str:
    """'[spd] 1 revenue drop (critical) on 2026-11-20: region us-east -97%'; a recovery says so."""
    if message.get("notice"):
        return notice_subject(message)
    if message["status"] == "recovered":
        return f"[spd] revenue drop recovered by {message['date']}: {message['root']}"
    drop = f" -{message['pct_drop']:.0%}" if message.get("pct_drop") is not None else ""
    return f"[spd] 1 revenue drop ({message['severity']}) on {message['date']}: {message['root']}{drop}"


def message_text(message: Message) -> list[str]:
    """The lines of a message: what dropped, then the top drivers inside it (a notice: its own lines)."""
    if message.get("notice"):
        return notice_lines(message)
    drivers = driver_text(message)
    lines = [message_line(message), *([f"Top drivers: {drivers}"] if drivers else [])]
    if message["status"] != "recovered":
        lines.append(f"Real or false alarm? {incident_link(message['incident_id'])}")
    return lines


def slack_payload(message: Message) -> dict:
    """A Slack incoming-webhook message: plain ``text`` for notifications, ``blocks`` for the channel."""
    body = "\n".join(f"• {line}" for line in message_text(message))
    ids = (
        f"notice id: {message['incident_id']}"
        if message.get("notice")
        else f"incident id: {message['incident_id']} ({message.get('alerts') or 1} alert(s))"
    )
    return {
        "text": subject(message),
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": subject(message)[:150]}},
            {"type": "section", "text": {"type": "mrkdwn", "text": body[:3000]}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": ids}]},
        ],
    }


@dataclass
class LogNotifier:
    """The default channel: alerts written to the run's log (works with no configuration)."""

    emit: Callable[[str], None]
    channel: str = "log"

    def send(self, message: Message) -> None:
        self.emit("\n".join([subject(message), *message_text(message)]))


@dataclass
class WebhookNotifier:
    """POSTs a Slack-compatible JSON message to an incoming-webhook URL."""

    url: str
    timeout_s: float = 10.0
    channel: str = "webhook"

    def send(self, message: Message) -> None:
        body = json.dumps(slack_payload(message)).encode()
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

    def message(self, message: Message) -> EmailMessage:
        msg = EmailMessage()
        msg["Subject"], msg["From"], msg["To"] = subject(message), self.sender, ", ".join(self.recipients)
        msg.set_content("\n".join([subject(message), "", *message_text(message), ""]))
        return msg

    def send(self, message: Message) -> None:
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
                smtp.send_message(self.message(message))
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryError(f"email via {self.host}:{self.port} failed: {exc}") from None


@dataclass
class DeliveryReport:
    """What one check did per channel: messages sent, still pending, and the last error."""

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
    incidents: pl.DataFrame | None = None,
) -> DeliveryReport:
    """Record the incidents that open among ``alerts`` for every channel, then send each channel
    what it has not had yet, one message per incident.

    ``incidents`` are the alerts' incidents (an alert without one stands alone); ``recovered`` are
    incidents (or alert episodes) that ended. Messages dated before ``today - lookback_days`` are
    not recorded (a backfill of last year pages nobody). Earlier failures still pending are retried
    here, whatever their date.
    """
    report = DeliveryReport()
    messages = as_messages(alerts, incidents)
    opening = messages.filter(pl.col("status").is_null() | (pl.col("status") == "open"))
    opening = opening.filter(~pl.col("incident_id").is_in(list(expected_incidents(alerts))))  # the calendar's
    # An alert recorded on its own before incidents existed was already owed: its incident is not.
    grouped = alerts.filter(pl.col("incident_id").is_not_null()) if "incident_id" in alerts.columns else None
    if grouped is not None and grouped.height:
        owed = ledger.known(grouped["alert_id"].to_list())
        told = grouped.filter(pl.col("alert_id").is_in(list(owed)))["incident_id"].implode()
        opening = opening.filter(~pl.col("incident_id").is_in(told))
    if notify_recovery and recovered is not None:
        opening = pl.concat([opening, as_messages(recovered)])
    recent = opening.filter(pl.col("date") >= today - dt.timedelta(days=lookback_days))
    report.skipped_old = opening.height - recent.height
    ledger.record(recent, [n.channel for n in notifiers])
    return _send_owed(notifiers, ledger, claimant, report)


def notify(
    notices: Sequence[Message], notifiers: Sequence[Notifier], ledger: DeliveryLedger, claimant: str
) -> DeliveryReport:
    """Record ``notices`` (``core.notices``) for every channel, then send each channel what it is
    owed (earlier notices and incidents still pending included): each notice once per channel."""
    ledger.record(notices_frame(notices), [n.channel for n in notifiers])
    return _send_owed(notifiers, ledger, claimant, DeliveryReport())


def _send_owed(
    notifiers: Sequence[Notifier], ledger: DeliveryLedger, claimant: str, report: DeliveryReport
) -> DeliveryReport:
    """Send each channel what the ledger says it is owed, in reading order; stop a channel at its
    first failure and keep the rest for the next check."""
    for notifier in notifiers:
        batch = ordered(ledger.claim(notifier.channel, claimant)).to_dicts()
        sent = 0
        for i, message in enumerate(batch):
            try:
                notifier.send(message)
            except DeliveryError as exc:  # the channel is down: keep this and the rest for the next check
                ledger.release(notifier.channel, [m["incident_id"] for m in batch[i:]], str(exc))
                report.errors[notifier.channel] = str(exc)
                break
            ledger.mark_delivered(notifier.channel, [message["incident_id"]])
            sent += 1
        report.sent[notifier.channel] = sent
        report.pending[notifier.channel] = ledger.pending_count(notifier.channel)
    return report

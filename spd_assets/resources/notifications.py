"""The notifications resource: which channels are on, read from SPD_* environment variables.

The log channel is always on; ``SPD_WEBHOOK_URL`` adds a Slack-compatible webhook; ``SPD_SMTP_HOST``
(with ``SPD_SMTP_TO``) adds email. Secrets (the webhook URL carries a token, the SMTP password) are
passed as ``EnvVar`` so they are resolved at run time and never shown in the Dagster UI; so is
``SPD_STATE_URL``, the state store holding the delivery ledger, since its URL may carry a password.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Mapping
from pathlib import Path

import dagster as dg
import sqlalchemy as sa

from ..core.channels import EmailNotifier, LogNotifier, Notifier, WebhookNotifier
from ..core.delivery_ledger import DeliveryLedger
from ..core.settings import Settings, SettingsError, env_int, env_port, load_servers
from ..core.state_store import STATE_URL_VAR, default_state_url

DEFAULT_LOOKBACK_DAYS = 3


class Notifications(dg.ConfigurableResource):
    """Channels for new alerts and the ledger that records what each channel has been sent."""

    state_url: str  # the state store's SQLAlchemy URL (an EnvVar when it comes from SPD_STATE_URL)
    previous_ledger: str | None = None  # the ledger file of the version before the store, imported once
    lookback_days: int = DEFAULT_LOOKBACK_DAYS
    webhook_url: str | None = None
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_from: str | None = None
    smtp_to: str | None = None  # comma-separated addresses
    timeout_s: float = 10.0  # SMTP
    webhook_timeout_s: float = 10.0  # SPD_WEBHOOK_TIMEOUT_S: a slower endpoint is retried on the next check
    notify_recovery: bool = False  # SPD_NOTIFY_RECOVERY=1: one more message when an alert episode ends
    fixed_today: str | None = None  # SPD_TODAY, for the lookback; None follows the clock
    dagster_url: str | None = None  # the Dagster UI, linked from a failed run's notice

    def today(self) -> dt.date:
        """The day the lookback counts back from."""
        return dt.date.fromisoformat(self.fixed_today) if self.fixed_today else dt.datetime.now(dt.UTC).date()

    def notifiers(self, log: Callable[[str], None]) -> list[Notifier]:
        """The log notifier, plus the webhook and email ones when configured."""
        found: list[Notifier] = [LogNotifier(emit=log)]
        if self.webhook_url:
            found.append(WebhookNotifier(url=self.webhook_url, timeout_s=self.webhook_timeout_s))
        if self.smtp_host:
            recipients = [a.strip() for a in (self.smtp_to or "").split(",") if a.strip()]
            found.append(
                EmailNotifier(
                    host=self.smtp_host,
                    port=self.smtp_port,
                    sender=self.smtp_from or self.smtp_user or "spd@localhost",
                    recipients=recipients,
                    user=self.smtp_user,
                    password=self.smtp_password,
                    timeout_s=self.timeout_s,
                )
            )
        return found

    def store_url(self) -> str:
        """The state store's URL; a resource read outside a run (the CLI) still holds the EnvVar."""
        url = self.state_url
        return (url.get_value() or "") if isinstance(url, dg.EnvVar) else url

    def ledger(self) -> DeliveryLedger:
        return DeliveryLedger(self.store_url(), self.previous_ledger)

    def secrets(self) -> list[str | None]:
        """The values no message may carry (blanked from error lines in notices)."""
        return [self.webhook_url, self.smtp_password, sa.engine.make_url(self.store_url()).password]


def previous_ledger_path(settings: Settings, env: Mapping[str, str]) -> str:
    """Where the version before the state store kept its ledger: ``<data_dir>/_deliveries/deliveries.sqlite``,
    or under DAGSTER_HOME for an object-store data directory."""
    if "://" not in settings.data_dir:
        return str(Path(settings.data_dir) / "_deliveries" / "deliveries.sqlite")
    home = env.get("DAGSTER_HOME", "").strip() or ".dagster"
    return str(Path(home).absolute() / "spd_deliveries.sqlite")


def _secret(env: Mapping[str, str], name: str) -> dg.EnvVar | None:
    return dg.EnvVar(name) if env.get(name, "").strip() else None


def notifications_from_env(settings: Settings, env: Mapping[str, str] | None = None) -> Notifications:
    """The resource from SPD_WEBHOOK_URL, SPD_SMTP_*, SPD_NOTIFY_LOOKBACK_DAYS, SPD_STATE_URL (and the
    settings' SPD_WEBHOOK_TIMEOUT_S); errors name the variable."""
    env = os.environ if env is None else env
    default_state_url(settings.data_dir, env)  # a bad SPD_STATE_URL fails here, named

    host = env.get("SPD_SMTP_HOST", "").strip() or None
    to = env.get("SPD_SMTP_TO", "").strip() or None
    if host and not to:
        raise SettingsError(
            "SPD_SMTP_HOST is set but SPD_SMTP_TO is empty: expected comma-separated addresses"
        )
    return Notifications(
        state_url=_secret(env, STATE_URL_VAR) or default_state_url(settings.data_dir, env),
        previous_ledger=previous_ledger_path(settings, env),
        lookback_days=env_int(env, "SPD_NOTIFY_LOOKBACK_DAYS", DEFAULT_LOOKBACK_DAYS, 0),
        webhook_url=_secret(env, "SPD_WEBHOOK_URL"),
        webhook_timeout_s=settings.webhook_timeout_s,
        smtp_host=host,
        smtp_port=env_port(env, "SPD_SMTP_PORT", 587),
        smtp_user=env.get("SPD_SMTP_USER", "").strip() or None,
        smtp_password=_secret(env, "SPD_SMTP_PASSWORD"),
        smtp_from=env.get("SPD_SMTP_FROM", "").strip() or None,
        smtp_to=to,
        notify_recovery=env.get("SPD_NOTIFY_RECOVERY", "").strip().lower() in ("1", "true", "yes", "on"),
        fixed_today=settings.today.isoformat() if settings.today else None,
        dagster_url=load_servers(env).dagster_url,
    )

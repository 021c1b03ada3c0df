"""The pipeline's own failures, notified through the alert channels: a failed run, a day gone missing.

- ``run_failure_notice`` (a public ``@dg.run_failure_sensor`` over every job of this code location,
  UI materializations and backfills included) sends one message per failed run: the job, the
  partitions, the error's first line and a link to the run.
- ``stale_pipeline_notice`` (a plain sensor) sends one message per day of `daily_metrics` still
  missing after SPD_FRESH_BY_HOUR; each tick also retries whatever a channel still owes.

Both record in the delivery ledger (``core.channels.notify``), keyed by the run or the day, so each
is told once per channel, and again later if a channel was down. The message text is built in core.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import dagster as dg

from ..core.channels import DeliveryReport, notify
from ..core.notices import failure_notice, stale_notices
from ..core.settings import Settings
from ..core.storage import DayStore
from ..resources.notifications import Notifications

STALE_INTERVAL_S = 600  # a missing day is looked for every ten minutes
WATCHED = "daily_metrics"


def _log_errors(report: DeliveryReport, log: Callable[[str], None]) -> None:
    for channel, error in report.errors.items():
        log(f"{channel}: delivery failed, kept for the next check: {error}")


def _error_line(context: dg.RunFailureSensorContext) -> str:
    """The innermost error of the first failed step (the user's exception), else the run's failure."""
    for event in context.get_step_failure_events():
        error = event.step_failure_data.error
        while error is not None and error.cause is not None:
            error = error.cause
        if error is not None:
            return f"{event.step_key}: {error.message}"
    return context.failure_event.message or "the run failed"


def notify_failure(context: dg.RunFailureSensorContext, notifications: Notifications) -> DeliveryReport:
    """Tell the channels about ``context``'s failed run (once: the ledger keys it by the run id)."""
    run = context.dagster_run
    url = f"{notifications.dagster_url}/runs/{run.run_id}" if notifications.dagster_url else None
    notice = failure_notice(
        run.run_id, run.job_name, run.tags, _error_line(context), url, notifications.today(),
        notifications.secrets(),
    )  # fmt: skip
    report = notify([notice], notifications.notifiers(context.log.error), notifications.ledger(), run.run_id)
    _log_errors(report, context.log.warning)
    return report


def notify_stale(
    notifications: Notifications,
    store: DayStore,
    now: dt.datetime,
    due_hour: int,
    log: Callable[[str], None],
) -> DeliveryReport:
    """Tell the channels about each day of `daily_metrics` missing at ``now`` (once per day)."""
    days = store.days(WATCHED)
    url = f"{notifications.dagster_url}/assets/{WATCHED}" if notifications.dagster_url else None
    notices = stale_notices(
        max(days) if days else None, now, due_hour, notifications.lookback_days, WATCHED, url
    )
    report = notify(notices, notifications.notifiers(log), notifications.ledger(), f"stale:{now.isoformat()}")
    _log_errors(report, log)
    return report


def build_failure_sensors(settings: Settings) -> list[dg.SensorDefinition]:
    """The two notice sensors, on by default."""

    @dg.run_failure_sensor(
        name="run_failure_notice",
        minimum_interval_seconds=settings.sensor_interval_s,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="One message per failed run (job, partitions, error, link), through the alert channels.",
    )
    def run_failure_notice(context: dg.RunFailureSensorContext, notifications: Notifications) -> None:
        notify_failure(context, notifications)

    @dg.sensor(
        name="stale_pipeline_notice",
        minimum_interval_seconds=STALE_INTERVAL_S,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=f"One message per day of {WATCHED} missing after SPD_FRESH_BY_HOUR (UTC).",
    )
    def stale_pipeline_notice(
        context: dg.SensorEvaluationContext, notifications: Notifications
    ) -> dg.SkipReason:
        clock = dt.datetime.now(dt.UTC)  # on SPD_TODAY's date when it is fixed
        now = dt.datetime.combine(settings.current_day(), clock.time(), dt.UTC)
        store = DayStore(settings.data_dir)
        report = notify_stale(notifications, store, now, settings.fresh_by_hour, context.log.warning)
        return dg.SkipReason(f"notices sent: {report.sent}; still owed: {report.pending}")

    return [run_failure_notice, stale_pipeline_notice]

"""Revenue drops per day at every level, the checks that show them in the Dagster UI, and notifications.

The asset reads ``daily_metrics`` for its days plus the HISTORY_DAYS before them (through a
partition mapping, so a daily run costs the same whatever the length of history), runs the
detectors of ``spd_assets.core.detect`` a month of days at a time, records new recent alerts in
the delivery ledger and sends them. Checks are partitioned (a Dagster preview feature): a run for
one day records its result on that day; a range run records one result for the range.
"""

import dataclasses
import datetime as dt
from collections import Counter
from typing import Any

import dagster as dg
import polars as pl
import pydantic
from pydantic import Field

from ..core import schema
from ..core.channels import deliver, ordered, series_name
from ..core.detect import HISTORY_DAYS, RULES, DetectionConfig, detect_drops
from ..core.episodes import assign_episodes, recoveries, with_alert_columns
from ..core.storage import DayBatches, DayFrames
from ..partitions import dated_asset, partition_days, with_history
from ..progress import Progress
from ..resources.notifications import Notifications

CHUNK_DAYS = 31  # output days detected together in a range run
TOP_ALERTS = 10  # alerts listed in the materialization metadata
CHECK_ALERTS = 50  # alerts listed in the failing check's metadata
HISTORY = dt.timedelta(days=HISTORY_DAYS)
EPISODE_LOOKBACK = 14  # days of stored alerts read to chain files written without episode columns
METRIC_COLUMNS = ("date", "level", "sku", "category", "region", "revenue", "orders")


def _run_config_class() -> type[dg.Config]:
    """The `alerts` run config, generated from DetectionConfig so each threshold is declared once."""
    fields: dict[str, Any] = {}
    for f in dataclasses.fields(DetectionConfig):
        default = list(f.default) if isinstance(f.default, tuple) else f.default
        kind = list[type(f.default[0])] if isinstance(f.default, tuple) else type(f.default)
        fields[f.name] = (kind, Field(default=default, description=f.metadata["doc"]))
    return pydantic.create_model("DetectionRunConfig", __base__=dg.Config, **fields)


DetectionRunConfig = _run_config_class()


def detection_config(config: dg.Config) -> DetectionConfig:
    """The core config from the run config; invalid combinations fail here, before anything is read."""
    values = config.model_dump()
    return DetectionConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})


def _alerts_markdown(alerts: pl.DataFrame, limit: int) -> str:
    """A Markdown table of the first ``limit`` alerts, most severe first."""
    rows = ordered(alerts).head(limit).to_dicts()
    lines = [
        "| severity | date | series | observed | baseline | drop | z | at risk | alert_id |",
        "|---" * 9 + "|",
    ]
    lines += [
        f"| {r['severity']} | {r['date']} | {series_name(r)} | {r['observed']:,.0f} | {r['baseline']:,.0f} "
        f"| {r['pct_drop']:.0%} | {r['robust_z']:.1f} | {r['revenue_at_risk']:,.0f} | {r['alert_id']} |"
        for r in rows
    ]
    if alerts.height > limit:
        lines.append(f"\n…and {alerts.height - limit} more.")
    return "\n".join(lines) if rows else "No alerts."


def _counts(alerts: pl.DataFrame, column: str) -> dict[str, int]:
    counts = alerts[column].value_counts(sort=True)
    return dict(zip(counts[column].to_list(), counts["count"].to_list(), strict=True))


def _why_quiet(reasons: Counter, config: DetectionConfig) -> str:
    """Why series-days could not alert, in words (short history in particular)."""
    parts = []
    if reasons.get("short_history"):
        parts.append(
            f"{reasons['short_history']:,} series-days had fewer than {config.min_weeks} same-weekday days "
            "of history in daily_metrics: no alert possible (materialize earlier days to check them)"
        )
    if reasons.get("low_volume"):
        parts.append(
            f"{reasons['low_volume']:,} series-days had fewer than {config.min_baseline_orders:g} orders "
            "on comparable days: too small to alert"
        )
    return "; ".join(parts) or "every series-day had enough history and volume"


def _previous_alerts(store: Any, first: dt.date, gap_days: int) -> pl.DataFrame:
    """Stored alerts of the days before ``first`` that an episode can continue from (any layout)."""
    days = [first - dt.timedelta(days=k) for k in range(EPISODE_LOOKBACK + gap_days + 1, 0, -1)]
    frames = [with_alert_columns(store.read("alerts", d)) for d in days if store.exists("alerts", d)]
    return pl.concat(frames) if frames else schema.empty(schema.ALERTS)


def schema_problems(day: dt.date, frame: pl.DataFrame) -> list[str]:
    """What is wrong with one day's alerts file (empty list: nothing)."""
    if dict(frame.schema) != schema.ALERTS:
        return [f"{day}: columns {dict(frame.schema)} differ from schema.ALERTS"]
    problems = []
    if frame.filter(pl.col("date") != day).height:
        problems.append(f"{day}: rows dated another day")
    if (
        frame["alert_id"].n_unique() != frame.height
        or frame.filter(pl.col("alert_id").str.len_chars() != 16).height
    ):
        problems.append(f"{day}: alert_id not unique or not 16 characters")
    if frame.filter(~pl.col("episode_status").is_in(["open", "ongoing"])).height:
        problems.append(f"{day}: episode_status outside open/ongoing")
    if frame.filter(~pl.col("severity").is_in(["info", "warning", "critical"])).height:
        problems.append(f"{day}: severity outside info/warning/critical")
    if frame.filter(~pl.col("level").is_in(list(schema.LEVELS)) | ~pl.col("rule").is_in(list(RULES))).height:
        problems.append(f"{day}: unknown level or rule")
    return problems


def build(daily: dg.DailyPartitionsDefinition) -> list:
    """The `alerts` asset and its checks on ``daily``."""

    @dated_asset(daily, "detection", ins={"daily_metrics": with_history(HISTORY_DAYS)})
    def alerts(
        context: dg.AssetExecutionContext,
        config: DetectionRunConfig,
        daily_metrics: DayFrames,
        notifications: Notifications,
    ) -> DayBatches:
        """Revenue drops per series per day (alert_id stable, so a re-run neither duplicates nor re-sends).

        A day without daily_metrics is unknown: it gets no alerts file, and history windows skip it.
        """
        detection = detection_config(config)
        days = partition_days(context)
        store, asset = daily_metrics.store, daily_metrics.asset
        found, reasons, wanted, read, no_data = [], Counter(), set(), set(), set()
        window: dict[dt.date, pl.DataFrame] = {}  # days read, kept while later chunks still need them
        progress = Progress("alerts", len(days), context.log.info, unit="alerts")
        for chunk, have in daily_metrics.windows(days, HISTORY_DAYS, CHUNK_DAYS):
            wanted.update(d for d in daily_metrics.days if chunk[0] - HISTORY <= d <= chunk[-1])
            no_data.update(d for d in chunk if d not in have)
            window = {d: f for d, f in window.items() if d in have}
            for d in have:
                if d not in window:
                    window[d] = store.read(asset, d).select(METRIC_COLUMNS)
            read.update(have)
            checked = [d for d in chunk if d in have]
            if checked:
                result = detect_drops(
                    pl.concat([window[d] for d in have]), checked, available=have, config=detection
                )
                found.append(result.alerts)
                reasons.update(result.reasons())
            progress.step(sum(f.height for f in found[-1:]) if checked else 0, days=len(chunk))
        out = pl.concat(found) if found else schema.empty(schema.ALERTS)
        previous = _previous_alerts(store, days[0], detection.episode_gap_days)
        out = assign_episodes(out, previous, detection.episode_gap_days)
        recovered = recoveries(pl.concat([previous, out]), days, detection.episode_gap_days)

        ledger = notifications.ledger()
        kept_ids = [*out["alert_id"], *recovered["alert_id"]]
        withdrawn = ledger.withdraw_absent(sorted(set(days) - no_data), kept_ids)
        if withdrawn:
            context.log.info(
                f"{withdrawn} alert(s) no longer hold on these days' data: withdrawn, never sent"
            )
        report = deliver(
            out,
            notifications.notifiers(context.log.warning),
            ledger,
            today=notifications.today(),
            lookback_days=notifications.lookback_days,
            claimant=context.run_id,
            recovered=recovered,
            notify_recovery=notifications.notify_recovery,
        )
        for channel, error in report.errors.items():
            context.log.warning(f"{channel}: delivery failed, kept for the next check: {error}")
        context.add_output_metadata(
            {
                "alerts": out.height,
                "by_severity": _counts(out, "severity"),
                "by_level": _counts(out, "level"),
                "episodes_opened": out.filter(episode_status="open").height,
                "episodes_recovered": recovered.height,
                "top_alerts": dg.MetadataValue.md(_alerts_markdown(out, TOP_ALERTS)),
                "series_days_by_status": dict(sorted(reasons.items())),
                "why_quiet": _why_quiet(reasons, detection),
                "history_days_read": f"{len(read)} of {len(wanted)} days of daily_metrics"
                + (f" from {min(wanted)}" if wanted else "")
                + " (a day not materialized counts as unknown, not as zero)",
                "withdrawn": withdrawn,
                "sent": report.sent,
                "pending_delivery": report.pending,
                "delivery_errors": report.errors,
                "not_sent_older_than_lookback": report.skipped_old,
            }
        )
        return DayBatches([out], schema.ALERTS, no_data=no_data)

    @dg.asset_check(
        asset=alerts, partitions_def=daily, description="WARN when the day(s) have revenue drops."
    )
    def no_revenue_drops(context: dg.AssetCheckExecutionContext, alerts: DayFrames) -> dg.AssetCheckResult:
        """Fails (severity WARN) with the alerts as metadata, so anomalies show in the UI without a file."""
        found = alerts.read(sorted(alerts.stored()))
        found = found if found.width else schema.empty(schema.ALERTS)
        return dg.AssetCheckResult(
            passed=found.is_empty(),
            severity=dg.AssetCheckSeverity.WARN,
            description=f"{found.height} revenue drop(s)" if found.height else "no revenue drops",
            metadata={
                "alerts": found.height,
                "by_severity": _counts(found, "severity"),
                "alerts_table": dg.MetadataValue.md(_alerts_markdown(found, CHECK_ALERTS)),
                "alert_rows": dg.MetadataValue.json(
                    ordered(found).head(CHECK_ALERTS).with_columns(pl.col(pl.Date).cast(pl.String)).to_dicts()
                ),
            },
        )

    @dg.asset_check(
        asset=alerts, partitions_def=daily, description="Columns, types, ids and values of alerts."
    )
    def alerts_schema(context: dg.AssetCheckExecutionContext, alerts: DayFrames) -> dg.AssetCheckResult:
        """Every day's file has exactly the ALERTS columns, unique 16-character ids and known values."""
        problems = [p for day in sorted(alerts.stored()) for p in schema_problems(day, alerts.read([day]))]
        return dg.AssetCheckResult(
            passed=not problems,
            metadata={
                "days": len(alerts.stored()),
                "problems": dg.MetadataValue.md("\n".join(f"- {p}" for p in problems)),
            },
        )

    return [alerts, no_revenue_drops, alerts_schema]

"""Revenue drops per day at every level, grouped into incidents, the checks that show them, notifications.

One step writes two assets, `alerts` and `incidents`. It reads ``daily_metrics`` for its days plus
the HISTORY_DAYS before them (through a partition mapping, so a daily run costs the same whatever
the length of history), runs the detectors of ``spd_assets.core.detect`` a month of days at a time,
groups each day's alerts into incidents (``core.incidents``, on the SKU x region baselines of that
same pass), records the incidents that open (and, if asked, those that end) in the delivery ledger
and sends one message per incident. Before grouping, the alerts pass the thresholds that feedback
raised for their series on their day and are labelled with the calendar events that expect them
(``assets.learning``); an expected incident is kept but not sent. Checks are partitioned (a Dagster
preview feature): a run for one day records its result on that day; a range run records one result
for the range.
"""

import dataclasses
import datetime as dt
import functools
from collections import Counter
from collections.abc import Iterator
from typing import Any

import dagster as dg
import polars as pl
import pydantic
from pydantic import Field

from ..core import incidents as grouping
from ..core import schema
from ..core.channels import deliver, ordered, series_name
from ..core.detect import HISTORY_DAYS, RULES, DetectionConfig, chunk_days, detect_drops
from ..core.detect_grid import compact_keys
from ..core.episodes import assign_episodes, with_alert_columns
from ..core.events import expected_by_incident, expected_incidents
from ..core.storage import DayBatches, DayFrames
from ..core.text import md_escape
from ..partitions import backfill_policy, dated_out, partition_days, with_history
from ..progress import Progress
from ..resources.notifications import Notifications
from .incidents import OUT as INCIDENTS_OUT
from .incidents import incidents_metadata, previous_incidents
from .learning import Learned

TOP_ALERTS = 10  # alerts listed in the materialization metadata
CHECK_ALERTS = 50  # alerts listed in the failing check's metadata
HISTORY = dt.timedelta(days=HISTORY_DAYS)
EPISODE_LOOKBACK = 14  # days of stored alerts read to chain files written without episode columns
METRIC_COLUMNS = ("date", "level", "sku", "category", "region", "revenue", "orders", "units")
ALERTS_KEY = dg.AssetKey("alerts")


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
        f"| {r['severity']} | {r['date']} | {md_escape(series_name(r))} | {r['observed']:,.0f} "
        f"| {r['baseline']:,.0f} | {r['pct_drop']:.0%} | {r['robust_z']:.1f} | {r['revenue_at_risk']:,.0f} "
        f"| {r['alert_id']} |"
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


def _lookback(first: dt.date, gap_days: int) -> list[dt.date]:
    return [first - dt.timedelta(days=k) for k in range(EPISODE_LOOKBACK + gap_days + 1, 0, -1)]


def read_alerts(frame: pl.DataFrame) -> pl.DataFrame:
    """A stored alerts file of any layout in the current one; one written before incidents has none
    (incident_id null: each alert stands alone, its own root)."""
    return schema.with_added(with_alert_columns(frame), schema.ALERTS_ADDED, schema.ALERTS)


def _previous_alerts(store: Any, days: list[dt.date]) -> pl.DataFrame:
    """Stored alerts of ``days`` that an episode or an incident can continue from (any layout)."""
    frames = [read_alerts(store.read("alerts", d)) for d in days if store.exists("alerts", d)]
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


def build(daily: dg.DailyPartitionsDefinition, policy: dg.BackfillPolicy | None = None) -> list:
    """The `alerts` asset and its checks on ``daily``."""

    @dg.multi_asset(
        name="alerts",
        outs={
            "alerts": dated_out(
                "detection", "Revenue drops per series per day (schema.ALERTS), each in an incident."
            ),
            "incidents": INCIDENTS_OUT,
        },
        ins={"daily_metrics": with_history(HISTORY_DAYS)},
        partitions_def=daily,
        backfill_policy=policy or backfill_policy(),
        can_subset=True,
    )
    def alerts(
        context: dg.AssetExecutionContext,
        config: DetectionRunConfig,
        daily_metrics: DayFrames,
        notifications: Notifications,
    ):
        """Revenue drops per series per day and their incidents (ids stable, so a re-run neither
        duplicates nor re-sends).

        A day without daily_metrics is unknown: it gets no alerts or incidents file, and history
        windows skip it.
        """
        detection = detection_config(config)
        gap = detection.episode_gap_days
        days = partition_days(context)
        store, asset = daily_metrics.store, daily_metrics.asset
        found, grouped, reasons, wanted, read, no_data = [], [], Counter(), set(), set(), set()
        window: dict[dt.date, pl.DataFrame] = {}  # days read, kept while later chunks still need them
        previous = _previous_alerts(store, _lookback(days[0], gap))
        prior = previous
        progress = Progress("alerts", len(days), context.log.info, unit="alerts")
        learned = Learned.read(notifications.store_url())
        size = daily_metrics.newest_rows()  # sets how many days are checked together
        for chunk, have in daily_metrics.windows(days, HISTORY_DAYS, functools.partial(chunk_days, size)):
            wanted.update(d for d in daily_metrics.days if chunk[0] - HISTORY <= d <= chunk[-1])
            no_data.update(d for d in chunk if d not in have)
            window = {d: f for d, f in window.items() if d in have}
            for d in have:
                if d not in window:
                    day = store.read(asset, d, list(METRIC_COLUMNS))  # dashboard-only roll-up left
                    # out here, a day at a time: detect_drops would copy the whole window to drop it
                    window[d] = compact_keys(day.filter(pl.col("level").is_in(schema.LEVELS)))
            read.update(have)
            checked = [d for d in chunk if d in have]
            if checked:
                history = pl.concat([window[d] for d in have])
                result = detect_drops(
                    history,
                    checked,
                    have,
                    detection,
                    keep=grouping.LEAF_ROWS,
                    columns=grouping.LEAF_COLUMNS,
                    compact=True,
                )
                chained = assign_episodes(learned.apply(result.alerts, checked), prior, gap)
                alert_days = chained["date"].unique().implode()
                leaves = grouping.leaves(result.scored.filter(pl.col("date").is_in(alert_days)))
                rows = grouping.cell_rows([window[d] for d in have])
                chained, day_incidents = grouping.group(chained, leaves, rows)
                chained = expected_by_incident(chained)
                found.append(chained)
                grouped.append(day_incidents)
                prior = pl.concat([prior, chained])
                reasons.update(result.reasons())
                del history, result, leaves, rows  # not held while the next chunk is scored
            progress.step(sum(f.height for f in found[-1:]) if checked else 0, days=len(chunk))
        out = pl.concat(found) if found else schema.empty(schema.ALERTS)
        incidents = pl.concat(grouped) if grouped else schema.empty(schema.INCIDENTS)
        seen = pl.concat([previous_incidents(store, _lookback(days[0], gap)), incidents])
        unexpected = pl.concat([previous, out]).filter(pl.col("expected").is_null())  # none told, none ended
        recovered = grouping.recovered(unexpected, seen, days, gap)

        ledger = notifications.ledger()
        quiet = expected_incidents(out)  # kept, labelled, never sent (a pending one is withdrawn)
        kept_ids = [*incidents.filter(~pl.col("incident_id").is_in(list(quiet)))["incident_id"]]
        kept_ids += recovered["incident_id"].to_list()
        withdrawn = ledger.withdraw_absent(sorted(set(days) - no_data), kept_ids)
        if withdrawn:
            context.log.info(
                f"{withdrawn} notification(s) no longer hold on these days' data: withdrawn, never sent"
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
            incidents=incidents,
        )
        for channel, error in report.errors.items():
            context.log.warning(f"{channel}: delivery failed, kept for the next check: {error}")
        selected = context.selected_output_names
        if "alerts" in selected:
            metadata = {
                "alerts": out.height,
                "incidents": incidents.height,
                "by_severity": _counts(out, "severity"),
                "by_level": _counts(out, "level"),
                "episodes_opened": out.filter(episode_status="open").height,
                "incidents_recovered": recovered.height,
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
                **learned.metadata(out, days),
            }
            batches = DayBatches([out], schema.ALERTS, no_data=no_data)
            yield dg.Output(batches, output_name="alerts", metadata=metadata)
        if "incidents" in selected:
            batches = DayBatches([incidents], schema.INCIDENTS, no_data=no_data)
            meta = incidents_metadata(incidents, out.height)
            yield dg.Output(batches, output_name="incidents", metadata=meta)

    specs = [
        dg.AssetCheckSpec(
            "no_revenue_drops",
            asset=ALERTS_KEY,
            partitions_def=daily,
            description="WARN when the day(s) have revenue drops.",
        ),
        dg.AssetCheckSpec(
            "alerts_schema",
            asset=ALERTS_KEY,
            partitions_def=daily,
            description="Columns, types, ids and values of alerts.",
        ),
    ]

    @dg.multi_asset_check(
        name="alerts_checks", specs=specs, can_subset=True, ins={"alerts": dg.AssetIn(ALERTS_KEY)}
    )
    def alerts_checks(
        context: dg.AssetCheckExecutionContext, alerts: DayFrames
    ) -> Iterator[dg.AssetCheckResult]:
        """The selected checks of the run's alerts files, read once for both (one step, not two)."""
        selected = {key.name for key in context.selected_asset_check_keys}
        days = {day: alerts.read([day]) for day in sorted(alerts.stored())}
        if "no_revenue_drops" in selected:
            yield no_revenue_drops(list(days.values()))
        if "alerts_schema" in selected:
            yield alerts_schema(days)

    return [alerts, alerts_checks]


def no_revenue_drops(frames: list[pl.DataFrame]) -> dg.AssetCheckResult:
    """Fails (severity WARN) with the alerts as metadata, so anomalies show in the UI without a file."""
    found = pl.concat(frames, how="diagonal_relaxed") if frames else schema.empty(schema.ALERTS)
    found = found if found.width else schema.empty(schema.ALERTS)
    return dg.AssetCheckResult(
        check_name="no_revenue_drops",
        asset_key=ALERTS_KEY,
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


def alerts_schema(days: dict[dt.date, pl.DataFrame]) -> dg.AssetCheckResult:
    """Every day's file has exactly the ALERTS columns, unique 16-character ids and known values."""
    problems = [p for day, frame in days.items() for p in schema_problems(day, frame)]
    return dg.AssetCheckResult(
        check_name="alerts_schema",
        asset_key=ALERTS_KEY,
        passed=not problems,
        metadata={
            "days": len(days),
            "problems": dg.MetadataValue.md("\n".join(f"- {p}" for p in problems)),
        },
    )

"""The anomaly sensor on a real instance: each new daily_metrics partition is checked once."""

from __future__ import annotations

import datetime as dt

import dagster as dg
from conftest import materialize_range, recent_days

from spd_assets.core.storage import DayStore
from spd_assets.partitions import RANGE_END, RANGE_START
from spd_assets.sensors import anomaly


def metrics(
    defs: dg.Definitions, instance: dg.DagsterInstance, first: dt.date, last: dt.date | None = None
) -> None:
    materialize_range(defs, instance, first, last or first, job_name="metrics_only")


def tick(defs: dg.Definitions, instance: dg.DagsterInstance, cursor: str | None) -> dg.SensorResult:
    context = dg.build_sensor_context(instance=instance, cursor=cursor, definitions=defs)
    return defs.resolve_sensor_def("anomaly_sensor").evaluate_tick(context)


def partitions(request: dg.RunRequest) -> list[str]:
    if request.partition_key:
        return [request.partition_key]
    start, end = (dt.date.fromisoformat(request.tags[t]) for t in (RANGE_START, RANGE_END))
    return [(start + dt.timedelta(days=k)).isoformat() for k in range((end - start).days + 1)]


def test_two_new_partitions_are_requested_once_each(sensor_defs, instance) -> None:
    d1, _, d3 = recent_days(3)
    metrics(sensor_defs, instance, d1)
    metrics(sensor_defs, instance, d3)

    first = tick(sensor_defs, instance, None)
    assert sorted(r.partition_key for r in first.run_requests) == [d1.isoformat(), d3.isoformat()]
    assert all(r.run_key.startswith(f"alerts:{r.partition_key}:") for r in first.run_requests)
    assert tick(sensor_defs, instance, first.cursor).run_requests == []
    # A tick repeated from the old cursor (a crash before it was saved) asks for the same run keys,
    # which Dagster drops as already requested.
    again = tick(sensor_defs, instance, None)
    assert [r.run_key for r in again.run_requests] == [r.run_key for r in first.run_requests]


def test_consecutive_partitions_are_one_range_run_and_never_checked_twice(
    settings, sensor_defs, instance
) -> None:
    days = recent_days(5)
    metrics(sensor_defs, instance, days[0], days[-1])

    result = tick(sensor_defs, instance, None)
    (request,) = result.run_requests
    assert partitions(request) == [d.isoformat() for d in days] and request.partition_key is None

    run = sensor_defs.resolve_job_def("anomaly_check").execute_in_process(
        instance=instance, tags=request.tags
    )
    assert run.success
    assert DayStore(settings.data_dir).days("alerts") == days
    # Even with the cursor lost, the days are not checked again: their alerts are newer.
    assert tick(sensor_defs, instance, None).run_requests == []


def test_a_backfill_that_materialized_alerts_itself_is_not_checked_again(sensor_defs, instance) -> None:
    days = recent_days(4)
    materialize_range(sensor_defs, instance, days[0], days[-1], job_name="daily_pipeline")
    result = tick(sensor_defs, instance, None)
    assert result.run_requests == []
    latest = instance.fetch_materializations(dg.AssetKey("daily_metrics"), limit=1).records[0]
    assert result.cursor == str(latest.storage_id)


def test_a_day_materialized_again_later_is_checked_again(sensor_defs, instance) -> None:
    days = recent_days(3)
    metrics(sensor_defs, instance, days[0], days[-1])
    first = tick(sensor_defs, instance, None)
    sensor_defs.resolve_job_def("anomaly_check").execute_in_process(
        instance=instance, tags=first.run_requests[0].tags
    )
    metrics(sensor_defs, instance, days[1])
    (request,) = tick(sensor_defs, instance, first.cursor).run_requests
    assert request.partition_key == days[1].isoformat()
    assert request.run_key not in {r.run_key for r in first.run_requests}


def test_a_long_backlog_is_read_in_pages_across_ticks_without_gaps(
    sensor_defs, instance, monkeypatch
) -> None:
    monkeypatch.setattr(anomaly, "PAGE", 2)
    monkeypatch.setattr(anomaly, "MAX_RECORDS", 3)  # so one tick stops after two pages (4 records)
    dates = recent_days(5)
    days = [d.isoformat() for d in dates]
    metrics(sensor_defs, instance, dates[0], dates[-1])

    first = tick(sensor_defs, instance, None)
    second = tick(sensor_defs, instance, first.cursor)
    covered = [k for result in (first, second) for r in result.run_requests for k in partitions(r)]
    assert covered == days  # every day once, in order
    assert [partitions(r) for r in first.run_requests] == [days[:4]]
    assert tick(sensor_defs, instance, second.cursor).run_requests == []

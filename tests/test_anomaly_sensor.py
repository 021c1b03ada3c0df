"""The anomaly sensor on a real instance: each new daily_metrics partition is checked once."""

from __future__ import annotations

import datetime as dt
import time

import dagster as dg
import pytest
from conftest import materialize_range, recent_days
from dagster._core.events import DagsterEvent, DagsterEventType, StepMaterializationData
from dagster._core.execution.backfill import BulkActionStatus, PartitionBackfill

from spd_assets.core.storage import DayStore
from spd_assets.partitions import daily
from spd_assets.sensors import anomaly
from spd_assets.sensors.anomaly import anomaly_sensor

RANGE_START, RANGE_END = "dagster/asset_partition_range_start", "dagster/asset_partition_range_end"
METRICS_ONLY = dg.define_asset_job(
    "metrics_only",
    selection=dg.AssetSelection.assets("daily_metrics").upstream() - dg.AssetSelection.assets("catalog"),
    partitions_def=daily,
)


@pytest.fixture
def sensor_defs(defs) -> dg.Definitions:
    """The project's definitions plus a job that stops at daily_metrics (no alerts)."""
    return dg.Definitions.merge(defs, dg.Definitions(jobs=[METRICS_ONLY]))


def metrics(
    defs: dg.Definitions, instance: dg.DagsterInstance, first: dt.date, last: dt.date | None = None
) -> None:
    materialize_range(defs, instance, first, last or first, job_name="metrics_only")


def tick(defs: dg.Definitions, instance: dg.DagsterInstance, cursor: str | None) -> dg.SensorResult:
    context = dg.build_sensor_context(instance=instance, cursor=cursor, definitions=defs)
    return defs.resolve_sensor_def(anomaly_sensor.name).evaluate_tick(context)


def partitions(request: dg.RunRequest) -> list[str]:
    if request.partition_key:
        return [request.partition_key]
    start, end = request.tags[RANGE_START], request.tags[RANGE_END]
    return [k for k in daily.get_partition_keys() if start <= k <= end]


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


def test_it_waits_for_the_run_that_materialized_the_day_to_finish(sensor_defs, instance) -> None:
    day = recent_days(1)[0].isoformat()
    run = instance.create_run_for_job(
        sensor_defs.resolve_job_def("daily_pipeline"), status=dg.DagsterRunStatus.STARTED
    )
    event = DagsterEvent(
        event_type_value=DagsterEventType.ASSET_MATERIALIZATION.value,
        job_name=run.job_name,
        event_specific_data=StepMaterializationData(dg.AssetMaterialization("daily_metrics", partition=day)),
    )
    instance.report_dagster_event(event, run_id=run.run_id)

    waiting = tick(sensor_defs, instance, None)
    assert waiting.run_requests == [] and waiting.cursor is None  # alerts may still come in this run
    instance.report_run_failed(instance.get_run_by_id(run.run_id))  # it never got to alerts
    (request,) = tick(sensor_defs, instance, None).run_requests
    assert request.partition_key == day


def test_it_waits_for_an_asset_backfill_that_will_materialize_alerts_itself(sensor_defs, instance) -> None:
    days = recent_days(2)
    backfill = PartitionBackfill.from_asset_partitions(
        backfill_id="bf1",
        asset_graph=sensor_defs.resolve_asset_graph(),
        partition_names=[d.isoformat() for d in days],
        asset_selection=[dg.AssetKey("daily_metrics"), dg.AssetKey("alerts")],
        backfill_timestamp=time.time(),
        tags={},
        dynamic_partitions_store=instance,
        all_partitions=False,
        title=None,
        description=None,
        run_config=None,
    )
    instance.add_backfill(backfill)
    dg.materialize(
        [sensor_defs.get_assets_def("catalog")], instance=instance, resources=sensor_defs.resources
    )
    sensor_defs.resolve_job_def("metrics_only").execute_in_process(
        instance=instance,
        tags={RANGE_START: days[0].isoformat(), RANGE_END: days[-1].isoformat(), "dagster/backfill": "bf1"},
    )
    # The backfill's metrics run is done, but its alerts run has not come yet: no check of our own.
    assert tick(sensor_defs, instance, None).run_requests == []
    instance.update_backfill(backfill.with_status(BulkActionStatus.COMPLETED_FAILED))  # alerts never came
    (request,) = tick(sensor_defs, instance, None).run_requests
    assert partitions(request) == [d.isoformat() for d in days]


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

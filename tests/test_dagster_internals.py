"""The one module that uses Dagster without a public API (spd_assets/dagster_internals.py), and the
anomaly sensor's waiting, which relies on it. Only this test builds Dagster's internal objects."""

from __future__ import annotations

import time

import dagster as dg
from conftest import recent_days
from dagster._core.events import DagsterEvent, DagsterEventType, StepMaterializationData
from dagster._core.execution.backfill import BulkActionStatus, PartitionBackfill
from test_anomaly_sensor import partitions, tick

from spd_assets.dagster_internals import backfill_going
from spd_assets.partitions import RANGE_END, RANGE_START


def _backfill(instance, defs, backfill_id: str, keys: list[str], assets: list[str]) -> PartitionBackfill:
    """An asset backfill as the UI would create it (not launched: no daemon here)."""
    return PartitionBackfill.from_asset_partitions(
        backfill_id=backfill_id,
        asset_graph=defs.resolve_asset_graph(),
        partition_names=keys,
        asset_selection=[dg.AssetKey(a) for a in assets],
        backfill_timestamp=time.time(),
        tags={},
        dynamic_partitions_store=instance,
        all_partitions=False,
        title=None,
        description=None,
        run_config=None,
    )


def test_backfill_going_reads_status_and_targets(instance, defs) -> None:
    assert backfill_going(instance, "no-such-backfill") == (False, set())
    backfill = _backfill(instance, defs, "bf0", [recent_days(1)[0].isoformat()], ["alerts"])
    instance.add_backfill(backfill)
    assert backfill_going(instance, "bf0") == (True, {dg.AssetKey("alerts")})
    instance.update_backfill(backfill.with_status(BulkActionStatus.COMPLETED_SUCCESS))
    assert backfill_going(instance, "bf0")[0] is False


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
    backfill = _backfill(
        instance, sensor_defs, "bf1", [d.isoformat() for d in days], ["daily_metrics", "alerts"]
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

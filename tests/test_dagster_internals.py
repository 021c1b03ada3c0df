"""The one module that uses Dagster without a public API (spd_assets/dagster_internals.py), and the
anomaly sensor's waiting, which relies on it (the states it waits on are made by that module too)."""

from __future__ import annotations

import dagster as dg
from conftest import recent_days
from test_anomaly_sensor import partitions, tick

from spd_assets.dagster_internals import (
    add_asset_backfill,
    backfill_going,
    end_backfill,
    report_materialization_in_run,
)
from spd_assets.partitions import RANGE_END, RANGE_START


def test_backfill_going_reads_status_and_targets(instance, defs) -> None:
    assert backfill_going(instance, "no-such-backfill") == (False, set())
    add_asset_backfill(
        instance, defs.resolve_asset_graph(), "bf0", [recent_days(1)[0].isoformat()], ["alerts"]
    )
    assert backfill_going(instance, "bf0") == (True, {dg.AssetKey("alerts")})
    end_backfill(instance, "bf0", failed=False)
    assert backfill_going(instance, "bf0")[0] is False


def test_it_waits_for_the_run_that_materialized_the_day_to_finish(sensor_defs, instance) -> None:
    day = recent_days(1)[0].isoformat()
    run = instance.create_run_for_job(
        sensor_defs.resolve_job_def("daily_pipeline"), status=dg.DagsterRunStatus.STARTED
    )
    report_materialization_in_run(instance, run, "daily_metrics", day)

    waiting = tick(sensor_defs, instance, None)
    assert waiting.run_requests == [] and waiting.cursor is None  # alerts may still come in this run
    instance.report_run_failed(instance.get_run_by_id(run.run_id))  # it never got to alerts
    (request,) = tick(sensor_defs, instance, None).run_requests
    assert request.partition_key == day


def test_it_waits_for_an_asset_backfill_that_will_materialize_alerts_itself(sensor_defs, instance) -> None:
    days = recent_days(2)
    keys = [d.isoformat() for d in days]
    add_asset_backfill(instance, sensor_defs.resolve_asset_graph(), "bf1", keys, ["daily_metrics", "alerts"])
    dg.materialize(
        [sensor_defs.get_assets_def("catalog")], instance=instance, resources=sensor_defs.resources
    )
    sensor_defs.resolve_job_def("metrics_only").execute_in_process(
        instance=instance,
        tags={RANGE_START: days[0].isoformat(), RANGE_END: days[-1].isoformat(), "dagster/backfill": "bf1"},
    )
    # The backfill's metrics run is done, but its alerts run has not come yet: no check of our own.
    assert tick(sensor_defs, instance, None).run_requests == []
    end_backfill(instance, "bf1", failed=True)  # alerts never came
    (request,) = tick(sensor_defs, instance, None).run_requests
    assert partitions(request) == [d.isoformat() for d in days]

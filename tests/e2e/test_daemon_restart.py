"""The daemon killed between sensor ticks and started again: no partition skipped, none checked twice.

`dagster dev` (webserver + daemon) is SIGKILLed as a group after the anomaly sensor has checked the
first day; two more days get their `daily_metrics` while it is down; a new `dagster dev` on the same
DAGSTER_HOME must check exactly those two, once each, and never the first again.
"""

from __future__ import annotations

import os
import signal
import time

import dagster as dg
import pytest
from conftest import SMALL, recent_days
from harness import dagster_dev, dagster_ready, runs, wait_until

from spd_assets.core.settings import load_settings
from spd_assets.definitions import build_defs
from spd_assets.launcher import DAGSTER_YAML
from spd_assets.partitions import range_tags

pytestmark = pytest.mark.slow
ALERTS = dg.AssetKey("alerts")


def metrics_only(defs: dg.Definitions) -> dg.JobDefinition:
    """The dated assets up to daily_metrics, so the anomaly sensor has the check to do."""
    job = dg.define_asset_job(
        "metrics_only",
        selection=dg.AssetSelection.assets("daily_metrics").upstream() - dg.AssetSelection.assets("catalog"),
        partitions_def=defs.get_assets_def("daily_metrics").partitions_def,
    )
    return dg.Definitions.merge(defs, dg.Definitions(jobs=[job])).resolve_job_def("metrics_only")


def checks(instance: dg.DagsterInstance, day) -> int:
    """How many times `alerts` was materialized for ``day``."""
    found = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=ALERTS, asset_partitions=[day.isoformat()]), limit=100
    )
    return len(found.records)


def test_a_daemon_killed_between_ticks_checks_every_day_once(tmp_path) -> None:
    data_dir, home = str(tmp_path / "data"), tmp_path / "dagster_home"
    env = {**os.environ, "SPD_DATA_DIR": data_dir, "SPD_ORDERS_PER_DAY": "800",
           "SPD_SKUS": str(SMALL["n_skus"]), "SPD_SEED": "7", "SPD_SENSOR_INTERVAL_S": "3"}  # fmt: skip
    home.mkdir()
    (home / "dagster.yaml").write_text(DAGSTER_YAML)
    defs = build_defs(load_settings({k: v for k, v in env.items() if k.startswith("SPD_")}))
    job = metrics_only(defs)
    first, later = recent_days(3)[0], recent_days(3)[1:]

    with dg.DagsterInstance.from_config(str(home)) as instance:
        dg.materialize([defs.get_assets_def("catalog")], instance=instance, resources=defs.resources)
        assert job.execute_in_process(instance=instance, tags=range_tags(first, first)).success
        server = dagster_ready(dagster_dev(home, env, tmp_path))
        try:
            wait_until("the first day checked", lambda: checks(instance, first) == 1, 120, 1, server)
            wait_until("no run going", lambda: not runs(server.url, ["STARTED", "STARTING", "QUEUED"]), 60)
        finally:
            os.killpg(server.proc.pid, signal.SIGKILL)  # no clean shutdown: the daemon just dies
            server.proc.wait(timeout=10)

        assert job.execute_in_process(instance=instance, tags=range_tags(later[0], later[-1])).success
        assert [checks(instance, d) for d in later] == [0, 0]  # nobody checks while the daemon is down

        (tmp_path / "again").mkdir()
        server = dagster_ready(dagster_dev(home, env, tmp_path / "again"))
        try:
            wait_until(
                "both days checked after the restart",
                lambda: all(checks(instance, d) == 1 for d in later),
                180,
                1,
                server,
            )
            wait_until("no run going", lambda: not runs(server.url, ["STARTED", "STARTING", "QUEUED"]), 60)
            time.sleep(4 * 3)  # four more sensor ticks: nothing may be checked again
            failed = runs(server.url, ["FAILURE"])
        finally:
            server.stop()
        assert [checks(instance, d) for d in [first, *later]] == [1, 1, 1]
        assert failed == []

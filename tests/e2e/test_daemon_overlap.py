"""Two overlapping backfills launched from the UI (GraphQL) and run by the daemon: kept apart by the
per-day locks, both finish, and every day ends as one run over the whole range leaves it.

The test holds the shared days' locks itself while both backfills start, so that both runs reach the
lock and wait (seen in their run logs), whatever the machine's speed; then it lets go.
"""

from __future__ import annotations

import dagster as dg
import pytest
from cli_runs import cli_shop, day_files, reference, wait_for
from conftest import recent_days
from harness import backfill_done, dagster_dev, dagster_ready, launch_backfill, runs

from spd_assets.core.day_locks import hold_days, lock_dir
from spd_assets.launcher import DAGSTER_YAML

pytestmark = pytest.mark.slow
DAYS = recent_days(6)
WAITING = "waiting for the test"
SELECTOR = {"repositoryLocationName": "spd", "repositoryName": "__repository__"}


def launch(url: str, days) -> str:
    params = {
        "selector": {"partitionSetName": "daily_pipeline_partition_set", "repositorySelector": SELECTOR},
        "partitionNames": [d.isoformat() for d in days],
        "fromFailure": False,
    }
    return launch_backfill(url, params)


def waiting_runs(home: str) -> set[str]:
    """Runs whose log says they wait for the test's locks."""
    with dg.DagsterInstance.from_config(home) as instance:
        records = instance.get_run_records(dg.RunsFilter(job_name="daily_pipeline"))
        return {
            r.dagster_run.run_id
            for r in records
            if any(WAITING in (e.user_message or "") for e in instance.all_logs(r.dagster_run.run_id))
        }


def test_two_overlapping_ui_backfills_wait_for_each_other_and_end_as_one_run(tmp_path) -> None:
    env = {**cli_shop(tmp_path), "SPD_SENSOR_INTERVAL_S": "3"}
    home, data = env["DAGSTER_HOME"], tmp_path / "data"
    (tmp_path / "home" / "dagster.yaml").write_text(DAGSTER_YAML)
    server = dagster_ready(dagster_dev(tmp_path / "home", env, tmp_path))
    try:
        with hold_days(lock_dir(str(data)), DAYS[2:], "the test"):
            ids = [launch(server.url, DAYS), launch(server.url, DAYS[2:])]
            wait_for(
                "both backfills' runs to wait for the test", lambda: len(waiting_runs(home)) >= 2, 180, 1
            )
        for backfill_id in ids:
            wait_for(
                f"backfill {backfill_id}",
                lambda b=backfill_id: backfill_done(server.url, b) in ("COMPLETED", "COMPLETED_SUCCESS"),
                240,
                2,
            )
        assert runs(server.url, ["FAILURE"]) == []
    finally:
        server.stop()
    assert day_files(data) == day_files(reference(DAYS[0], DAYS[-1]))

"""Backfills the way users start them from the UI, through the real daemon (`dagster dev`: webserver
+ daemon): both kinds, sent over GraphQL exactly as the UI sends them (a partition-set backfill of
`daily_pipeline`, and an asset-selection backfill of the dated assets, which Dagster extends through
the rolling windows' partition mappings), on an empty then partial history: every day of each range
ends with metrics and alerts, and no run fails. (A history dropped into the landing folder:
test_daemon_landing.py.) Each step waits with a deadline, polling the webserver and the data directory.
"""

from __future__ import annotations

import os

import dagster as dg
import pytest
from conftest import SMALL
from harness import (
    ago,
    backfill_done,
    dagster_dev,
    dagster_ready,
    days_between,
    failed,
    launch_backfill,
    missing,
    wait_until,
)

from spd_assets.core.settings import load_settings
from spd_assets.core.storage import DayStore
from spd_assets.definitions import build_defs
from spd_assets.launcher import DAGSTER_YAML

pytestmark = pytest.mark.slow
DATED = ["orders", "quarantine", "injected_drops", "daily_agg", "daily_metrics", "alerts"]


def backfill(url: str, params: dict, timeout_s: float = 240) -> None:
    backfill_id = launch_backfill(url, params)
    status = wait_until(f"backfill {backfill_id}", lambda: backfill_done(url, backfill_id), timeout_s, 2)
    assert status in ("COMPLETED", "COMPLETED_SUCCESS"), status


@pytest.fixture
def synthetic(tmp_path):
    data_dir = str(tmp_path / "data")
    env = {**os.environ, "SPD_DATA_DIR": data_dir, "SPD_ORDERS_PER_DAY": "800",
           "SPD_SKUS": str(SMALL["n_skus"]), "SPD_SEED": "7", "SPD_SENSOR_INTERVAL_S": "5"}  # fmt: skip
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(DAGSTER_YAML)
    settings = load_settings({k: v for k, v in env.items() if k.startswith("SPD_")})
    defs = build_defs(settings)
    with dg.DagsterInstance.from_config(str(home)) as instance:  # one initialisation, before the daemon
        dg.materialize([defs.get_assets_def("catalog")], instance=instance, resources=defs.resources)
    server = dagster_dev(home, env, tmp_path)
    try:
        yield data_dir, dagster_ready(server)
    finally:
        server.stop()


def test_both_ui_backfills_check_every_day_of_their_range(synthetic) -> None:
    data_dir, dagster = synthetic
    asset_days = days_between(ago(30), ago(21))
    backfill(
        dagster.url,
        {
            "assetSelection": [{"path": [a]} for a in DATED],
            "partitionNames": [d.isoformat() for d in asset_days],
            "fromFailure": False,
        },
    )
    assert missing(data_dir, asset_days) == []
    assert failed(dagster.url) == []

    job_days = days_between(ago(44), ago(35))  # a partial history now: the days after exist
    selector = {"repositoryLocationName": "spd", "repositoryName": "__repository__"}
    backfill(
        dagster.url,
        {
            "selector": {"partitionSetName": "daily_pipeline_partition_set", "repositorySelector": selector},
            "partitionNames": [d.isoformat() for d in job_days],
            "fromFailure": False,
        },
    )
    assert missing(data_dir, job_days) == []
    assert failed(dagster.url) == []
    # days the window mappings added beyond the ranges have no data: no file, never zero sales
    assert not DayStore(data_dir).exists("daily_metrics", ago(20))

"""A calendar edit's check through a real Dagster webserver: one `anomaly_check` run per span of the
days it covers (a range run for more than one day), and no run for a day daily_metrics lacks.

The webserver runs without a daemon, so the submitted runs wait in its queue: the test reads what was
submitted (job and partition tags) and nothing executes."""

from __future__ import annotations

import datetime as dt
import os

import polars as pl
import pytest
from conftest import recent_days
from dashboard_data import write_days
from harness import BIN, dagster_ready, free_port, launch, runs

from spd_assets.core.run_tags import tag_span
from spd_assets.core.schema import DAILY_METRICS
from spd_dashboard.check_panel import launch_days

pytestmark = pytest.mark.slow


def test_a_calendar_change_launches_one_run_per_span_of_the_days_it_covers(tmp_path, monkeypatch):
    days = recent_days(6)
    data_dir = str(tmp_path / "data")
    write_days(data_dir, "daily_metrics", pl.DataFrame(schema=DAILY_METRICS), days)  # what a check can run on
    port = free_port()
    (tmp_path / "home").mkdir()
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path / "home"), "SPD_DATA_DIR": data_dir}
    cmd = [str(BIN / "dagster-webserver"), "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)]
    server = launch("webserver", cmd, env, port, "/server_info", tmp_path)
    try:
        dagster_ready(server)
        monkeypatch.setenv("SPD_DAGSTER_HOST", "127.0.0.1")
        monkeypatch.setenv("SPD_DAGSTER_PORT", str(port))
        later = days[-1] + dt.timedelta(days=1)
        done = launch_days(data_dir, [days[3], days[0], days[1], days[2], later])
        assert done.error is None and done.unchecked == [later]
        assert [(a, b) for a, b, _ in done.runs] == [(days[0], days[3])]
        done = launch_days(data_dir, [days[1], days[4]])
        assert [(a, b) for a, b, _ in done.runs] == [(days[1], days[1]), (days[4], days[4])]

        submitted = {
            r["runId"]: tag_span({t["key"]: t["value"] for t in r["tags"]}) for r in runs(server.url, [])
        }
        want = [(days[0], days[3]), (days[1], days[1]), (days[4], days[4])]
        assert sorted(submitted.values()) == sorted((str(a), str(b)) for a, b in want)
    finally:
        server.stop()

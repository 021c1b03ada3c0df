"""The README's read-only Dagster UI for a shared screen: it shows the runs, and refuses what launches one."""

from __future__ import annotations

import datetime as dt
import os

import pytest
from harness import BIN, dagster_ready, free_port, graphql, launch

from spd_dashboard.dagster_runs import DagsterUI, LaunchError, launch_check


def test_a_read_only_webserver_lists_runs_but_refuses_the_dashboards_launch(tmp_path):
    port = free_port()
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path / "home"), "SPD_DATA_DIR": str(tmp_path / "data")}
    (tmp_path / "home").mkdir()
    cmd = [
        str(BIN / "dagster-webserver"),
        "-w",
        "workspace.yaml",
        "--read-only",
        "-h",
        "127.0.0.1",
        "-p",
        str(port),
    ]
    server = launch("webserver-ro", cmd, env, port, "/server_info", tmp_path)
    try:
        dagster_ready(server)
        assert "runsOrError" in graphql(server.url, "{ runsOrError { __typename } }")
        with pytest.raises(LaunchError, match=r"refused to launch .*Authorization failed.*is read-only"):
            launch_check(DagsterUI("127.0.0.1", port), dt.date.today() - dt.timedelta(days=2))
    finally:
        server.stop()

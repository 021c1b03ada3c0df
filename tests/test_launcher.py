"""`make run` end to end: demo history, both servers on loopback, Ctrl-C leaves nothing running."""

import datetime as dt
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from spd_assets.core.storage import DayStore


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def _group_alive(pgid: int) -> bool:
    """A process of the group still runs (zombies waiting for init to reap them do not count)."""
    table = subprocess.run(["ps", "-e", "-o", "pgid=,stat="], capture_output=True, text=True).stdout
    return any(
        int(g) == pgid and not stat.startswith("Z") for g, stat in (ln.split() for ln in table.splitlines())
    )


@pytest.mark.slow
def test_spd_run_serves_both_on_loopback_reuses_history_and_stops_on_ctrl_c(tmp_path):
    start = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=4)
    ui, dash = _free_port(), _free_port()
    env = {
        **os.environ,
        "SPD_DATA_DIR": str(tmp_path / "data"),
        "DAGSTER_HOME": str(tmp_path / "home"),
        "SPD_START_DATE": start.isoformat(),
        "SPD_ORDERS_PER_DAY": "500",
        "SPD_SKUS": "20",
        "SPD_DAGSTER_PORT": str(ui),
        "SPD_DASHBOARD_PORT": str(dash),
    }
    spd = str(Path(sys.executable).parent / "spd")

    def start_and_stop() -> str:
        proc = subprocess.Popen(
            [spd, "run"],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        lines: list[str] = []
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            lines.append(line)
            if "Press Ctrl-C" in line or (not line and proc.poll() is not None):
                break
        out = "".join(lines)
        assert f"Dagster UI  http://127.0.0.1:{ui}" in out, out[-3000:]
        assert f"Dashboard   http://127.0.0.1:{dash}" in out
        assert _listening(ui) and _listening(dash)
        children = subprocess.run(
            ["pgrep", "-s", str(proc.pid)], capture_output=True, text=True
        ).stdout.split()
        servers = [
            int(p)
            for p in subprocess.run(
                ["pgrep", "-P", str(proc.pid)], capture_output=True, text=True
            ).stdout.split()
        ]
        assert len(servers) == 2 and children
        os.kill(proc.pid, signal.SIGINT)  # what Ctrl-C sends
        proc.communicate(timeout=60)
        assert proc.returncode == 0
        assert not any(_group_alive(pgid) for pgid in servers)  # code servers and daemon included
        assert not _listening(ui) and not _listening(dash)
        return out

    first = start_and_stop()
    assert "materializing a demo history: 4 days" in first
    assert "demo history ready" in first
    assert len(DayStore(str(tmp_path / "data")).days("daily_metrics")) == 4
    assert (tmp_path / "home" / "dagster.yaml").exists()
    second = start_and_stop()
    assert "reusing the history" in second and "materializing" not in second

"""Faults a run must survive: a SIGKILL mid-backfill, a failed write, a damaged Parquet file.

Real processes and files: the backfill is a `dagster job execute` process killed with SIGKILL, the
damaged file is a truncated day file, and the dashboard is the real app through Streamlit's AppTest.
"""

from __future__ import annotations

import errno
import shutil
import signal
import socket
import subprocess
from dataclasses import replace
from pathlib import Path

import dagster as dg
import pyarrow.parquet as pq
from cli_runs import DAGSTER, SHOP, cli_shop, day_files, finish, reference, start_range, wait_for
from conftest import materialize_range, recent_days
from streamlit.testing.v1 import AppTest

from spd_assets.core import storage
from spd_assets.core.storage import DayStore, rebuild_command
from spd_assets.definitions import build_defs

DAYS = recent_days(6)  # the same days as tests/test_day_locks.py: one reference run serves both
APP = Path(__file__).parents[1] / "spd_dashboard" / "app.py"


def _failure_message(result: dg.ExecuteInProcessResult) -> str:
    """The error messages of every failed step, with their causes (one text)."""
    texts = []
    for event in result.all_events:
        if event.is_step_failure:
            error = event.step_failure_data.error
            while error is not None:
                texts.append(error.message)
                error = error.cause
    return "\n".join(texts)


def _damaged_copy(root: Path) -> tuple[Path, Path]:
    """A copy of the reference history whose last daily_agg day is cut in half: (data dir, that file)."""
    data = root / "data"
    shutil.copytree(reference(DAYS[0], DAYS[-1]), data)
    damaged = Path(DayStore(str(data)).path("daily_agg", DAYS[-1]))
    content = damaged.read_bytes()
    damaged.write_bytes(content[: len(content) // 2])
    return data, damaged


def test_a_sigkilled_cli_backfill_leaves_readable_files_and_a_rerun_matches_an_uninterrupted_run(
    tmp_path,
) -> None:
    env = cli_shop(tmp_path / "cli")
    data, log = Path(env["SPD_DATA_DIR"]), tmp_path / "run.log"
    store = DayStore(str(data))
    proc = start_range(env, DAYS[0], DAYS[-1], log)
    wait_for("the first day file", lambda: store.days("orders") or proc.poll() is not None, every_s=0.01)
    proc.send_signal(signal.SIGKILL)
    assert proc.wait(timeout=30) == -signal.SIGKILL, "the run ended before it could be killed"
    assert store.days("daily_metrics") != DAYS  # killed in the middle
    for path in data.rglob("*.parquet"):
        pq.read_table(path)  # whatever exists is whole: files are renamed into place
    rerun = start_range(env, DAYS[0], DAYS[-1], log)  # the dead run's day locks went with it
    finish(rerun, log)
    assert day_files(data) == day_files(reference(DAYS[0], DAYS[-1]))


def test_a_write_error_fails_the_run_naming_the_path_and_keeps_the_previous_file(
    settings, instance, monkeypatch
) -> None:
    defs, day = build_defs(settings), DAYS[-1]
    assert materialize_range(defs, instance, day, day).success
    store = DayStore(settings.data_dir)
    before = day_files(Path(settings.data_dir))

    write_table = storage.pq.ParquetWriter.write_table

    def disk_full(self, table, **kwargs) -> None:
        write_table(self, table, **kwargs)  # half a file: a header and a row group, no footer
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(storage.pq.ParquetWriter, "write_table", disk_full)
    result = defs.resolve_job_def("daily_pipeline").execute_in_process(
        instance=instance, partition_key=day.isoformat(), raise_on_error=False
    )
    assert not result.success
    message = _failure_message(result)
    assert "No space left on device" in message
    written = ("injected_drops", "quarantine", "orders")  # the first steps of the run
    assert any(f"could not write {store.uri(a, day)}" in message for a in written), message
    assert day_files(Path(settings.data_dir)) == before  # every previous version intact
    assert not list(Path(settings.data_dir).rglob("*.tmp-*"))  # and no half-written file left


def test_a_truncated_day_file_fails_the_downstream_asset_naming_it_and_its_rebuild_command(
    settings, instance, tmp_path
) -> None:
    data, damaged = _damaged_copy(tmp_path)
    defs = build_defs(replace(settings, data_dir=str(data), **SHOP))
    result = defs.resolve_job_def("daily_pipeline").execute_in_process(
        instance=instance,
        partition_key=DAYS[-1].isoformat(),
        asset_selection=[dg.AssetKey("daily_metrics")],
        raise_on_error=False,
    )
    message = _failure_message(result)
    command = rebuild_command("daily_agg", DAYS[-1])
    assert str(damaged) in message and f"`{command}`" in message, message
    env = {**cli_shop(tmp_path / "cli"), "SPD_DATA_DIR": str(data)}
    program, *args = command.split()  # the command as given, with this environment's dagster
    out = subprocess.run([DAGSTER, *args], env=env, capture_output=True, text=True, timeout=300)
    assert program == "dagster" and out.returncode == 0, out.stderr[-3000:]
    assert damaged.read_bytes() == Path(reference(DAYS[0], DAYS[-1]), damaged.relative_to(data)).read_bytes()


def test_the_dashboard_shows_a_damaged_file_and_its_rebuild_command_instead_of_a_stack_trace(
    tmp_path, monkeypatch
) -> None:
    data, damaged = _damaged_copy(tmp_path)
    with socket.socket() as sock:  # Dagster "down": a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    monkeypatch.setenv("SPD_DATA_DIR", str(data))
    monkeypatch.setenv("SPD_DAGSTER_PORT", str(closed))
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    assert not at.exception, [e.message for e in at.exception]
    shown = " ".join(e.value for e in at.error)
    assert str(damaged) in shown and rebuild_command("daily_agg", DAYS[-1]) in shown, shown

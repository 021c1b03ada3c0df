"""Per-day write locks: runs on the same days are kept apart, runs on other days are not.

The CLI tests start real `dagster job execute` processes; the test itself holds some days' locks
(through the same module) so that who waits for whom is decided by the test, never by timing.
"""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path

import dagster as dg
import pytest
from cli_runs import cli_shop, day_files, finish, reference, start_range, wait_for
from conftest import recent_days

from spd_assets.core.day_locks import hold_days, lock_dir, run_days
from spd_assets.core.run_tags import RANGE_END, RANGE_START, range_tags

WAITING = "waiting for"


def test_run_days_are_the_partition_or_every_day_of_the_range() -> None:
    first, last = dt.date(2025, 2, 27), dt.date(2025, 3, 2)
    assert run_days(range_tags(first, last)) == [first + dt.timedelta(days=k) for k in range(4)]
    assert run_days({"dagster/partition": "2025-03-01"}) == [dt.date(2025, 3, 1)]
    assert run_days({"spd/trigger": "x"}) == []  # the catalog run writes no day


def test_a_holder_of_an_overlapping_range_waits_and_is_told_for_whom(tmp_path) -> None:
    days = recent_days(5)
    said: list[str] = []
    got = threading.Event()

    def second() -> None:
        with hold_days(tmp_path, days[2:], "run B", on_wait=said.append):
            got.set()

    with hold_days(tmp_path, days[:3], "run A"):
        thread = threading.Thread(target=second)
        thread.start()
        wait_for("the second holder to wait", lambda: said)
        assert not got.is_set()
        assert said[0].startswith(f"waiting for run A to finish writing {days[2]}")
    thread.join(timeout=30)
    assert got.is_set()


def test_disjoint_days_are_held_at_once(tmp_path) -> None:
    days = recent_days(6)
    with hold_days(tmp_path, days[:3], "run A"), hold_days(tmp_path, days[3:], "run B", on_wait=_never):
        pass


def _never(message: str) -> None:
    raise AssertionError(f"disjoint days waited: {message}")


DAYS = recent_days(6)


@pytest.fixture(scope="module")
def shop(tmp_path_factory) -> dict[str, str]:
    """One CLI environment for both tests (each leaves every day complete for the other)."""
    return cli_shop(tmp_path_factory.mktemp("cli"))


def _runs(home: str) -> dict[tuple[str, str], dg.RunRecord]:
    """Run records by (range start, range end)."""
    with dg.DagsterInstance.from_config(home) as instance:
        records = instance.get_run_records(dg.RunsFilter(job_name="daily_pipeline"))
    return {(r.dagster_run.tags[RANGE_START], r.dagster_run.tags[RANGE_END]): r for r in records}


def _run(home: str, first: dt.date, last: dt.date) -> dg.RunRecord:
    return _runs(home)[(str(first), str(last))]


def _logs(home: str, record: dg.RunRecord) -> list[dg.EventLogEntry]:
    with dg.DagsterInstance.from_config(home) as instance:
        return list(instance.all_logs(record.dagster_run.run_id))


def _waited(home: str, record: dg.RunRecord) -> bool:
    return any(WAITING in (e.user_message or "") for e in _logs(home, record))


def _steps(home: str, record: dg.RunRecord) -> tuple[float, float]:
    """(first step start, last step end) of a run, from its event log."""
    kinds = {dg.DagsterEventType.STEP_START, dg.DagsterEventType.STEP_SUCCESS}
    stamps = [
        e.timestamp for e in _logs(home, record) if e.dagster_event and e.dagster_event.event_type in kinds
    ]
    return min(stamps), max(stamps)


def _says(log: Path, text: str) -> bool:
    return log.exists() and text in log.read_text(errors="replace")


def test_two_cli_runs_on_overlapping_days_one_waits_and_days_match_a_single_run(shop, tmp_path) -> None:
    home, data = shop["DAGSTER_HOME"], Path(shop["SPD_DATA_DIR"])
    wide, narrow = (DAYS[0], DAYS[-1]), (DAYS[2], DAYS[-1])
    logs = [tmp_path / "wide.log", tmp_path / "narrow.log"]
    with hold_days(lock_dir(str(data)), DAYS[2:], "the test"):  # both runs start, then both wait
        procs = [start_range(shop, *r, log) for r, log in zip((wide, narrow), logs, strict=True)]
        for log in logs:
            wait_for(f"{log.stem} to wait for the test", lambda log=log: _says(log, f"{WAITING} the test"))
    for proc, log in zip(procs, logs, strict=True):
        finish(proc, log)
    first, second = sorted(_steps(home, _run(home, *r)) for r in (wide, narrow))
    assert first[1] <= second[0], "the two runs' steps interleaved"
    # The wide range re-runs every day the narrow one wrote, reading complete windows: whichever ran
    # first, each day ends as a single run over the whole range leaves it.
    assert day_files(data) == day_files(reference(DAYS[0], DAYS[-1]))


def test_two_cli_runs_on_disjoint_days_do_not_wait_for_each_other(shop, tmp_path) -> None:
    home, data = shop["DAGSTER_HOME"], Path(shop["SPD_DATA_DIR"])
    early, late = (DAYS[0], DAYS[2]), (DAYS[3], DAYS[5])
    with hold_days(lock_dir(str(data)), [DAYS[2]], "the test"):  # the early run cannot end yet
        held = start_range(shop, *early, tmp_path / "early.log")
        wait_for("the early run to wait", lambda: _says(tmp_path / "early.log", f"{WAITING} the test"))
        free = start_range(shop, *late, tmp_path / "late.log")
        finish(free, tmp_path / "late.log")
    finish(held, tmp_path / "early.log")
    a, b = _run(home, *early), _run(home, *late)
    assert a.start_time < b.start_time and b.end_time < a.end_time  # the late run ran inside the early one
    assert not _waited(home, b)

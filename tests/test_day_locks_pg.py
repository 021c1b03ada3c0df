"""Per-day locks across machines: PostgreSQL advisory locks when the state store is PostgreSQL.

Holders are separate connections (threads here, like run workers on two machines) or a separate
process killed mid-hold; who waits for whom is decided by the test, never by timing.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading

from cli_runs import wait_for
from conftest import recent_days

from spd_assets.core.day_locks import hold_data_days
from spd_assets.core.day_locks_pg import hold_days_pg, lock_key
from spd_assets.core.state_store import StateStore

pytest_plugins = ["pg_server"]  # the pg_url fixture: a real PostgreSQL on loopback

DAYS = recent_days(6)
DATA = "s3://shop-bucket/spd"


def test_an_overlapping_holder_waits_for_the_first_and_is_told_for_whom(pg_url) -> None:
    store = StateStore(pg_url)
    said: list[str] = []
    got = threading.Event()

    def second() -> None:
        with hold_days_pg(StateStore(pg_url), DATA, DAYS[2:], "run B", on_wait=said.append):
            got.set()

    with hold_days_pg(store, DATA, DAYS[:3], "run A"):
        thread = threading.Thread(target=second)
        thread.start()
        wait_for("the second holder to wait", lambda: said)
        assert not got.is_set()
        assert said[0].startswith(f"waiting for run A to finish writing {DAYS[2]}")
    thread.join(timeout=30)
    assert got.is_set()


def test_disjoint_days_and_other_data_dirs_are_held_at_once(pg_url) -> None:
    store = StateStore(pg_url)

    def never(message: str) -> None:
        raise AssertionError(f"waited: {message}")

    with (
        hold_days_pg(store, DATA, DAYS[:3], "run A"),
        hold_days_pg(store, DATA, DAYS[3:], "run B", on_wait=never),
        hold_days_pg(store, "s3://other-shop/spd", DAYS, "run C", on_wait=never),
    ):
        assert lock_key(DATA, DAYS[0]) != lock_key("s3://other-shop/spd", DAYS[0])


def _hold_forever(url: str, ready) -> None:  # a run worker that dies while holding its days
    with hold_days_pg(StateStore(url), DATA, DAYS, "the killed run"):
        ready.set()
        threading.Event().wait()


def test_a_killed_holder_leaves_no_day_locked(pg_url) -> None:
    ctx = multiprocessing.get_context("spawn")
    ready = ctx.Event()
    worker = ctx.Process(target=_hold_forever, args=(pg_url, ready))
    worker.start()
    try:
        assert ready.wait(60)
        said: list[str] = []
        os.kill(worker.pid, signal.SIGKILL)  # no cleanup runs: the server drops the dead session's locks
        with hold_data_days(DATA, DAYS, "the next run", on_wait=said.append, state_url=pg_url):
            pass
        assert all("the killed run" in s for s in said)  # waited at most for the dying session
    finally:
        worker.kill()
        worker.join()


def test_a_sqlite_store_keeps_the_file_locks(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'state.sqlite'}"
    with hold_data_days(str(tmp_path / "data"), DAYS[:2], "run A", state_url=url):
        assert sorted(p.name for p in (tmp_path / "data" / "_spd" / "locks").iterdir()) == [
            f"{d}.lock" for d in DAYS[:2]
        ]

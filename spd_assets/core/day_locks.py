"""Per-day write locks: two runs never write the same day at once, runs on other days go on in parallel.

Dagster's own limits do not do it: a ``dagster/partition`` tag limit does not match a range run (tagged
with its range start and end) and acts only in the daemon's queue, never for a CLI run; a pool would
serialize every run, whatever its days. So each run holds one lock file per day it writes (``flock``),
taken in date order so two overlapping ranges cannot deadlock. The kernel drops a lock when its
process dies, SIGKILL included: a crashed run never leaves a day locked.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import os
import resource
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path

from .filesystems import is_remote, local_dir_for
from .run_tags import tag_span

LOCKS_DIR = "_spd/locks"  # under a local SPD_DATA_DIR, beside the recorded start date


def lock_dir(data_dir: str, dagster_home: str | None = None) -> Path:
    """Where the locks of ``data_dir`` live: in it when local, else under DAGSTER_HOME (one per URI).

    An object store has no flock, so the locks of an ``s3://`` data dir are local files: they keep
    apart the runs of one machine only. With an object store written from several machines, use a
    PostgreSQL state store (its advisory locks, ``hold_data_days``) or launch every run from one daemon.
    """
    if not is_remote(data_dir):
        return Path(data_dir) / LOCKS_DIR
    return local_dir_for(data_dir, "spd_locks", dagster_home)


def run_days(tags: Mapping[str, str]) -> list[dt.date]:
    """The days a run writes, from its tags: one partition, or every day of its range (inclusive)."""
    span = tag_span(tags)
    if span is None:
        return []
    first, last = map(dt.date.fromisoformat, span)
    return [first + dt.timedelta(days=k) for k in range((last - first).days + 1)]


def _room_for(n_files: int) -> None:
    """Raise the soft limit on open files when a long range needs more lock files than it allows."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = n_files + 256  # what Dagster, pyarrow and SQLite keep open besides
    if soft != resource.RLIM_INFINITY and soft < wanted:
        limit = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (limit, hard))


def _holder(fd: int) -> str:
    with contextlib.suppress(OSError):
        return os.pread(fd, 200, 0).decode(errors="replace").strip() or "another run"
    return "another run"


@contextlib.contextmanager
def hold_days(
    root: str | Path,
    days: Iterable[dt.date],
    holder: str,
    on_wait: Callable[[str], None] | None = None,
) -> Iterator[list[dt.date]]:
    """Hold the write lock of every day in ``days`` until the block ends, waiting for any other holder.

    ``holder`` (a run id) is written into each lock file, so a run that has to wait can say for whom;
    ``on_wait`` receives that message before the wait.
    """
    wanted = sorted(set(days))
    if not wanted:
        yield wanted
        return
    folder = Path(root)
    folder.mkdir(parents=True, exist_ok=True)
    _room_for(len(wanted))
    fds: list[int] = []
    try:
        for day in wanted:
            fd = os.open(folder / f"{day.isoformat()}.lock", os.O_RDWR | os.O_CREAT, 0o644)
            fds.append(fd)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if on_wait is not None:
                    on_wait(
                        f"waiting for {_holder(fd)} to finish writing {day} before writing "
                        f"{wanted[0]} .. {wanted[-1]} (two runs never write the same day at once)"
                    )
                fcntl.flock(fd, fcntl.LOCK_EX)
            os.ftruncate(fd, 0)
            os.pwrite(fd, holder.encode(), 0)
        yield wanted
    finally:
        for fd in reversed(fds):
            os.close(fd)  # closing the descriptor releases its lock


@contextlib.contextmanager
def hold_data_days(
    data_dir: str,
    days: Iterable[dt.date],
    holder: str,
    on_wait: Callable[[str], None] | None = None,
    state_url: str | None = None,
) -> Iterator[list[dt.date]]:
    """Hold the days of ``data_dir`` where every run that writes them can see the lock.

    With a PostgreSQL state store (``SPD_STATE_URL``, a deployment) the locks are advisory locks on
    that server, so run workers on several machines are kept apart; otherwise they are the flocks of
    ``lock_dir`` (one machine).
    """
    from .day_locks_pg import hold_days_pg  # sqlalchemy only where a run takes its locks
    from .state_store import StateStore, default_state_url

    store = StateStore(state_url or default_state_url(data_dir))
    if store.engine.dialect.name == "postgresql":
        with hold_days_pg(store, data_dir, days, holder, on_wait) as held:
            yield held
    else:
        with hold_days(lock_dir(data_dir), days, holder, on_wait) as held:
            yield held

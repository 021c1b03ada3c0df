"""Per-day write locks across machines: PostgreSQL advisory locks, when the state store is PostgreSQL.

A flock keeps apart the runs of one machine only. In a deployment whose run workers are containers
on several machines, the state store is the Postgres they all reach, so each day's lock becomes a
session-level advisory lock there (``pg_advisory_lock`` on a 64-bit key derived from the data
directory and the day). One connection holds all of a run's days, taken in date order like the
flocks; when the run ends, or its process or container dies, the connection closes and Postgres
drops every lock it held, so a crashed run never leaves a day locked. Who holds a day is written to
a small table, so a run that has to wait says for whom.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
from collections.abc import Callable, Iterable, Iterator

import sqlalchemy as sa

from .state_store import METADATA, StateStore, insert

HOLDERS = sa.Table(
    "day_lock_holders",
    METADATA,
    sa.Column("lock_key", sa.BigInteger, primary_key=True),
    sa.Column("data_dir", sa.String, nullable=False),
    sa.Column("day", sa.String, nullable=False),
    sa.Column("holder", sa.String, nullable=False),
)


def lock_key(data_dir: str, day: dt.date) -> int:
    """A signed 64-bit key for (data directory, day): two data dirs on one server never share a lock."""
    digest = hashlib.blake2b(f"spd-day-lock|{data_dir}|{day.isoformat()}".encode(), digest_size=8)
    return int.from_bytes(digest.digest(), "big", signed=True)


@contextlib.contextmanager
def hold_days_pg(
    store: StateStore,
    data_dir: str,
    days: Iterable[dt.date],
    holder: str,
    on_wait: Callable[[str], None] | None = None,
) -> Iterator[list[dt.date]]:
    """Hold every day of ``days`` in ``data_dir`` until the block ends, waiting for any other holder."""
    wanted = sorted(set(days))
    if not wanted:
        yield wanted
        return
    store.ensure(HOLDERS)
    # Autocommit: the locks belong to the session, so no transaction stays open for the whole run.
    with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as con:
        try:
            for day in wanted:
                key = lock_key(data_dir, day)
                if not con.execute(sa.select(sa.func.pg_try_advisory_lock(key))).scalar():
                    if on_wait is not None:
                        found = con.execute(sa.select(HOLDERS.c.holder).where(HOLDERS.c.lock_key == key))
                        who = found.scalar() or "another run"
                        on_wait(
                            f"waiting for {who} to finish writing {day} before writing "
                            f"{wanted[0]} .. {wanted[-1]} (two runs never write the same day at once)"
                        )
                    con.execute(sa.select(sa.func.pg_advisory_lock(key)))
                row = {"lock_key": key, "data_dir": data_dir, "day": day.isoformat(), "holder": holder}
                stmt = insert(con, HOLDERS).values(row)
                con.execute(stmt.on_conflict_do_update(index_elements=["lock_key"], set_={"holder": holder}))
            yield wanted
        finally:
            con.execute(sa.select(sa.func.pg_advisory_unlock_all()))

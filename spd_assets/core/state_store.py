"""The one small SQL store for state a person or a delivery changes: acknowledgements, snoozes,
feedback, threshold adjustments, the event calendar, the delivery ledger.

None of it belongs in the Parquet the pipeline rewrites, and some of it must be transactional (a
message claimed by one check only), so it lives in a SQL database reached by one URL:

- ``SPD_STATE_URL`` (a SQLAlchemy URL, e.g. ``postgresql+psycopg2://spd@db/spd`` in a deployment);
- by default ``sqlite:///<data_dir>/_state/state.sqlite``; SQLite needs a local disk, so for an
  object-store data directory the default file is ``$DAGSTER_HOME/spd_state.sqlite`` instead.

Each table is declared by the module that owns it, on this module's ``METADATA``; ``StateStore``
creates any that are missing on first use, so a store written by an earlier version just gains
tables. State an earlier version kept in SQLite files of its own is imported once
(``StateStore.import_previous``). Plain SQLAlchemy Core: no Dagster, no Streamlit.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from .settings import SettingsError, data_dir_from_env

STATE_URL_VAR = "SPD_STATE_URL"
STATE_FILE = Path("_state") / "state.sqlite"
METADATA = sa.MetaData()
IMPORT_CHUNK = 200  # rows per INSERT when importing: well under SQLite's bound-parameter limit

# One row per table imported from an earlier version's file, written in the import's transaction.
IMPORTS = sa.Table(
    "state_imports",
    METADATA,
    sa.Column("table_name", sa.Text, primary_key=True),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("rows", sa.Integer, nullable=False),
    sa.Column("imported_at", sa.Float, nullable=False),
)


def stamp() -> str:
    """Now in UTC to the second, ISO: when a row of the store was written or changed."""
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()


def default_state_url(data_dir: str, env: Mapping[str, str] | None = None) -> str:
    """The store's URL: ``SPD_STATE_URL``, else a SQLite file beside the data (or under DAGSTER_HOME)."""
    env = os.environ if env is None else env
    url = env.get(STATE_URL_VAR, "").strip()
    if url:
        try:
            sa.engine.make_url(url)
        except sa.exc.ArgumentError:
            raise SettingsError(
                f"{STATE_URL_VAR} is not a database URL: expected e.g. sqlite:///path/state.sqlite"
                " or postgresql+psycopg2://user@host/db"
            ) from None
        return url
    if "://" not in data_dir:
        return f"sqlite:///{Path(data_dir) / STATE_FILE}"
    home = env.get("DAGSTER_HOME", "").strip() or ".dagster"
    return f"sqlite:///{Path(home).absolute() / 'spd_state.sqlite'}"


def state_url_from_env(env: Mapping[str, str] | None = None) -> str:
    """The store's URL for the environment's SPD_DATA_DIR and SPD_STATE_URL."""
    return default_state_url(data_dir_from_env(env), env)


def redacted(url: str) -> str:
    """The URL without its password, for logs and metadata."""
    return sa.engine.make_url(url).render_as_string(hide_password=True)


def _sqlite_engine(url: sa.URL) -> sa.Engine:
    if url.database:
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(url, connect_args={"timeout": 30})

    @sa.event.listens_for(engine, "connect")
    def _connect(dbapi_con, _record) -> None:  # type: ignore[no-untyped-def]
        dbapi_con.isolation_level = None  # SQLAlchemy emits BEGIN itself (below)
        dbapi_con.execute("PRAGMA journal_mode=WAL")

    @sa.event.listens_for(engine, "begin")
    def _begin(con) -> None:  # type: ignore[no-untyped-def]
        # A write takes the lock up front, so a claim's read-then-update never interleaves with another.
        reading = con.get_execution_options().get(_READ_ONLY, False)
        con.exec_driver_sql("BEGIN" if reading else "BEGIN IMMEDIATE")

    return engine


_READ_ONLY = "spd_read_only"
_ENGINES: dict[str, sa.Engine] = {}
_CREATED: set[tuple[str, str]] = set()
_IMPORTED: set[tuple[str, str]] = set()
_LOCK = threading.Lock()


def _engine(url: str) -> sa.Engine:
    with _LOCK:
        if url not in _ENGINES:
            parsed = sa.engine.make_url(url)
            if parsed.get_backend_name() == "sqlite":
                _ENGINES[url] = _sqlite_engine(parsed)
            else:
                _ENGINES[url] = sa.create_engine(parsed, pool_pre_ping=True)
        return _ENGINES[url]


def insert(con: sa.Connection, table: sa.Table) -> sqlite.Insert | postgresql.Insert:
    """The dialect's INSERT, which has ``on_conflict_do_nothing`` / ``on_conflict_do_update`` on both."""
    return (postgresql if con.dialect.name == "postgresql" else sqlite).insert(table)


def _previous_rows(path: Path, table: str, columns: list[str]) -> list[dict]:
    """Every row of ``table`` in an earlier version's SQLite file (the columns both layouts have)."""
    with contextlib.closing(sqlite3.connect(path, timeout=30)) as con:
        try:
            have = {r[1] for r in con.execute(f'PRAGMA table_info("{table}")')}
        except sqlite3.DatabaseError:
            return []
        shared = [c for c in columns if c in have]
        if not shared:
            return []
        cursor = con.execute(f'SELECT {", ".join(shared)} FROM "{table}"')
        return [dict(zip(shared, row, strict=True)) for row in cursor]


def _set_aside(path: Path) -> None:
    """Rename an imported file ``*.migrated`` (once its WAL is folded in), so no store imports it again;
    a file another process still holds open stays where it is (the import is recorded either way)."""
    try:
        with contextlib.closing(sqlite3.connect(path, timeout=1)) as con:
            mode = con.execute("PRAGMA journal_mode=DELETE").fetchone()[0]
        if mode.lower() == "delete":
            path.rename(path.with_name(path.name + ".migrated"))
    except (OSError, sqlite3.Error):
        pass


class StateStore:
    """A handle on the store at ``url``; engines are shared per URL within a process."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = _engine(url)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> StateStore:
        return cls(state_url_from_env(env))

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    def ensure(self, *tables: sa.Table) -> None:
        """Create these tables (and their indexes) if missing; once per process per table."""
        todo = [t for t in tables if (self.url, t.name) not in _CREATED]
        if not todo:
            return
        try:
            METADATA.create_all(self.engine, tables=todo, checkfirst=True)
        except sa.exc.DBAPIError:  # another process created one between the check and the CREATE
            METADATA.create_all(self.engine, tables=todo, checkfirst=True)
        with _LOCK:
            _CREATED.update((self.url, t.name) for t in todo)

    @contextlib.contextmanager
    def begin(self, *tables: sa.Table) -> Iterator[sa.Connection]:
        """A write transaction (committed on exit, rolled back on error) over ``tables``."""
        self.ensure(*tables)
        with self.engine.begin() as con:
            yield con

    @contextlib.contextmanager
    def read(self, *tables: sa.Table) -> Iterator[sa.Connection]:
        """A connection for reads; on SQLite no write lock is taken."""
        self.ensure(*tables)
        with self.engine.connect().execution_options(**{_READ_ONLY: True}) as con:
            yield con

    def import_previous(self, table: sa.Table, source: Path, source_table: str | None = None) -> int:
        """Copy the rows an earlier version kept in the SQLite file ``source`` into ``table``, once.

        Only into an empty table, in one transaction that also records the import (``state_imports``),
        so a restart, a second process or a later reopen-everything never imports it again; the file
        is then renamed ``*.migrated`` and left beside the data. Returns how many rows were imported.
        """
        key = (self.url, table.name)
        if key in _IMPORTED or not source.is_file():
            return 0
        rows = _previous_rows(source, source_table or table.name, [c.name for c in table.columns])
        try:
            with self.begin(table, IMPORTS) as con:
                count = self._import(con, table, source, rows)
        except sa.exc.IntegrityError:  # on PostgreSQL, another process recorded the import first
            count = 0
        _set_aside(source)
        with _LOCK:
            _IMPORTED.add(key)
        return count

    @staticmethod
    def _import(con: sa.Connection, table: sa.Table, source: Path, rows: list[dict]) -> int:
        done = sa.select(IMPORTS.c.table_name).where(IMPORTS.c.table_name == table.name)
        if con.execute(done).first() is not None:
            return 0
        empty = con.execute(sa.select(sa.literal(1)).select_from(table).limit(1)).first() is None
        rows = rows if empty else []
        # The record first: a concurrent importer on PostgreSQL waits on its key, then fails on it.
        con.execute(IMPORTS.insert().values(table_name=table.name, source=str(source), rows=len(rows),
                                            imported_at=time.time()))  # fmt: skip
        for i in range(0, len(rows), IMPORT_CHUNK):
            con.execute(table.insert(), rows[i : i + IMPORT_CHUNK])
        return len(rows)

    def describe(self) -> str:
        """The URL without a password, for metadata and messages."""
        return redacted(self.url)

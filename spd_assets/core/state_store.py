"""The one small SQL store for state a person or a delivery changes: acknowledgements, snoozes,
feedback, threshold adjustments, the event calendar, the delivery ledger.

None of it belongs in the Parquet the pipeline rewrites, and some of it must be transactional (a
message claimed by one check only), so it lives in a SQL database reached by one URL:

- ``SPD_STATE_URL`` (a SQLAlchemy URL, e.g. ``postgresql+psycopg2://spd@db/spd`` in a deployment);
- by default ``sqlite:///<data_dir>/_state/state.sqlite``; SQLite needs a local disk, so for an
  object-store data directory the default file is ``$DAGSTER_HOME/spd_state.sqlite`` instead.

Each table is declared by the module that owns it, on this module's ``METADATA``; ``StateStore``
creates any that are missing on first use, so a store written by an earlier version just gains
tables. Plain SQLAlchemy Core: no Dagster, no Streamlit.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path

import sqlalchemy as sa

from .settings import SettingsError, data_dir_from_env

STATE_URL_VAR = "SPD_STATE_URL"
STATE_FILE = Path("_state") / "state.sqlite"
METADATA = sa.MetaData()


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

    def describe(self) -> str:
        """The URL without a password, for metadata and messages."""
        return redacted(self.url)

"""A real PostgreSQL server on loopback for the tests: Debian's binaries, a throwaway cluster in a temp
dir on a free 127.0.0.1 port, run as an unprivileged user when the tests run as root (initdb and
postgres refuse root, and CI runs as root).

Use it in a test module with ``import pg_server`` and ``pg_url = pg_server.pg_url`` (each pytest-xdist
worker starts its own server), or ``with postgres_server() as url:`` outside pytest (the benchmarks).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

USER = "spd"
PASSWORD = "spd"
DATABASE = "spd"
# A test cluster: nothing here must survive a crash, so skip the fsyncs (several times faster to set up).
SERVER_FLAGS = "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"


def postgres_bindir() -> Path | None:
    """The directory holding initdb/pg_ctl/postgres: ``pg_config --bindir``, else the newest Debian one."""
    candidates = []
    if shutil.which("pg_config"):
        out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, check=False)
        candidates.append(out.stdout.strip())
    versions = glob.glob("/usr/lib/postgresql/*/bin")
    numbered = [p for p in versions if Path(p).parent.name.isdigit()]
    candidates += sorted(numbered, key=lambda p: int(Path(p).parent.name), reverse=True)
    for path in candidates:
        if path and all((Path(path) / tool).is_file() for tool in ("initdb", "pg_ctl", "postgres")):
            return Path(path)
    return None


def postgres_missing() -> str | None:
    """Why no PostgreSQL server can be started here, or None."""
    if postgres_bindir() is None:
        return "no PostgreSQL server (initdb, pg_ctl) found: apt-get install -y postgresql (.ci/run does it)"
    return None


def _server_user() -> pwd.struct_passwd | None:
    """The account the server runs as: None (ourselves) unless we are root, then postgres or nobody."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise RuntimeError("running as root and neither a 'postgres' nor a 'nobody' account exists")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _run(cmd: list[str], account: pwd.struct_passwd | None, env: dict[str, str], cwd: Path) -> None:
    """Run a PostgreSQL tool as ``account`` in ``cwd`` (the tools refuse a working directory they
    cannot read, such as root's checkout); a failure raises with the tool's own output."""
    ids = {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []} if account else {}
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=cwd, check=False, **ids)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")


@contextmanager
def postgres_server() -> Iterator[str]:
    """Start a fresh cluster with database ``spd``; yield its SQLAlchemy URL; stop it and delete it."""
    bindir = postgres_bindir()
    if bindir is None:
        raise RuntimeError(postgres_missing())
    account = _server_user()
    # As root, directly under /tmp: pytest's and TMPDIR's dirs may be closed to the server's account.
    root = Path(tempfile.mkdtemp(prefix="spd-pg-", dir="/tmp" if account else None))
    data, log, pwfile = root / "data", root / "server.log", root / "pwfile"
    pwfile.write_text(PASSWORD + "\n")
    if account:
        os.chown(root, account.pw_uid, account.pw_gid)
        os.chown(pwfile, account.pw_uid, account.pw_gid)
    env = {**os.environ, "LC_ALL": "C.UTF-8", "PGPASSWORD": PASSWORD}
    env.pop("PGDATA", None)
    _run([str(bindir / "initdb"), "-D", str(data), "-U", USER, "--pwfile", str(pwfile),
          "--auth=scram-sha-256", "-E", "UTF8", "--no-sync"], account, env, root)  # fmt: skip
    port, started = 0, False
    try:
        for _attempt in range(5):  # another process may take the free port between the probe and the bind
            port = _free_port()
            flags = (
                f"-c listen_addresses=127.0.0.1 -p {port} -c unix_socket_directories={root} {SERVER_FLAGS}"
            )
            try:
                _run([str(bindir / "pg_ctl"), "start", "-w", "-t", "60", "-D", str(data), "-l", str(log),
                      "-o", flags], account, env, root)  # fmt: skip
            except RuntimeError:
                if "could not bind" in (log.read_text(errors="replace") if log.exists() else ""):
                    continue
                raise
            started = True
            break
        if not started:
            raise RuntimeError(f"PostgreSQL could not bind a free port:\n{log.read_text(errors='replace')}")
        createdb = [str(bindir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", USER, DATABASE]
        _run(createdb, account, env, root)
        yield f"postgresql+psycopg2://{USER}:{PASSWORD}@127.0.0.1:{port}/{DATABASE}"
    finally:
        if started:
            stop = [str(bindir / "pg_ctl"), "stop", "-w", "-D", str(data), "-m"]
            try:
                _run([*stop, "fast"], account, env, root)
            except RuntimeError:
                _run([*stop, "immediate"], account, env, root)
        shutil.rmtree(root, ignore_errors=True)


def dagster_pg_env(url: str) -> dict[str, str]:
    """The DAGSTER_PG_* variables deploy/dagster.yaml reads, for the database behind ``url``."""
    import sqlalchemy as sa

    parts = sa.engine.make_url(url)
    return {
        "DAGSTER_PG_HOST": parts.host, "DAGSTER_PG_PORT": str(parts.port), "DAGSTER_PG_DB": parts.database,
        "DAGSTER_PG_USER": parts.username, "DAGSTER_PG_PASSWORD": parts.password,
    }  # fmt: skip


def new_database(url: str, name: str) -> str:
    """Create database ``name`` on ``url``'s server (tests sharing one server stay apart); its URL."""
    import sqlalchemy as sa

    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    finally:
        engine.dispose()
    return sa.engine.make_url(url).set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """``postgresql+psycopg2://spd:spd@127.0.0.1:PORT/spd``: one server for the session (or xdist worker)."""
    reason = postgres_missing()
    if reason:
        pytest.skip(reason)
    with postgres_server() as url:
        yield url

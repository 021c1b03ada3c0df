"""Environment settings, validated once, with errors that name the setting and what was expected.

Plain Python (no Dagster): the pipeline, the launcher, ``spd import`` and the dashboard all read
their SPD_* variables through these parsers, so a value means the same thing everywhere.
"""

from __future__ import annotations

import datetime as dt
import os
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path


class SettingsError(ValueError):
    """A setting has a value spd cannot use; the message names it and what was expected."""


def today_utc(env: Mapping[str, str] | None = None) -> dt.date:
    """Today in UTC, or ``SPD_TODAY`` (a past YYYY-MM-DD) to replay the pipeline as of that day."""
    env = os.environ if env is None else env
    raw = env.get("SPD_TODAY", "").strip()
    if not raw:
        return dt.datetime.now(dt.UTC).date()
    try:
        day = dt.date.fromisoformat(raw)
    except ValueError:
        raise SettingsError(f"SPD_TODAY={raw!r} is not a date: expected YYYY-MM-DD") from None
    if day > dt.datetime.now(dt.UTC).date():  # Dagster's partitions follow the real clock
        raise SettingsError(f"SPD_TODAY={raw!r} is in the future: expected today or a past date")
    return day


def default_start_date(today: dt.date | None = None) -> dt.date:
    """The first day of the month a year ago: about a year of history, stable within a month."""
    today = today or today_utc()
    return dt.date(today.year - 1, today.month, 1)


def env_int(env: Mapping[str, str], name: str, default: int, minimum: int, maximum: int | None = None) -> int:
    """An integer setting (``_`` allowed as a separator); empty means ``default``."""
    raw = env.get(name, "").strip()
    if not raw:
        return default
    bounds = f">= {minimum}" if maximum is None else f"from {minimum} to {maximum}"
    try:
        value = int(raw.replace("_", ""))
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a whole number: expected an integer {bounds}") from None
    if value < minimum:
        raise SettingsError(f"{name}={raw!r} is too small: expected an integer {bounds}")
    if maximum is not None and value > maximum:
        raise SettingsError(f"{name}={raw!r} is too large: expected an integer {bounds}")
    return value


def env_port(env: Mapping[str, str], name: str, default: int) -> int:
    """A TCP port setting."""
    return env_int(env, name, default, 1, 65535)


def env_rate(env: Mapping[str, str], name: str, default: float) -> float:
    """A share from 0 to 1, written ``0.05`` or ``5%``."""
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw[:-1]) / 100 if raw.endswith("%") else float(raw)
    except ValueError:
        value = -1.0
    if not 0.0 <= value <= 1.0:
        raise SettingsError(f"{name}={raw!r} is not a share: expected a number from 0 to 1 (or 0% to 100%)")
    return value


def data_dir_from_env(env: Mapping[str, str] | None = None) -> str:
    """SPD_DATA_DIR (default ./data): an absolute local path, or an object-store URI as given."""
    env = os.environ if env is None else env
    data_dir = env.get("SPD_DATA_DIR", "").strip() or "data"
    return data_dir if "://" in data_dir else str(Path(data_dir).absolute())


@dataclass(frozen=True)
class Servers:
    """Where `make run` binds its servers and where the dashboard finds the Dagster webserver."""

    host: str = "127.0.0.1"
    dagster_port: int = 3000
    dashboard_port: int = 8501
    dagster_host: str = "127.0.0.1"

    @property
    def dagster_url(self) -> str:
        """The Dagster UI as the dashboard and the notices link to it."""
        return f"http://{self.dagster_host}:{self.dagster_port}"


def load_servers(env: Mapping[str, str] | None = None) -> Servers:
    """SPD_HOST, SPD_DAGSTER_PORT, SPD_DASHBOARD_PORT, SPD_DAGSTER_HOST."""
    env = os.environ if env is None else env
    return Servers(
        host=env.get("SPD_HOST", "").strip() or "127.0.0.1",
        dagster_port=env_port(env, "SPD_DAGSTER_PORT", 3000),
        dashboard_port=env_port(env, "SPD_DASHBOARD_PORT", 8501),
        dagster_host=env.get("SPD_DAGSTER_HOST", "").strip() or "127.0.0.1",
    )


@dataclass(frozen=True)
class Settings:
    data_dir: str
    start_date: dt.date
    orders_per_day: int
    n_skus: int
    seed: int
    source: str
    landing_dir: str
    quarantine_max_rate: float = 0.05
    today: dt.date | None = None  # fixed "today" (SPD_TODAY); None follows the clock
    sensor_interval_s: int = 30  # minimum seconds between two ticks of each sensor
    landing_settle_s: int = 10  # a landing file modified more recently may still be being copied in
    timezone: str | None = None  # SPD_TIMEZONE: the shop's zone for days and partitions (None: UTC)
    fresh_by_hour: int = 6  # yesterday's partition is expected by this hour (UTC) each day
    webhook_timeout_s: int = 10  # SPD_WEBHOOK_TIMEOUT_S: the longest one check waits on the webhook
    backfill_chunk_days: int = 0  # SPD_BACKFILL_CHUNK_DAYS: a UI backfill's days per run (0: one run)

    def current_day(self) -> dt.date:
        """Today as the pipeline sees it (UTC, or the fixed SPD_TODAY)."""
        return self.today or dt.datetime.now(dt.UTC).date()


def _check_writable(name: str, path: str) -> None:
    if "://" in path:
        return  # object stores are checked by the first write
    p = Path(path)
    try:
        p.mkdir(parents=True, exist_ok=True)
        probe = p / f".spd-write-check-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise SettingsError(f"{name}={path!r} is not a writable directory ({exc.strerror})") from None


START_FILE = "_spd/start_date"  # under SPD_DATA_DIR: the first partition, fixed on the first run


def _recorded_start(data_dir: str, today: dt.date, record: bool) -> dt.date:
    """The start date recorded with the history, or the default (recorded now when ``record``).

    A moving default would drop the oldest month of history out of the partitions every month; fixed
    once, the partitions only ever grow. SPD_START_DATE overrides it (README: extending the history).
    """
    if "://" in data_dir:
        return _recorded_start_remote(data_dir, today, record)
    path = Path(data_dir) / START_FILE
    try:
        return dt.date.fromisoformat(path.read_text().strip())
    except FileNotFoundError:
        pass
    except ValueError:
        raise SettingsError(f"{path} does not hold a date (YYYY-MM-DD): fix or delete it") from None
    start = default_start_date(today)
    if record:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp-{os.getpid()}")
        tmp.write_text(start.isoformat() + "\n")
        os.replace(tmp, path)
    return start


def _recorded_start_remote(data_dir: str, today: dt.date, record: bool) -> dt.date:
    """The same, on an object store (the object is written whole: no temporary name needed)."""
    import pyarrow.fs as pafs  # here: reading settings must not import pyarrow for a local data dir

    from .filesystems import filesystem

    fs, root = filesystem(data_dir)
    path = f"{root}/{START_FILE}"
    try:
        if fs.get_file_info(path).type == pafs.FileType.File:
            with fs.open_input_stream(path) as source:
                return dt.date.fromisoformat(source.read().decode().strip())
    except (ValueError, UnicodeDecodeError):
        raise SettingsError(
            f"{data_dir}/{START_FILE} does not hold a date (YYYY-MM-DD): fix or delete it"
        ) from None
    start = default_start_date(today)
    if record:
        with fs.open_output_stream(path) as sink:
            sink.write(f"{start.isoformat()}\n".encode())
    return start


def load_settings(env: Mapping[str, str] | None = None, check_writable: bool = True) -> Settings:
    """Read and validate every SPD_* setting; raises SettingsError at the first bad one.

    ``check_writable`` creates SPD_DATA_DIR and probes it (what a run needs); readers pass False.
    """
    env = os.environ if env is None else env
    fixed_today = today_utc(env) if env.get("SPD_TODAY", "").strip() else None
    today = fixed_today or today_utc(env)
    data_dir = data_dir_from_env(env)
    if check_writable:
        _check_writable("SPD_DATA_DIR", data_dir)
    raw_start = env.get("SPD_START_DATE", "").strip()
    try:
        start = (
            dt.date.fromisoformat(raw_start)
            if raw_start
            else _recorded_start(data_dir, today, check_writable)
        )
    except ValueError:
        raise SettingsError(f"SPD_START_DATE={raw_start!r} is not a date: expected YYYY-MM-DD") from None
    if start > today:
        raise SettingsError(f"SPD_START_DATE={raw_start!r} is in the future: expected a past date")
    source = env.get("SPD_SOURCE", "synthetic").strip() or "synthetic"
    if source not in ("synthetic", "landing"):
        raise SettingsError(f"SPD_SOURCE={source!r} is unknown: expected 'synthetic' or 'landing'")
    # A local folder or an object-store URI (read through a local mirror: core/landing/remote.py).
    landing = env.get("SPD_LANDING_DIR", "").strip() or f"{data_dir}/landing"
    timezone = env.get("SPD_TIMEZONE", "").strip() or None
    if timezone:
        try:
            zoneinfo.ZoneInfo(timezone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise SettingsError(f"SPD_TIMEZONE={timezone!r} is not a time zone: e.g. Europe/Berlin") from None
    return Settings(
        timezone=timezone,
        data_dir=data_dir,
        start_date=start,
        orders_per_day=env_int(env, "SPD_ORDERS_PER_DAY", 20_000, 0),
        n_skus=env_int(env, "SPD_SKUS", 200, 8),
        seed=env_int(env, "SPD_SEED", 7, 0),
        source=source,
        landing_dir=landing,
        quarantine_max_rate=env_rate(env, "SPD_QUARANTINE_MAX_RATE", 0.05),
        today=fixed_today,
        sensor_interval_s=env_int(env, "SPD_SENSOR_INTERVAL_S", 30, 1),
        landing_settle_s=env_int(env, "SPD_LANDING_SETTLE_S", 10, 0),
        fresh_by_hour=env_int(env, "SPD_FRESH_BY_HOUR", 6, 0, 23),
        webhook_timeout_s=env_int(env, "SPD_WEBHOOK_TIMEOUT_S", 10, 1, 300),
        backfill_chunk_days=env_int(env, "SPD_BACKFILL_CHUNK_DAYS", 0, 0),
    )

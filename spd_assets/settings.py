"""Environment settings, validated once, with errors that name the setting and what was expected."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path


class SettingsError(ValueError):
    """A setting has a value spd cannot use; the message names it and what was expected."""


def default_start_date(today: dt.date | None = None) -> dt.date:
    """The first day of the month a year ago: about a year of history, stable within a month."""
    today = today or dt.datetime.now(dt.UTC).date()
    return dt.date(today.year - 1, today.month, 1)


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


def _int(env: Mapping[str, str], name: str, default: int, minimum: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw.replace("_", ""))
    except ValueError:
        raise SettingsError(
            f"{name}={raw!r} is not a whole number: expected an integer >= {minimum}"
        ) from None
    if value < minimum:
        raise SettingsError(f"{name}={raw!r} is too small: expected an integer >= {minimum}")
    return value


def _rate(env: Mapping[str, str], name: str, default: float) -> float:
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


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Read and validate every SPD_* setting; raises SettingsError at the first bad one."""
    env = os.environ if env is None else env
    raw_start = env.get("SPD_START_DATE", "").strip()
    try:
        start = dt.date.fromisoformat(raw_start) if raw_start else default_start_date()
    except ValueError:
        raise SettingsError(f"SPD_START_DATE={raw_start!r} is not a date: expected YYYY-MM-DD") from None
    if start > dt.datetime.now(dt.UTC).date():
        raise SettingsError(f"SPD_START_DATE={raw_start!r} is in the future: expected a past date")
    source = env.get("SPD_SOURCE", "synthetic").strip() or "synthetic"
    if source not in ("synthetic", "landing"):
        raise SettingsError(f"SPD_SOURCE={source!r} is unknown: expected 'synthetic' or 'landing'")
    data_dir = env.get("SPD_DATA_DIR", "").strip() or "data"
    if "://" not in data_dir:
        data_dir = str(Path(data_dir).absolute())
    _check_writable("SPD_DATA_DIR", data_dir)
    landing = env.get("SPD_LANDING_DIR", "").strip() or f"{data_dir}/landing"
    if source == "landing" and "://" in landing:
        raise SettingsError(f"SPD_LANDING_DIR={landing!r} is not a local folder: expected a local directory")
    return Settings(
        data_dir=data_dir,
        start_date=start,
        orders_per_day=_int(env, "SPD_ORDERS_PER_DAY", 20_000, 0),
        n_skus=_int(env, "SPD_SKUS", 200, 8),
        seed=_int(env, "SPD_SEED", 7, 0),
        source=source,
        landing_dir=landing,
        quarantine_max_rate=_rate(env, "SPD_QUARANTINE_MAX_RATE", 0.05),
    )

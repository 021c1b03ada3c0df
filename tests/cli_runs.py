"""Real `dagster` CLI runs of the pipeline for the reliability tests: the environment, a run started as
its own process, polling with a deadline, and every day file's bytes to compare two histories."""

from __future__ import annotations

import datetime as dt
import functools
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TypeVar

import dagster as dg
from conftest import materialize_range

from spd_assets.core.run_tags import pipeline_command, range_tags
from spd_assets.core.settings import load_settings
from spd_assets.definitions import build_defs

DAGSTER = str(Path(sys.executable).parent / "dagster")
SHOP = {"orders_per_day": 500, "n_skus": 20, "seed": 7}  # small: these runs start real processes
T = TypeVar("T")


def cli_shop(root: Path) -> dict[str, str]:
    """The environment of CLI runs with a DAGSTER_HOME and SPD_DATA_DIR of their own under ``root``,
    the catalog already materialized (in this process: one CLI start saved). The instance is created
    here, once: two runs that start at the same moment on a fresh SQLite home can race on it."""
    home = root / "home"
    home.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "SPD_DATA_DIR": str(root / "data"),
        "SPD_ORDERS_PER_DAY": str(SHOP["orders_per_day"]),
        "SPD_SKUS": str(SHOP["n_skus"]),
        "SPD_SEED": str(SHOP["seed"]),
    }
    defs = build_defs(load_settings(env))
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert dg.materialize(
            [defs.get_assets_def("catalog")], instance=instance, resources=defs.resources
        ).success
    return env


def start_range(env: dict[str, str], first: dt.date, last: dt.date, log: Path) -> subprocess.Popen:
    """`daily_pipeline` over first..last as one CLI run, in its own process; output goes to ``log``."""
    with log.open("wb") as out:
        return subprocess.Popen(
            [DAGSTER, *pipeline_command(range_tags(first, last))],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def finish(proc: subprocess.Popen, log: Path, timeout_s: float = 300) -> None:
    """Wait for a run started by ``start_range``; it must succeed."""
    assert proc.wait(timeout=timeout_s) == 0, log.read_text(errors="replace")[-3000:]


def wait_for(what: str, check: Callable[[], T], timeout_s: float = 120, every_s: float = 0.1) -> T:
    """Poll ``check()`` until it returns something truthy (returned), or fail after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(every_s)
    raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")


@functools.cache
def reference(first: dt.date, last: dt.date) -> Path:
    """The data directory of one uninterrupted in-process run over first..last, same shop as the CLI
    runs (made once per session: several tests compare with it; treat it as read-only)."""
    data = Path(tempfile.mkdtemp(prefix="spd-reference-")) / "data"
    defs = build_defs(replace(load_settings(), data_dir=str(data), **SHOP))
    with dg.instance_for_test() as instance:
        assert materialize_range(defs, instance, first, last).success
    return data


def day_files(data_dir: Path) -> dict[str, bytes]:
    """Every Parquet file under ``data_dir`` (days and the catalog) by relative path, as bytes."""
    return {str(p.relative_to(data_dir)): p.read_bytes() for p in sorted(data_dir.rglob("*.parquet"))}

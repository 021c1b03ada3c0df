"""History independence: the nightly run after 3 years of history vs after 30 days.

For each history length a fresh DAGSTER_HOME (the project's dagster.yaml, SQLite) and data dir get
the catalog and the history as one CLI range run, as a user backfills; then the nightly run,
yesterday's ``daily_pipeline`` through the CLI as the schedule would start it (a fresh process,
Dagster start-up included), is timed ``REPEATS`` times (the first is the new day, the others re-run
it). What may grow with history: the day listings, Dagster's partition status and event log, the
windows read; the ratio long / short is the figure (target <= 1.1).

``python -m benchmarks.history`` prints one JSON line and writes nothing to results.json
(``BENCH_HISTORY_DAYS``, ``BENCH_HISTORY_SHORT_DAYS``, ``BENCH_HISTORY_ORDERS``,
``BENCH_HISTORY_REPEATS`` to change sizes; ``BENCH_HISTORY_DIR`` keeps the histories there, built
once, to profile or re-measure).
``BENCH_QUICK=1``: 3 vs 12 days of 200 orders, one nightly run each, asserting only correctness
(yesterday's revenue equal in both histories and to its orders, a re-run leaves its alerts unchanged).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import polars as pl

from spd_assets.core.run_tags import PARTITION_TAG, pipeline_command, range_tags
from spd_assets.core.storage import DayStore
from spd_assets.launcher import DAGSTER_YAML

ROOT = Path(__file__).resolve().parent.parent
DAGSTER = str(Path(sys.executable).parent / "dagster")
QUICK = os.environ.get("BENCH_QUICK") == "1"
SHORT = 3 if QUICK else int(os.environ.get("BENCH_HISTORY_SHORT_DAYS", 30))
LONG = 12 if QUICK else int(os.environ.get("BENCH_HISTORY_DAYS", 3 * 365))
ORDERS = 200 if QUICK else int(os.environ.get("BENCH_HISTORY_ORDERS", 20_000))
SKUS = 16 if QUICK else 200
REPEATS = 1 if QUICK else int(os.environ.get("BENCH_HISTORY_REPEATS", 5))


def _dagster(args: list[str], env: dict[str, str]) -> tuple[float, float]:
    """One `dagster` CLI command: its wall and CPU (user + system) seconds; it must succeed. The CPU
    time weighs less on a shared machine's load than the wall time does."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    out = subprocess.run([DAGSTER, *args], env=env, cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if out.returncode != 0:
        raise RuntimeError(f"dagster {' '.join(args[:4])} failed:\n{out.stderr[-3000:]}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime


def _env(work: Path, start: dt.date, orders: int, skus: int) -> dict[str, str]:
    home = work / "home"
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text(DAGSTER_YAML)
    return {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "SPD_DATA_DIR": str(work / "data"),
        "SPD_START_DATE": start.isoformat(),
        "SPD_ORDERS_PER_DAY": str(orders),
        "SPD_SKUS": str(skus),
    }


def _build(env: dict[str, str], first: dt.date, last: dt.date) -> None:
    """The catalog and first..last as one range run on the home's instance (in this process: the
    history is only the state the nightly run starts from, and two CLI start-ups are saved)."""
    import dagster as dg

    from spd_assets.core.settings import load_settings
    from spd_assets.definitions import build_defs

    saved = dict(os.environ)
    os.environ.update(env)  # resources that read the environment (the state store) see this history's
    try:
        defs = build_defs(load_settings(env))
        _run_history(dg, defs, env["DAGSTER_HOME"], first, last)
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _run_history(dg, defs, home: str, first: dt.date, last: dt.date) -> None:
    with dg.DagsterInstance.from_config(home) as instance:
        assert dg.materialize(
            [defs.get_assets_def("catalog")], instance=instance, resources=defs.resources
        ).success
        job = defs.resolve_job_def("daily_pipeline")
        assert job.execute_in_process(instance=instance, tags=range_tags(first, last)).success


def _day_result(data_dir: str, day: dt.date) -> dict:
    """What must not change: the day's revenue (daily_agg, orders) and its alerts' ids."""
    store = DayStore(data_dir)
    alerts = store.read("alerts", day) if store.exists("alerts", day) else pl.DataFrame({"alert_id": []})
    return {
        "daily_agg_revenue": round(float(store.read("daily_agg", day)["revenue"].sum()), 2),
        "orders_revenue": round(float(store.read("orders", day)["revenue"].sum()), 2),
        "alert_ids": sorted(alerts["alert_id"].to_list()),
    }


def _prepare(
    history_days: int, work: Path, yesterday: dt.date, orders: int, skus: int
) -> tuple[dict[str, str], float]:
    """``history_days`` days before yesterday built (once) in ``work``: the nightly run's environment."""
    start = yesterday - dt.timedelta(days=history_days)
    env = _env(work, start, orders, skus)
    started = time.perf_counter()
    if not (work / "built").exists():  # a kept BENCH_HISTORY_DIR is built once
        _build(env, start, yesterday - dt.timedelta(days=1))
        (work / "built").write_text(start.isoformat())
    return env, time.perf_counter() - started


def _summary(
    history_days: int, built: float, nightly: list[tuple[float, float]], results: list[dict]
) -> dict:
    if any(r != results[0] for r in results):
        raise AssertionError(f"re-running the nightly day changed its result: {results}")
    return {
        "history_days": history_days,
        "build_seconds": round(built, 2),
        "nightly_seconds": [round(wall, 3) for wall, _ in nightly],
        "nightly_median_s": round(statistics.median(wall for wall, _ in nightly), 3),
        "nightly_cpu_median_s": round(statistics.median(cpu for _, cpu in nightly), 3),
        "result": results[0],
    }


def run(
    short_days: int = SHORT,
    long_days: int = LONG,
    orders: int = ORDERS,
    skus: int = SKUS,
    repeats: int = REPEATS,
) -> dict:
    """The nightly run's wall time after ``short_days`` and after ``long_days`` of history."""
    yesterday = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
    kept = os.environ.get("BENCH_HISTORY_DIR")  # keep the histories there (to profile, to re-measure)
    with tempfile.TemporaryDirectory(prefix="spd-bench-history-") as tmp:
        work = Path(kept or tmp)
        lengths = (short_days, long_days)
        envs = {n: _prepare(n, work / f"history-{n}", yesterday, orders, skus) for n in lengths}
        nightly: dict[int, list[tuple[float, float]]] = {n: [] for n in lengths}
        results: dict[int, list[dict]] = {n: [] for n in lengths}
        for _ in range(repeats):  # in turn, so the machine's load weighs on both alike
            for n, (env, _built) in envs.items():
                nightly[n].append(_dagster(pipeline_command({PARTITION_TAG: yesterday.isoformat()}), env))
                results[n].append(_day_result(env["SPD_DATA_DIR"], yesterday))
        short, long = (_summary(n, envs[n][1], nightly[n], results[n]) for n in lengths)
    for key in ("daily_agg_revenue", "orders_revenue"):
        if short["result"][key] != long["result"][key]:
            raise AssertionError(f"{key} of {yesterday} differs with the history: {short} vs {long}")
    if short["result"]["daily_agg_revenue"] != short["result"]["orders_revenue"]:
        raise AssertionError(f"daily_agg revenue differs from the orders': {short['result']}")
    return {
        "orders_per_day": orders,
        "skus": skus,
        "repeats": repeats,
        "short": short,
        "long": long,
        "long_over_short": round(long["nightly_median_s"] / short["nightly_median_s"], 3),
        "long_over_short_cpu": round(long["nightly_cpu_median_s"] / short["nightly_cpu_median_s"], 3),
        "target": 1.1,
    }


if __name__ == "__main__":
    print(json.dumps(run()))

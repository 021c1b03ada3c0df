"""``make bench``: speed and memory figures, printed and written to benchmarks/results.json.

Sizes can be lowered for a quick look: ``BENCH_DAYS=30 BENCH_ORDERS=20000 make bench``. The landing
sensor vs CLI comparison (``benchmarks/sensor_backfill.py``) repeats ``BENCH_SENSOR_REPEATS`` times
(default 3; 0 leaves it out).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks import engines
from spd_assets.core.run_tags import pipeline_command

HERE = Path(__file__).parent
PY = sys.executable
DAGSTER = str(Path(PY).parent / "dagster")
DAYS = int(os.environ.get("BENCH_DAYS", 365))
ORDERS = int(os.environ.get("BENCH_ORDERS", 100_000))
SKUS = int(os.environ.get("BENCH_SKUS", 500))
PER_PARTITION_RUNS = 10
SENSOR_REPEATS = int(os.environ.get("BENCH_SENSOR_REPEATS", 3))


def _child(args: list[str], env: dict[str, str]) -> dict:
    out = subprocess.run([PY, *args], env=env, capture_output=True, text=True, cwd=HERE.parent)
    if out.returncode != 0:
        raise RuntimeError(f"{args} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _env(data_dir: Path, start: dt.date, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "SPD_DATA_DIR": str(data_dir),
        "SPD_START_DATE": start.isoformat(),
        "SPD_ORDERS_PER_DAY": str(ORDERS),
        "SPD_SKUS": str(SKUS),
        **extra,
    }


def bench_engines(tmp: Path) -> dict:
    days, per_day = 100, 100_000
    rows = engines.write_orders(tmp / "engines", days, per_day)
    results = {"orders": rows}
    for engine in ("pandas", "polars", "duckdb"):
        out = subprocess.run(
            [PY, "-m", "benchmarks.engines", engine, str(tmp / "engines")],
            capture_output=True,
            text=True,
            cwd=HERE.parent,
            check=True,
        )
        seconds, peak_mb, groups = out.stdout.split()
        results[engine] = {"seconds": float(seconds), "peak_mb": float(peak_mb), "groups": int(groups)}
    return results


def bench_backfill(tmp: Path) -> dict:
    last = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
    first = last - dt.timedelta(days=DAYS - 1)
    year = _child(
        ["-m", "benchmarks.backfill", "single", first.isoformat(), last.isoformat()],
        _env(tmp / "year", first),
    )
    year_memory = _child(
        ["-m", "benchmarks.backfill", "single_memory", first.isoformat(), last.isoformat()],
        _env(tmp / "year_memory", first),
    )
    # A nightly run in steady state: yesterday again, on top of the year (alerts reads 91 days of it).
    one_day = _child(
        ["-m", "benchmarks.backfill", "single", last.isoformat(), last.isoformat()], _env(tmp / "year", first)
    )
    floor = _child(
        ["-m", "benchmarks.backfill", "floor", first.isoformat(), last.isoformat()],
        _env(tmp / "floor", first),
    )
    floor_io = _child(
        ["-m", "benchmarks.backfill", "floor_io", first.isoformat(), last.isoformat()],
        _env(tmp / "floor_io", first),
    )
    # Run per partition: what a backfill of one run per day costs, each run a fresh `dagster` process.
    home = tmp / "home"
    home.mkdir()
    env = _env(tmp / "per", first, DAGSTER_HOME=str(home))
    subprocess.run(
        [DAGSTER, "asset", "materialize", "-m", "spd_assets.definitions", "--select", "catalog"],
        env=env,
        capture_output=True,
        check=True,
        cwd=HERE.parent,
    )
    started = time.perf_counter()
    for i in range(PER_PARTITION_RUNS):
        day = (first + dt.timedelta(days=i)).isoformat()
        subprocess.run(
            [DAGSTER, *pipeline_command({"dagster/partition": day})],
            env=env,
            capture_output=True,
            check=True,
            cwd=HERE.parent,
        )
    per_run = (time.perf_counter() - started) / PER_PARTITION_RUNS
    per_partition = per_run * DAYS
    return {
        "days": DAYS,
        "orders_per_day": ORDERS,
        "skus": SKUS,
        "single_run": year,
        "single_run_in_memory_instance": year_memory,
        "one_day_run": one_day,
        "compute_floor": floor,
        "floor_with_parquet_io": floor_io,
        "run_per_partition": {
            "seconds_per_run": per_run,
            "seconds_extrapolated": per_partition,
            "runs_measured": PER_PARTITION_RUNS,
        },
        "ratios": {
            "single_run_over_floor": year["seconds"] / floor["seconds"],
            "single_run_over_floor_with_io": year["seconds"] / floor_io["seconds"],
            "in_memory_single_run_over_floor_with_io": year_memory["seconds"] / floor_io["seconds"],
            "per_partition_over_single_run": per_partition / year["seconds"],
            "single_run_peak_over_one_day_peak": year["peak_mb"] / one_day["peak_mb"],
        },
        "year_data_dir": str(tmp / "year"),
    }


def main() -> int:
    results: dict = {
        "measured_on": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "cpus": os.cpu_count(),
    }
    with tempfile.TemporaryDirectory(prefix="spd-bench-") as tmp_name:
        tmp = Path(tmp_name)
        print("engines: grouping 10^7 orders by date x sku x region ...", flush=True)
        results["engines"] = bench_engines(tmp)
        for engine in ("pandas", "polars", "duckdb"):
            r = results["engines"][engine]
            print(f"  {engine:7s} {r['seconds']:6.2f} s  {r['peak_mb']:6.0f} MB peak")
        print(f"backfill: {DAYS} days x {ORDERS:,} orders x {SKUS} SKUs ...", flush=True)
        b = results["backfill"] = bench_backfill(tmp)
        for label, key in (
            ("single run", "single_run"),
            ("same, in-memory", "single_run_in_memory_instance"),
            ("one-day run", "one_day_run"),
            ("compute floor", "compute_floor"),
            ("floor + Parquet", "floor_with_parquet_io"),
        ):
            print(f"  {label:18s}{b[key]['seconds']:8.1f} s  {b[key]['peak_mb']:6.0f} MB peak")
        print(
            f"  run per partition   {b['run_per_partition']['seconds_extrapolated']:7.1f} s "
            f"({b['run_per_partition']['seconds_per_run']:.2f} s a run x {DAYS}, from "
            f"{PER_PARTITION_RUNS} runs)"
        )
        r = b["ratios"]
        print(f"  single run / floor = {r['single_run_over_floor']:.2f} (target <= 2)")
        print(f"  single run / (floor + Parquet I/O) = {r['single_run_over_floor_with_io']:.2f}")
        print(f"  in-memory / (floor + Parquet I/O) = {r['in_memory_single_run_over_floor_with_io']:.2f}")
        print(f"  per partition / single run = {r['per_partition_over_single_run']:.1f} (target >= 20)")
        print(f"  peak year / peak one day = {r['single_run_peak_over_one_day_peak']:.2f} (target <= 1.5)")
        if (HERE / "dashboard.py").exists():
            from benchmarks import dashboard

            print("dashboard data module on the year ...", flush=True)
            results["dashboard"] = dashboard.run(Path(b["year_data_dir"]))
            print("  " + json.dumps(results["dashboard"]))
        b.pop("year_data_dir")
    if SENSOR_REPEATS:
        from benchmarks import sensor_backfill

        print("landing history, 150 days x 2,400 orders: sensor under dagster dev vs the CLI ...", flush=True)
        s = results["sensor_backfill"] = sensor_backfill.measure(repeats=SENSOR_REPEATS)
        print(
            f"  CLI {s['cli_seconds']['median']:.1f} s, sensor {s['sensor_seconds']['median']:.1f} s, "
            f"sensor / CLI = {s['sensor_over_cli']['median']:.2f} (target <= 2); runs {s['sensor_runs']}, "
            f"failed {s['sensor_runs_failed']}, revenue equal {s['daily_agg_revenue_equal']}"
        )
    path = HERE / "results.json"  # keeps the sections other targets write (make bench-landing's)
    kept = {
        k: v for k, v in (json.loads(path.read_text()) if path.exists() else {}).items() if k not in results
    }
    path.write_text(json.dumps({**kept, **results}, indent=2) + "\n")
    print(f"written to {HERE / 'results.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

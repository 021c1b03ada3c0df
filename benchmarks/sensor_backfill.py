"""A shop's history dropped into the landing folder: the sensor under `dagster dev` vs the CLI backfill.

Issue #9: the history backfill through the sensor must cost about what the CLI backfill of the same days
costs (one run per range, not a run per day), within 2x. Both sides start on a fresh DAGSTER_HOME and
data directory and read the same day files:

- A (CLI): ``dagster asset materialize --select catalog`` then ``dagster job execute -j daily_pipeline``
  with the partition-range tags; the wall time of both commands.
- B (sensor): ``dagster dev`` started and ready (not counted), then the files copied into its landing
  folder; the wall time from the copy until every day has its orders, daily_agg, daily_metrics and
  alerts files and no run is unfinished. It includes the settle time, the sensor's ticks and each run's
  start-up in a fresh process.

``python -m benchmarks.sensor_backfill [--days N] [--orders N] [--skus N] [--repeats N] [--interval S]``
prints one JSON dict (also returned by ``measure``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from spd_assets.core.run_tags import catalog_command, pipeline_command, range_tags
from spd_assets.core.storage import DayStore
from spd_assets.core.synthetic.catalog import generate_catalog
from spd_assets.core.synthetic.orders import generate_day
from spd_assets.launcher import DAGSTER_YAML

ROOT = Path(__file__).resolve().parent.parent
DAGSTER = str(Path(sys.executable).parent / "dagster")
CHECKED = ("orders", "daily_agg", "daily_metrics", "alerts")
SEED = 11


def _harness():
    """The end-to-end tests' `dagster dev` helpers (process group, readiness, GraphQL), loaded by path."""
    spec = importlib.util.spec_from_file_location("spd_e2e_harness", ROOT / "tests" / "e2e" / "harness.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass looks its module up there
    spec.loader.exec_module(module)
    return module


def history(n_days: int) -> list[dt.date]:
    """The last ``n_days`` complete days (UTC), oldest first."""
    last = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
    return [last - dt.timedelta(days=n_days - 1 - k) for k in range(n_days)]


def write_shop(folder: Path, days: list[dt.date], orders: int, skus: int) -> int:
    """The shop's export: catalog.csv and one orders_YYYY-MM-DD.csv per day; returns the order lines."""
    folder.mkdir(parents=True, exist_ok=True)
    catalog = generate_catalog(skus, SEED)
    catalog.select("sku", "name", "category", price="base_price").write_csv(folder / "catalog.csv")
    lines = 0
    for day in days:
        frame = generate_day(day, catalog, orders, SEED).orders
        frame.write_csv(folder / f"orders_{day}.csv")
        lines += frame.height
    return lines


def _env(work: Path, landing: Path, interval_s: int | None) -> dict[str, str]:
    env = {
        **os.environ,
        "SPD_SOURCE": "landing",
        "SPD_DATA_DIR": str(work / "data"),
        "SPD_LANDING_DIR": str(landing),
        "DAGSTER_HOME": str(work / "home"),
        "SPD_WEBHOOK_URL": "",
        "SPD_SMTP_HOST": "",
    }
    env.pop("SPD_START_DATE", None)
    if interval_s is not None:
        env["SPD_SENSOR_INTERVAL_S"] = str(interval_s)
    (work / "home").mkdir(parents=True)
    (work / "home" / "dagster.yaml").write_text(DAGSTER_YAML)
    return env


def _run(cmd: list[str], env: dict[str, str]) -> None:
    out = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:4])} failed:\n{out.stderr[-3000:]}")


def cli(shop: Path, work: Path, days: list[dt.date]) -> float:
    """A: the two CLI commands over the shop's folder; their wall time in seconds."""
    env = _env(work, shop, None)
    tags = range_tags(days[0], days[-1])
    started = time.perf_counter()
    _run([DAGSTER, *catalog_command()], env)
    _run([DAGSTER, *pipeline_command(tags)], env)
    return time.perf_counter() - started


def sensor(shop: Path, work: Path, days: list[dt.date], interval_s: int | None, timeout_s: float) -> dict:
    """B: the files copied into the landing folder of a ready `dagster dev`; seconds until all is done."""
    harness = _harness()
    landing = work / "landing"
    landing.mkdir(parents=True)
    env = _env(work, landing, interval_s)
    store = DayStore(env["SPD_DATA_DIR"])
    server = harness.dagster_dev(work / "home", env, work)
    try:
        harness.dagster_ready(server)
        started = time.perf_counter()
        for path in sorted(shop.iterdir()):  # a plain copy: new mtimes, as a user's drop has
            shutil.copy(path, landing / path.name)

        def done() -> bool:
            complete = all(store.exists(a, d) for a in CHECKED for d in (days[-1], days[0], *days))
            return complete and not harness.runs(server.url, harness.UNFINISHED)

        harness.wait_until("every landed day processed", done, timeout_s, every_s=1.0, log=server)
        seconds = time.perf_counter() - started
        every = harness.runs(server.url, ["SUCCESS", "FAILURE", "CANCELED"])
    finally:
        server.stop()
    launched = [r for r in every if {"key": "spd/trigger", "value": "landing_sensor"} in r["tags"]]
    return {
        "seconds": seconds,
        "runs": len(launched),
        "failed": sum(r["status"] != "SUCCESS" for r in launched),
        "other_runs": len(every) - len(launched),
    }


def revenue_by_day(data_dir: Path, days: list[dt.date]) -> dict[str, float]:
    """daily_agg revenue per day (rounded to the cent): equal for A and B when both did the same work."""
    store = DayStore(str(data_dir))
    return {str(d): round(float(store.read("daily_agg", d)["revenue"].sum()), 2) for d in days}


def _summary(values: list[float]) -> dict:
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "each": values}


def measure(
    n_days: int = 150,
    orders: int = 2_400,
    skus: int = 200,
    repeats: int = 3,
    interval_s: int | None = None,
    timeout_s: float = 1200,
) -> dict:
    """A then B, ``repeats`` times in turn on fresh homes; times, B/A, run counts and the revenue check."""
    days = history(n_days)
    with tempfile.TemporaryDirectory(prefix="spd-sensor-bench-") as tmp_name:
        tmp = Path(tmp_name)
        lines = write_shop(tmp / "shop", days, orders, skus)
        a_times, b_times, b_runs, b_failed, equal = [], [], [], [], []
        for k in range(repeats):
            a_times.append(cli(tmp / "shop", tmp / f"a{k}", days))
            b = sensor(tmp / "shop", tmp / f"b{k}", days, interval_s, timeout_s)
            b_times.append(b["seconds"])
            b_runs.append(b["runs"])
            b_failed.append(b["failed"])
            print(f"  repeat {k + 1}: CLI {a_times[-1]:.1f} s, sensor {b['seconds']:.1f} s", file=sys.stderr)
            a_rev = revenue_by_day(tmp / f"a{k}" / "data", days)
            equal.append(a_rev == revenue_by_day(tmp / f"b{k}" / "data", days))
            shutil.rmtree(tmp / f"a{k}" / "data")
            shutil.rmtree(tmp / f"b{k}" / "data")
    ratios = [b / a for a, b in zip(a_times, b_times, strict=True)]
    return {
        "days": n_days,
        "orders_per_day": orders,
        "order_lines": lines,
        "skus": skus,
        "sensor_interval_s": interval_s if interval_s is not None else "default (30)",
        "repeats": repeats,
        "cli_seconds": _summary(a_times),
        "sensor_seconds": _summary(b_times),
        "sensor_over_cli": _summary(ratios),
        "sensor_runs": b_runs,
        "sensor_runs_failed": b_failed,
        "daily_agg_revenue_equal": all(equal),
        "target_ratio": 2.0,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=150)
    parser.add_argument("--orders", type=int, default=2_400)
    parser.add_argument("--skus", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--interval", type=int, default=None, help="SPD_SENSOR_INTERVAL_S (default: 30)")
    args = parser.parse_args(argv)
    out = measure(args.days, args.orders, args.skus, args.repeats, args.interval)
    print(json.dumps(out))
    return 0 if out["daily_agg_revenue_equal"] and not any(out["sensor_runs_failed"]) else 1


if __name__ == "__main__":
    sys.exit(main())

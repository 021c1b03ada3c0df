"""A real shop's exports at scale: daily CSV files of order lines, through the landing path.

``write_history`` writes what a big shop's platform exports: one ``orders_YYYY-MM-DD.csv`` a day of
quoted text fields (order id, timestamp, sku, product name with a comma, region name, status), line
items repeating the order id, a few refunds and cancellations and a few bad rows, plus ``catalog.csv``.
Then, each in a fresh process:

- ``cli``: what a user runs, ``dagster asset materialize --select catalog`` and one ``dagster job
  execute`` of ``daily_pipeline`` over the range (SQLite instance); wall time and peak memory.
- ``floor``: the same core functions in a plain loop (read + validate, aggregate, rolling metrics,
  detection), nothing written: the compute floor.
- ``check``: revenue per day in ``daily_agg`` equals the counted order lines' revenue to the cent, and
  every line of every file is an order or a quarantined row.

``python -m benchmarks.landing [--days N] [--orders N] [--skus N] [--regions N] [--keep DIR]`` prints one
JSON dict (also returned by ``measure``); ``BENCH_QUICK=1`` picks tiny sizes for the tests.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

from spd_assets.core.run_tags import catalog_command, pipeline_command, range_tags

ROOT = Path(__file__).resolve().parent.parent
DAGSTER = str(Path(sys.executable).parent / "dagster")
SEED = 23
CATEGORIES = 24
BAD_ROW_RATE = 1e-4  # a bad quantity or price now and then, as real exports have


def history(n_days: int, last: dt.date | None = None) -> list[dt.date]:
    """``n_days`` complete days ending ``last`` (default yesterday, UTC), oldest first."""
    last = last or dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
    return [last - dt.timedelta(days=n_days - 1 - k) for k in range(n_days)]


def _catalog(skus: int, rng: np.random.Generator) -> pl.DataFrame:
    prices = np.round(np.exp(rng.normal(3.0, 0.8, skus)) + 0.99, 2)
    return pl.DataFrame(
        {
            "sku": [f"SKU-{i:05d}" for i in range(skus)],
            "name": [f"Product {i}, size {'SML'[i % 3]}" for i in range(skus)],
            "category": [f"Category {i % CATEGORIES:02d}" for i in range(skus)],
            "price": prices,
        }
    )


def _region_names(regions: int) -> list[str]:
    return [f"Sales Region {chr(65 + i % 26)}{i // 26 or ''}" for i in range(regions)]


def export_day(day: dt.date, lines: int, catalog: pl.DataFrame, regions: int, seed: int) -> pl.DataFrame:
    """One day's order-line export, as text a platform writes (quoted by the CSV writer)."""
    rng = np.random.default_rng([seed, day.toordinal()])
    skus = catalog.height
    basket = rng.choice([1, 1, 1, 2, 2, 3, 4], size=lines)  # line items per order
    order_of_line = np.repeat(np.arange(lines), basket)[:lines]
    first_line = np.r_[0, np.flatnonzero(np.diff(order_of_line)) + 1]
    position = np.arange(lines) - np.repeat(first_line, np.diff(np.r_[first_line, lines]))
    popular = (rng.zipf(1.3, lines) - 1) % skus  # a long tail of SKUs
    sku = (popular + position * 7919) % skus  # the lines of one order never repeat a SKU
    weights = 1.0 / np.arange(1, regions + 1) ** 0.8
    region = rng.choice(regions, size=lines, p=weights / weights.sum())[order_of_line]
    seconds = np.sort(rng.integers(0, 86_400, lines))[np.argsort(np.argsort(order_of_line, kind="stable"))]
    qty = rng.choice([1, 1, 1, 1, 2, 2, 3], size=lines)
    statuses = ["paid", "fulfilled", "refunded", "cancelled"]
    status = rng.choice(statuses, size=lines, p=[0.6, 0.37, 0.02, 0.01])[order_of_line]  # per order
    price = catalog["price"].to_numpy()[sku]
    frame = pl.DataFrame(
        {
            "order_id": order_of_line + (day.toordinal() % 100_000) * 10_000_000,
            "seconds": seconds,
            "sku": sku,
            "region": region,
            "quantity": qty,
            "unit_price": price,
            "status": status,
        }
    )
    names = pl.Series(_region_names(regions))
    frame = frame.select(
        order_id=pl.format("SO-{}", pl.col("order_id")),
        ts=(pl.lit(dt.datetime.combine(day, dt.time())) + pl.duration(seconds=pl.col("seconds"))).dt.strftime(
            "%Y-%m-%d %H:%M:%S"
        ),
        sku=catalog["sku"].gather(frame["sku"]),
        product_name=catalog["name"].gather(frame["sku"]),
        region=names.gather(frame["region"]),
        qty=pl.col("quantity").cast(pl.String),
        price=pl.col("unit_price").round(2),
        revenue=(pl.col("quantity") * pl.col("unit_price")).round(2),
        status=pl.col("status"),
    )
    bad = rng.random(lines) < BAD_ROW_RATE
    return frame.with_columns(qty=pl.when(pl.Series(bad)).then(pl.lit("two")).otherwise(pl.col("qty")))


def write_history(
    folder: Path, days: list[dt.date], lines: int, skus: int, regions: int, seed: int = SEED
) -> dict:
    """catalog.csv and one quoted CSV export a day; returns lines and bytes written."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    catalog = _catalog(skus, rng)
    catalog.write_csv(folder / "catalog.csv", quote_style="non_numeric")
    total_bytes = 0
    for day in days:
        path = folder / f"orders_{day}.csv"
        if not path.exists():
            tmp = path.with_suffix(".tmp")
            export_day(day, lines, catalog, regions, seed).write_csv(tmp, quote_style="non_numeric")
            tmp.rename(path)
        total_bytes += path.stat().st_size
    return {"lines": lines * len(days), "bytes": total_bytes}


def _env(work: Path, landing: Path) -> dict[str, str]:
    return {
        **os.environ,
        "SPD_SOURCE": "landing",
        "SPD_LANDING_DIR": str(landing),
        "SPD_DATA_DIR": str(work / "data"),
        "DAGSTER_HOME": str(work / "home"),
        "SPD_WEBHOOK_URL": "",
        "SPD_SMTP_HOST": "",
        "SPD_STATE_URL": f"sqlite:///{work / 'state.sqlite'}",
    }


def _timed(args: list[str], env: dict[str, str]) -> dict:
    """Run one command in a fresh process: its wall time and peak memory (the largest child's RSS)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.perf_counter()
    out = subprocess.run(args, env=env, capture_output=True, text=True, cwd=ROOT)
    seconds = time.perf_counter() - started
    if out.returncode != 0:
        raise RuntimeError(f"{args} failed:\n{out.stderr[-4000:]}")
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return {"seconds": seconds, "peak_mb": max(peak, before) / 1024, "stdout": out.stdout}


def cli_backfill(work: Path, landing: Path, days: list[dt.date]) -> dict:
    """The user's two commands: the catalog, then one run of daily_pipeline over ``days``."""
    (work / "home").mkdir(parents=True, exist_ok=True)
    env = _env(work, landing)
    catalog = _timed([DAGSTER, *catalog_command()], env)
    run = _timed([DAGSTER, *pipeline_command(range_tags(days[0], days[-1]))], env)
    return {
        "seconds": catalog["seconds"] + run["seconds"],
        "catalog_seconds": catalog["seconds"],
        "peak_mb": max(catalog["peak_mb"], run["peak_mb"]),
    }


def floor(landing: Path, days: list[dt.date]) -> dict:
    """The same core functions in a plain loop, nothing written (run in its own process by ``measure``)."""
    from spd_assets.core.aggregate import aggregate_daily
    from spd_assets.core.detect import HISTORY_DAYS, detect_drops
    from spd_assets.core.landing.catalog import landing_catalog
    from spd_assets.core.landing.files import load_day
    from spd_assets.core.metrics import LOOKBACK_DAYS, rolling_metrics

    started = time.perf_counter()
    catalog = landing_catalog(landing)
    aggs = {}
    for day in days:
        checked = load_day(landing, day)
        aggs[day] = aggregate_daily(checked.orders, catalog)
    metrics = {}
    for i in range(0, len(days), 31):
        chunk = days[i : i + 31]
        need = [d for d in days if chunk[0] - dt.timedelta(days=LOOKBACK_DAYS) <= d <= chunk[-1]]
        frame = rolling_metrics(pl.concat([aggs[d] for d in need]), days=need, output_days=chunk)
        metrics.update({day: part for (day,), part in frame.partition_by("date", as_dict=True).items()})
    for i in range(0, len(days), 31):
        chunk = days[i : i + 31]
        need = [d for d in days if chunk[0] - dt.timedelta(days=HISTORY_DAYS) <= d <= chunk[-1]]
        detect_drops(pl.concat([metrics[d] for d in need if d in metrics]), chunk, available=need)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"seconds": time.perf_counter() - started, "peak_mb": peak}


def check(data_dir: Path, landing: Path, days: list[dt.date]) -> dict:
    """Revenue per day equal to the cent, and no line lost, between the files and what spd stored."""
    from spd_assets.core.storage import DayStore

    store = DayStore(data_dir)
    unequal, lost = [], []
    for day in days:
        orders, agg = store.read("orders", day), store.read("daily_agg", day)
        quarantined = store.read("quarantine", day).height
        counted = orders.filter(pl.col("counted"))["revenue"].sum()
        if round(counted * 100) != round(agg["revenue"].sum() * 100):
            unequal.append(str(day))
        lines = (
            pl.scan_csv(landing / f"orders_{day}.csv", infer_schema=False).select(pl.len()).collect().item()
        )
        if lines != orders.height + quarantined:
            lost.append(str(day))
    return {"revenue_equal": not unequal, "days_unequal": unequal, "lines_lost_days": lost}


def _sizes(args: argparse.Namespace) -> tuple[int, int, int, int]:
    if os.environ.get("BENCH_QUICK") == "1":
        return 3, 2_000, 50, 4
    return args.days, args.orders, args.skus, args.regions


def measure(args: argparse.Namespace) -> dict:
    n_days, lines, skus, regions = _sizes(args)
    days = history(n_days)
    with tempfile.TemporaryDirectory(prefix="spd-landing-bench-") as tmp_name:
        tmp = Path(tmp_name)
        landing = Path(args.keep) if args.keep else tmp / "landing"
        written = write_history(landing, days, lines, skus, regions)
        result = {"days": n_days, "lines_per_day": lines, "skus": skus, "regions": regions, **written}
        if os.environ.get("BENCH_QUICK") != "1":
            result["floor"] = json.loads(
                _timed(
                    [sys.executable, "-m", "benchmarks.landing", "--floor", str(landing), str(n_days)],
                    os.environ.copy(),
                )["stdout"].splitlines()[-1]
            )
        result["cli"] = cli_backfill(tmp / "cli", landing, days)
        result["check"] = check(tmp / "cli" / "data", landing, days)
        data = tmp / "cli" / "data" / "orders"
        stored = sum(p.stat().st_size for p in data.rglob("*.parquet"))
        result["orders_bytes_per_line"] = stored / written["lines"]
        result["csv_bytes_per_line"] = written["bytes"] / written["lines"]
    cli = result["cli"]
    cli["orders_per_s"] = written["lines"] / cli["seconds"]
    if "floor" in result:
        result["cli_over_floor"] = cli["seconds"] / result["floor"]["seconds"]
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--orders", type=int, default=1_000_000, help="order lines a day")
    parser.add_argument("--skus", type=int, default=5_000)
    parser.add_argument("--regions", type=int, default=20)
    parser.add_argument(
        "--keep", help="write (or reuse) the exports in this folder instead of a temporary one"
    )
    parser.add_argument("--floor", nargs=2, metavar=("LANDING", "DAYS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.floor:
        print(json.dumps(floor(Path(args.floor[0]), history(int(args.floor[1])))))
        return 0
    print(json.dumps(measure(args)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

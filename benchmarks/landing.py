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
import functools
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
    sku = (popular[first_line][order_of_line] + position * 7919) % skus  # an order never repeats a SKU
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


# Runs a command and reports its own peak RSS: RUSAGE_CHILDREN of a fresh parent has one child only.
_PEAK = (
    "import resource, subprocess, sys; r = subprocess.run(sys.argv[1:]); "
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr); sys.exit(r.returncode)"
)


def _timed(args: list[str], env: dict[str, str]) -> dict:
    """Run one command in a fresh process: its wall time and its own peak memory."""
    started = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", _PEAK, *args], env=env, capture_output=True, text=True, cwd=ROOT
    )
    seconds = time.perf_counter() - started
    if out.returncode != 0:
        raise RuntimeError(f"{args} failed:\n{out.stderr[-4000:]}")
    peak_kb = int(out.stderr.strip().splitlines()[-1])
    return {"seconds": seconds, "peak_mb": peak_kb / 1024, "stdout": out.stdout}


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
    from spd_assets.core.detect import chunk_days as detect_chunk_days
    from spd_assets.core.incidents import LEAF_COLUMNS, LEAF_ROWS
    from spd_assets.core.landing.catalog import landing_catalog
    from spd_assets.core.landing.files import load_day
    from spd_assets.core.metrics import LOOKBACK_DAYS, chunk_days, rolling_metrics
    from spd_assets.core.storage import day_windows

    started = time.perf_counter()
    catalog = landing_catalog(landing)
    aggs, stages = {}, {"read_validate": 0.0, "aggregate": 0.0}
    for day in days:
        t0 = time.perf_counter()
        checked = load_day(landing, day)
        t1 = time.perf_counter()
        aggs[day] = aggregate_daily(checked.orders, catalog)
        stages["read_validate"] += t1 - t0
        stages["aggregate"] += time.perf_counter() - t1
    t_metrics = time.perf_counter()
    metrics = {}
    step = chunk_days(aggs[days[-1]].height)  # as the daily_metrics asset chunks
    for i in range(0, len(days), step):
        chunk = days[i : i + step]
        need = [d for d in days if chunk[0] - dt.timedelta(days=LOOKBACK_DAYS) <= d <= chunk[-1]]
        frame = rolling_metrics(pl.concat([aggs[d] for d in need]), days=need, output_days=chunk)
        metrics.update({day: part for (day,), part in frame.partition_by("date", as_dict=True).items()})
    t_detect = time.perf_counter()
    stages["metrics"] = t_detect - t_metrics
    size = functools.partial(detect_chunk_days, metrics[days[-1]].height)  # as the alerts asset chunks
    for chunk, need in day_windows(days, days, HISTORY_DAYS, size):
        window = pl.concat([metrics[d] for d in need if d in metrics])
        detect_drops(window, chunk, available=need, keep=LEAF_ROWS, columns=LEAF_COLUMNS, compact=True)
    stages["detect"] = time.perf_counter() - t_detect
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"seconds": time.perf_counter() - started, "peak_mb": peak, "stages_s": stages}


def check(data_dir: Path, landing: Path, days: list[dt.date]) -> dict:
    """Revenue per day to the cent, three ways: the export's own valid counted lines (summed here,
    apart from spd), the orders spd kept, and daily_agg; and every line an order or a quarantined row."""
    from spd_assets.core.storage import DayStore

    store = DayStore(str(data_dir))
    unequal, lost = [], []
    for day in days:
        orders, agg = store.read("orders", day), store.read("daily_agg", day)
        quarantined = store.read("quarantine", day).height
        export = pl.scan_csv(landing / f"orders_{day}.csv", infer_schema=False)
        lines, truth = (
            export.select(
                pl.len(),
                (pl.col("revenue").cast(pl.Float64) * 100)
                .round()
                .filter(pl.col("qty") != "two", pl.col("status").is_in(["paid", "fulfilled"]))
                .sum(),
            )
            .collect()
            .row(0)
        )
        kept = round(orders.filter(pl.col("counted"))["revenue"].sum() * 100)
        if not round(truth) == kept == round(agg["revenue"].sum() * 100):
            unequal.append(str(day))
        if lines != orders.height + quarantined:
            lost.append(str(day))
    return {"revenue_equal": not unequal, "days_unequal": unequal, "lines_lost_days": lost}


def _dir_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*.parquet"))


def _history_case(tmp: Path, landing: Path, days: list[dt.date], floor_too: bool) -> dict:
    """The landing history backfilled in one run, its compute floor, then a nightly re-run of the
    last day on top of it (a steady-state night: every window has its history)."""
    result: dict = {}
    if floor_too:
        floor_run = _timed(
            [sys.executable, "-m", "benchmarks.landing", "--floor", str(landing), str(len(days))],
            os.environ.copy(),
        )
        result["floor"] = json.loads(floor_run["stdout"].splitlines()[-1])
    work = tmp / "cli"
    result["cli"] = cli_backfill(work, landing, days)
    result["nightly"] = _timed(
        [DAGSTER, *pipeline_command({"dagster/partition": str(days[-1])})], _env(work, landing)
    )
    result["nightly"].pop("stdout")
    result["check"] = check(work / "data", landing, days)
    result["orders_bytes"] = _dir_bytes(work / "data" / "orders")
    return result


def startup(samples: int = 3) -> dict:
    """What a run pays before its first step: Dagster's CLI, then loading spd's definitions, and the
    two libraries alone; best of ``samples`` fresh interpreters each (one at ``BENCH_QUICK``'s tiny
    sizes, where no time is asserted)."""
    with tempfile.TemporaryDirectory(prefix="spd-startup-") as home:
        env = {**os.environ, "DAGSTER_HOME": home}
        python = [sys.executable, "-c"]
        return {
            name: round(min(_timed(args, env)["seconds"] for _ in range(samples)), 3)
            for name, args in {
                "dagster_cli_s": [DAGSTER, "--version"],
                "import_definitions_s": [*python, "import spd_assets.definitions"],
                "import_dagster_and_polars_s": [*python, "import dagster, polars"],
            }.items()
        }


def measure(
    n_days: int,
    lines: int,
    skus: int,
    regions: int,
    keep: str | None = None,
    nightly_skus: int = 500,
    nightly_regions: int = 6,
    big_lines: int = 10_000_000,
) -> dict:
    """Every landing figure of issue #15; ``BENCH_QUICK=1``: tiny sizes, correctness only."""
    quick = os.environ.get("BENCH_QUICK") == "1"
    if quick:
        n_days, lines, skus, regions, nightly_skus, nightly_regions, big_lines = 3, 2_000, 50, 4, 20, 3, 0
    out: dict = {"measured_on": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "cpus": os.cpu_count()}
    with tempfile.TemporaryDirectory(prefix="spd-landing-bench-") as tmp_name:
        tmp = Path(tmp_name)
        root = Path(keep) if keep else tmp / "exports"
        days = history(n_days)
        landing = root / f"history-{n_days}x{lines}-{skus}x{regions}"
        written = write_history(landing, days, lines, skus, regions)
        case = _history_case(tmp / "history", landing, days, floor_too=not quick)
        case.update(written, days=n_days, lines_per_day=lines, skus=skus, regions=regions)
        case["orders_per_s"] = written["lines"] / case["cli"]["seconds"]
        case["orders_bytes_per_line"] = case.pop("orders_bytes") / written["lines"]
        case["csv_bytes_per_line"] = written["bytes"] / written["lines"]
        if "floor" in case:
            case["cli_over_floor"] = case["cli"]["seconds"] / case["floor"]["seconds"]
        out["history"] = case
        if quick:  # the tests' variant: correctness of the history and its nightly run only
            return out
        # The nightly day at the issue's smaller catalog: a fortnight of history under it (the metrics'
        # lookback), then the last day again.
        small_days = days[-15:] if not quick else days
        small = root / f"nightly-{len(small_days)}x{lines}-{nightly_skus}x{nightly_regions}"
        write_history(small, small_days, lines, nightly_skus, nightly_regions)
        night = _history_case(tmp / "nightly", small, small_days, floor_too=False)
        out["nightly_small_catalog"] = {
            "skus": nightly_skus,
            "regions": nightly_regions,
            "nightly": night["nightly"],
            "check": night["check"],
        }
        out["startup"] = startup(1 if quick else 3)
        if big_lines:
            big = root / f"big-1x{big_lines}-{skus}x{regions}"
            big_written = write_history(big, days[-1:], big_lines, skus, regions)
            work = tmp / "big"
            run = cli_backfill(work, big, days[-1:])
            out["big_day"] = {**big_written, "cli": run, "check": check(work / "data", big, days[-1:])}
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--orders", type=int, default=1_000_000, help="order lines a day")
    parser.add_argument("--skus", type=int, default=5_000)
    parser.add_argument("--regions", type=int, default=20)
    parser.add_argument("--big", type=int, default=10_000_000, help="order lines of the big day (0: skip)")
    parser.add_argument("--keep", help="write (or reuse) the exports under this folder, not a temporary one")
    parser.add_argument("--write", action="store_true", help="store the figures in benchmarks/results.json")
    parser.add_argument("--floor", nargs=2, metavar=("LANDING", "DAYS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.floor:
        print(json.dumps(floor(Path(args.floor[0]), history(int(args.floor[1])))))
        return 0
    result = measure(args.days, args.orders, args.skus, args.regions, args.keep, big_lines=args.big)
    print(json.dumps(result))
    if args.write:  # beside make bench's figures, in the same file
        results = ROOT / "benchmarks" / "results.json"
        merged = {**(json.loads(results.read_text()) if results.exists() else {}), "landing": result}
        tmp = results.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(merged, indent=2) + "\n")
        tmp.rename(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Catalog scale: metrics and detection per daily_agg row at 20,000 SKUs x 20 regions vs 500 x 6.

The synthetic source has six fixed regions and draws every order line, so this benchmark writes
``daily_agg`` directly, a day at a time (Poisson counts per (sku, region) cell, seeded by the date,
with a few injected drops so detection has something to find), at the same density for both shops
(about ten expected orders per cell). It then runs ``daily_metrics`` and ``alerts`` over the days as
a user would, one ``dagster asset materialize --partition-range`` in a fresh process (SQLite
instance), and reports seconds and peak memory per daily_agg row. The dashboard's data module is
then timed on the big shop's year (``benchmarks.dashboard.run``).

``python -m benchmarks.catalog_scale`` prints one JSON line and writes nothing to results.json.
``BENCH_QUICK=1``: a few days of small shops, asserting only that the pipeline's revenue per day
equals the written daily_agg's and that a re-run gives the same alerts (what the test runs).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import polars as pl

from spd_assets.core.run_tags import DEFINITIONS
from spd_assets.core.schema import DAILY_AGG, REGIONS, conform
from spd_assets.core.storage import DayStore
from spd_assets.core.synthetic.catalog import generate_catalog
from spd_assets.core.synthetic.seasonality import demand_factor

HERE = Path(__file__).parent
DAGSTER = str(Path(sys.executable).parent / "dagster")
CELL_ORDERS = 10.0  # mean expected orders per (sku, region) cell and day: both shops equally dense
CORE_DAYS = int(os.environ.get("BENCH_CATALOG_CORE_DAYS", 62))  # days of the core-only metrics figure
SKU_EXPONENT = 0.5  # Zipf-like popularity, mild enough that the smallest cells still sell most days


@dataclass(frozen=True)
class CatalogShop:
    """A shop of ``n_skus`` x ``n_regions`` whose daily_agg is drawn directly, deterministic per date."""

    n_skus: int
    n_regions: int
    seed: int = 7
    cell_orders: float = CELL_ORDERS

    @cached_property
    def regions(self) -> tuple[str, ...]:
        if self.n_regions <= len(REGIONS):
            return REGIONS[: self.n_regions]
        return tuple(f"region-{i + 1:02d}" for i in range(self.n_regions))

    @cached_property
    def catalog(self) -> pl.DataFrame:
        return generate_catalog(self.n_skus, self.seed)

    @cached_property
    def _cells(self) -> tuple[pl.DataFrame, np.ndarray, np.ndarray]:
        """The (sku, category, region) key columns of every cell, their expected orders, their prices."""
        rng = np.random.default_rng([self.seed, 31])
        sku_w = 1.0 / (rng.permutation(self.n_skus) + 1.0) ** SKU_EXPONENT
        region_w = np.linspace(1.0, 0.3, self.n_regions)
        weights = (sku_w[:, None] * region_w[None, :]).ravel()
        expected = weights / weights.mean() * self.cell_orders
        cat = self.catalog
        keys = pl.DataFrame(
            {
                "sku": np.repeat(cat["sku"].to_numpy(), self.n_regions),
                "category": np.repeat(cat["category"].to_numpy(), self.n_regions),
                "region": np.tile(np.array(self.regions), self.n_skus),
            }
        )
        prices = np.repeat(cat["base_price"].to_numpy(), self.n_regions)
        return keys, expected, prices

    def day(self, day: dt.date) -> pl.DataFrame:
        """One day's daily_agg: Poisson orders per cell, a few SKUs and sometimes a region dropped."""
        keys, expected, prices = self._cells
        rng = np.random.default_rng([self.seed, day.toordinal()])
        mean = expected * demand_factor(day)
        grid = mean.reshape(self.n_skus, self.n_regions)
        for sku in rng.choice(self.n_skus, 3, replace=False):  # stock-outs: a SKU everywhere at 20%
            grid[sku] *= 0.2
        if rng.random() < 0.1:  # an outage in one region: 40% of its demand lost
            grid[:, rng.integers(self.n_regions)] *= 0.6
        orders = rng.poisson(mean)
        units = orders + rng.binomial(orders, 0.3)
        cents = np.round(units * prices * 100).astype(np.int64)
        frame = keys.with_columns(
            date=pl.lit(day, dtype=pl.Date),
            orders=pl.Series(orders, dtype=pl.Int64),
            units=pl.Series(units, dtype=pl.Int64),
            revenue=pl.Series(cents / 100),
            aov=pl.Series(np.round(cents / np.maximum(orders, 1) / 100, 4)),
            cancelled_orders=pl.lit(0, dtype=pl.Int64),
            cancelled_revenue=pl.lit(0.0),
        ).filter(pl.col("orders") > 0)
        return conform(frame, DAILY_AGG)

    def write(self, root: str, days: list[dt.date]) -> int:
        """The catalog and every day's daily_agg under ``root``; the rows written."""
        store = DayStore(root)
        store.write("catalog", None, self.catalog)
        rows = 0
        for day in days:
            frame = self.day(day)
            store.write("daily_agg", day, frame)
            rows += frame.height
        return rows


def _timed(args: list[str], env: dict[str, str]) -> dict:
    """One `dagster` CLI command in a fresh process: wall seconds and peak RSS (it must succeed)."""
    started = time.perf_counter()
    out = subprocess.run(
        ["/usr/bin/time", "-f", "%M", DAGSTER, *args],
        env=env,
        cwd=HERE.parent,
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - started
    if out.returncode != 0:
        raise RuntimeError(f"dagster {' '.join(args[:5])} failed:\n{out.stderr[-3000:]}")
    return {"seconds": round(seconds, 2), "peak_mb": round(int(out.stderr.strip().splitlines()[-1]) / 1024)}


def _materialize(asset: str, first: dt.date, last: dt.date, env: dict[str, str]) -> dict:
    select = ["asset", "materialize", "-m", DEFINITIONS, "--select", asset]
    return _timed([*select, "--partition-range", f"{first}...{last}"], env)


def _env(work: Path, start: dt.date) -> dict[str, str]:
    home = work / "home"
    home.mkdir(parents=True, exist_ok=True)
    return {**os.environ, "DAGSTER_HOME": str(home), "SPD_DATA_DIR": str(work / "data"),
            "SPD_START_DATE": start.isoformat()}  # fmt: skip


def _day_sums(root: str, asset: str, days: list[dt.date], level: str | None = None) -> dict:
    """Revenue per day in cents (the figure nothing may change), from daily_agg or a metrics level."""
    store, out = DayStore(root), {}
    for day in days:
        frame = store.read(asset, day, ["level", "revenue"] if level else ["revenue"])
        frame = frame.filter(level=level) if level else frame
        out[day] = int((frame["revenue"] * 100).round().cast(pl.Int64).sum())
    return out


def _core_metrics(root: str, days: list[dt.date], out_days: list[dt.date]) -> tuple[float, int]:
    """The asset's work without Dagster on ``out_days``: read each chunk's daily_agg (``chunk_days``, and the
    13 days before), rolling_metrics; nothing written. Seconds and the chunks' daily_agg rows (Dagster's
    per-day cost would hide a per-row one)."""
    from spd_assets.core.metrics import LOOKBACK_DAYS, chunk_days, rolling_metrics

    store, started, rows = DayStore(root), time.perf_counter(), 0
    step = chunk_days(store.row_count("daily_agg", days[-1]))  # as the asset chunks
    for i in range(0, len(out_days), step):
        chunk = out_days[i : i + step]
        need = [d for d in days if chunk[0] - dt.timedelta(days=LOOKBACK_DAYS) <= d <= chunk[-1]]
        frame = store.read_days("daily_agg", need)
        rows += frame.filter(pl.col("date").is_in(chunk)).height
        rolling_metrics(frame, need, chunk)
    return time.perf_counter() - started, rows


def shop_run(shop: CatalogShop, work: Path, days: int, detect_days: int, last: dt.date) -> dict:
    """daily_agg written for ``days`` days; daily_metrics over all of them and alerts over the last
    ``detect_days`` (with the history before them), each one CLI run; seconds and peak per row."""
    from spd_assets.core.detect import HISTORY_DAYS

    every = [last - dt.timedelta(days=days - 1 - i) for i in range(days)]
    env = _env(work, every[0])
    started = time.perf_counter()
    rows = shop.write(env["SPD_DATA_DIR"], every)
    written = time.perf_counter() - started
    metrics = _materialize("daily_metrics", every[0], last, env)
    root = env["SPD_DATA_DIR"]
    if _day_sums(root, "daily_agg", every) != _day_sums(root, "daily_metrics", every, "total"):
        raise AssertionError("daily_metrics' total revenue differs from daily_agg's on some day")
    core, core_rows = _core_metrics(root, every, every[-CORE_DAYS:])
    out = {
        "skus": shop.n_skus,
        "regions": shop.n_regions,
        "days": days,
        "daily_agg_rows": rows,
        "daily_agg_rows_per_day": round(rows / days),
        "write_daily_agg_s": round(written, 2),
        "daily_metrics": metrics,
        "metrics_us_per_row": round(metrics["seconds"] / rows * 1e6, 3),
        "core_metrics_days": min(CORE_DAYS, days),
        "core_metrics_s": round(core, 2),
        "core_metrics_us_per_row": round(core / core_rows * 1e6, 3),
    }
    if detect_days:
        checked = every[-detect_days:]
        if days - detect_days < HISTORY_DAYS:
            raise ValueError(f"detection needs {HISTORY_DAYS} days of history before the days it checks")
        checked_rows = sum(DayStore(root).read("daily_agg", d, ["orders"]).height for d in checked)
        alerts = _materialize("alerts", checked[0], last, env)
        found = DayStore(root).read_days("alerts", checked)
        out |= {
            "detect_days": detect_days,
            "alerts": alerts,
            "alerts_found": found.height,
            "alerts_us_per_row": round(alerts["seconds"] / checked_rows * 1e6, 3),
        }
    return out


QUICK = os.environ.get("BENCH_QUICK") == "1"
DAYS = int(os.environ.get("BENCH_CATALOG_DAYS", 365))
DETECT_DAYS = int(os.environ.get("BENCH_CATALOG_DETECT_DAYS", 31))
# Detection at the big catalog (scored in shards, so it fits), on its last DETECT_DAYS after the
# history they need, against the 500 x 6 baseline; BENCH_CATALOG_DETECT_SKUS=5000 for a quarter of it.
DETECT_SKUS = int(os.environ.get("BENCH_CATALOG_DETECT_SKUS", 20_000))


def run(work: Path) -> dict:
    """The baseline (500 x 6) and the big shop (20,000 x 20) side by side; ratios per daily_agg row."""
    from spd_assets.core.detect import HISTORY_DAYS

    last = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
    if QUICK:
        base = shop_run(CatalogShop(40, 3), work / "base", HISTORY_DAYS + 3, 3, last)
        big = shop_run(CatalogShop(400, 8), work / "big", HISTORY_DAYS + 3, 3, last)
        return {"quick": True, "base": base, "big": big}
    base = shop_run(CatalogShop(500, 6), work / "base", DAYS, DETECT_DAYS, last)
    big = shop_run(CatalogShop(20_000, 20), work / "big", DAYS, 0, last)
    wide = shop_run(
        CatalogShop(DETECT_SKUS, 20), work / "wide", HISTORY_DAYS + DETECT_DAYS, DETECT_DAYS, last
    )
    from benchmarks import dashboard

    board = dashboard.run(work / "big" / "data", baseline=False)
    return {
        "base": base,
        "big": big,
        "detect_wide": wide,
        "dashboard_big_year": board,
        "ratios": {
            "metrics_per_row_big_over_base": round(big["metrics_us_per_row"] / base["metrics_us_per_row"], 3),
            "alerts_per_row_wide_over_base": round(wide["alerts_us_per_row"] / base["alerts_us_per_row"], 3),
            "alerts_peak_wide_over_base": round(wide["alerts"]["peak_mb"] / base["alerts"]["peak_mb"], 2),
        },
        "targets": {"per_row_ratio": 2.0, "first_load_s": 1.0, "filter_change_s": 0.2},
    }


def big_only(work: Path, days: int) -> dict:
    """Only the 20,000 x 20 shop over ``days`` days (daily_agg, then daily_metrics through the CLI) and
    the dashboard on it: what the dashboard's figures need, in minutes rather than the year's 36."""
    from benchmarks import dashboard

    last = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
    big = shop_run(CatalogShop(20_000, 20), work / "big", days, 0, last)
    return {"big": big, "dashboard": dashboard.run(work / "big" / "data", baseline=False)}


def main(argv: list[str]) -> int:
    """``python -m benchmarks.catalog_scale [--big-only DAYS]``; BENCH_CATALOG_DIR keeps the shops' files."""
    kept = os.environ.get("BENCH_CATALOG_DIR")  # keep the shops' files there (to profile the dashboard)
    with tempfile.TemporaryDirectory(prefix="spd-bench-catalog-") as tmp:
        work = Path(kept or tmp)
        out = big_only(work, int(argv[1])) if argv[:1] == ["--big-only"] else run(work)
        print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

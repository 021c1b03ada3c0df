"""Which engine groups orders fastest: pandas, Polars or DuckDB on the same hive-partitioned Parquet.

Each engine runs in its own process so peak memory is the whole process's, as a user would see it.
"""

from __future__ import annotations

import datetime as dt
import resource
import sys
import time
from pathlib import Path

QUERY_KEYS = ["date", "sku", "region"]


def write_orders(root: Path, days: int, orders_per_day: int) -> int:
    """Synthetic orders under ``root/orders/date=.../data.parquet``; returns the row count."""
    from spd_assets.core.storage import DayStore
    from spd_assets.core.synthetic.catalog import generate_catalog
    from spd_assets.core.synthetic.orders import generate_day

    store, catalog, rows = DayStore(str(root)), generate_catalog(500, 7), 0
    for i in range(days):
        day = dt.date(2025, 3, 1) + dt.timedelta(days=i)
        frame = generate_day(day, catalog, orders_per_day, 7).orders
        store.write("orders", day, frame)
        rows += frame.height
    return rows


def aggregate(engine: str, root: Path) -> int:
    """Group every order by date x sku x region with ``engine``; returns the number of groups."""
    files = sorted(str(p) for p in root.glob("orders/date=*/data.parquet"))
    if engine == "pandas":
        import pandas as pd

        frame = pd.concat(
            [pd.read_parquet(f, columns=["date", "sku", "region", "qty", "revenue"]) for f in files]
        )
        out = frame.groupby(QUERY_KEYS, observed=True).agg(
            orders=("qty", "size"), units=("qty", "sum"), revenue=("revenue", "sum")
        )
        return len(out)
    if engine == "polars":
        import polars as pl

        out = (
            pl.scan_parquet(files)
            .group_by(QUERY_KEYS)
            .agg(orders=pl.len(), units=pl.col("qty").sum(), revenue=pl.col("revenue").sum())
            .collect()
        )
        return out.height
    if engine == "duckdb":
        import duckdb

        con = duckdb.connect()
        sql = "select date, sku, region, count(*), sum(qty), sum(revenue) from read_parquet(?) group by all"
        return len(con.execute(sql, [files]).fetchall())
    raise ValueError(f"unknown engine {engine!r}")


def child(engine: str, root: str) -> None:
    """Entry point of the measuring subprocess: prints seconds, peak MB and groups."""
    started = time.perf_counter()
    groups = aggregate(engine, Path(root))
    seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{seconds:.3f} {peak_mb:.0f} {groups}")


if __name__ == "__main__":
    child(sys.argv[1], sys.argv[2])

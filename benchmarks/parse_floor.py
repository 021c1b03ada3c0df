"""How fast this machine can turn the landing exports into columns at all, before any rule of spd's.

Per day file, in one process (medians over the days): counting the file's newlines (the bytes read
once), Polars' CSV reader with every column as text, DuckDB's CSV reader into a Polars frame, then
spd's own ``read_orders_file`` and ``validate_file`` (what the orders step does for a day). It puts
the landing target (orders per second over the whole run) beside what reading and validating alone
allow here: a run can be no faster than its read and validation.

``python -m benchmarks.parse_floor [--days N] [--lines N] [--exports DIR]`` prints one JSON dict: it reads
the newest ``--days`` exports of DIR (e.g. ``.bench-exports/history-60x1000000-5000x20``, which
``make bench-landing`` keeps), or writes its own with ``benchmarks.landing``. ``BENCH_QUICK=1``: tiny.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import polars as pl

from benchmarks.landing import history, write_history
from spd_assets.core.landing.files import landing_mapping, read_orders_file, validate_file

TARGET_ORDERS_PER_S = 1_200_000  # issue #15's landing history target


def _newlines(path: Path) -> int:
    count = 0
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(8 << 20), b""):
            count += block.count(b"\n")
    return count


def _day(path: Path, mapping) -> dict[str, tuple[float, int]]:
    """Each way of reading one day file: (seconds, rows it read)."""
    day = dt.date.fromisoformat(path.stem.removeprefix("orders_"))
    sql = f"select * from read_csv('{path}', all_varchar = true)"
    out = {}
    started = time.perf_counter()
    newlines = _newlines(path)
    out["newlines"] = (time.perf_counter() - started, newlines - 1)  # the header is not an order line
    started = time.perf_counter()
    rows = pl.read_csv(path, infer_schema=False).height
    out["polars_text"] = (time.perf_counter() - started, rows)
    started = time.perf_counter()
    rows = duckdb.sql(sql).pl().height
    out["duckdb_to_polars"] = (time.perf_counter() - started, rows)
    started = time.perf_counter()
    raw, digest = read_orders_file(path)
    out["spd_read"] = (time.perf_counter() - started, raw.height)
    started = time.perf_counter()
    checked = validate_file(raw, day, path, mapping, None, digest)
    out["spd_validate"] = (time.perf_counter() - started, checked.report.rows_in)
    return out


def measure(days: int = 8, lines: int = 1_000_000, exports: str | None = None) -> dict:
    """Seconds a day (median) of each way of reading, and the orders a second they leave room for."""
    if os.environ.get("BENCH_QUICK") == "1":
        days, lines = 2, 2_000
    with tempfile.TemporaryDirectory(prefix="spd-parse-floor-") as tmp:
        folder = Path(exports) if exports else Path(tmp)
        if not exports:
            write_history(folder, history(days), lines, 5_000, 20)
        paths = sorted(folder.glob("orders_*.csv"))[-days:]
        if not paths:
            raise SystemExit(f"{folder}: no orders_YYYY-MM-DD.csv export to read")
        each = [_day(path, landing_mapping(folder)) for path in paths]
    per_day = {way: round(statistics.median(d[way][0] for d in each), 3) for way in each[0]}
    rows = {way: sum(d[way][1] for d in each) for way in each[0]}
    lines_a_day = rows["newlines"] / len(paths)
    read_validate = per_day["spd_read"] + per_day["spd_validate"]
    return {
        "days": len(paths),
        "lines_a_day": lines_a_day,
        "seconds_a_day": per_day,
        "rows_read": rows,  # every way reads every line
        "spd_read_validate_orders_per_s": round(lines_a_day / read_validate),
        "target_seconds_a_day": round(lines_a_day / TARGET_ORDERS_PER_S, 3),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=8)
    parser.add_argument("--lines", type=int, default=1_000_000, help="order lines a day")
    parser.add_argument("--exports", help="a folder of exports to read instead of writing new ones")
    args = parser.parse_args()
    print(json.dumps(measure(args.days, args.lines, args.exports)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

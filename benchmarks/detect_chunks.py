"""A range run's detection in chunks of 31 days, in the alerts asset's chunks, and in one call: seconds
and alerts over a generated year (the demo's shape, Poisson counts, ``--skus`` x 6 regions), and how
many alerts differ from the 31-day chunks' (a day's spread may read lookbacks chained past
HISTORY_DAYS, about 120 days deep, and a longer window holds more of them). With
``--one-call-regions R``: one 31-day call of a year's range run at ``--skus`` x R instead.

Every ``detect_drops`` call scores its HISTORY_DAYS again, so the chunk length sets how many days a
year's run scores. Run as ``python -m benchmarks.detect_chunks [--skus 500]``; prints one JSON line.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import time
from dataclasses import replace

import polars as pl

from spd_assets.core.detect import HISTORY_DAYS, MIN_CHUNK_DAYS, chunk_days, detect_drops
from spd_assets.core.incidents import LEAF_COLUMNS, LEAF_ROWS
from spd_assets.core.metrics import daily_series
from spd_assets.core.schema import LEVELS
from spd_assets.core.synthetic.shapes import FAMILY, generate_shop


def measure(skus: int, first: dt.date, last: dt.date, seed: int = 7) -> dict:
    """Seconds and alert ids of the checked days in each chunk length, as the alerts asset calls it."""
    shop = generate_shop(replace(FAMILY["demo"], n_skus=skus), first, last, HISTORY_DAYS, seed)
    series = daily_series(shop.daily_agg, shop.days).filter(pl.col("level").is_in(LEVELS))  # checked ones
    checked = shop.days[HISTORY_DAYS:]
    per_day = series.height // len(shop.days)
    out: dict = {"skus": skus, "rows_per_day": per_day, "days_checked": len(checked), "chunks": {}}
    ids = {}
    for step in dict.fromkeys((MIN_CHUNK_DAYS, chunk_days(per_day), len(checked))):
        started, found = time.perf_counter(), []
        for i in range(0, len(checked), step):
            chunk = checked[i : i + step]
            need = [d for d in shop.days if chunk[0] - dt.timedelta(days=HISTORY_DAYS) <= d <= chunk[-1]]
            window = series.filter(pl.col("date").is_between(need[0], need[-1]))
            found.append(detect_drops(window, chunk, need, keep=LEAF_ROWS, columns=LEAF_COLUMNS).alerts)
        ids[step] = set(pl.concat(found)["alert_id"])
        out["chunks"][step] = {"seconds": round(time.perf_counter() - started, 2), "alerts": len(ids[step])}
    # Alerts one chunking finds and the 31-day one does not, or the reverse: borderline days whose
    # spread reads lookbacks chained past HISTORY_DAYS, which a longer window holds more of.
    for step, found in ids.items():
        out["chunks"][step]["differ_from_31"] = len(found ^ ids[MIN_CHUNK_DAYS])
    return out


def one_call(skus: int, regions: int, seed: int = 7) -> dict:
    """One call of a year's range run at ``skus`` x ``regions``: MIN_CHUNK_DAYS checked on their
    HISTORY_DAYS and themselves, as the alerts asset makes it on a catalog too big for longer chunks."""
    last = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
    names = tuple(f"region-{i:02d}" for i in range(regions))
    shape = replace(FAMILY["demo"], n_skus=skus, regions=names, region_share=(1.0,) * regions)
    shop = generate_shop(shape, last - dt.timedelta(days=MIN_CHUNK_DAYS - 1), last, HISTORY_DAYS, seed)
    series = daily_series(shop.daily_agg, shop.days).filter(pl.col("level").is_in(LEVELS))  # checked ones
    started = time.perf_counter()
    detect_drops(series, shop.days[HISTORY_DAYS:], shop.days, keep=LEAF_ROWS, columns=LEAF_COLUMNS)
    seconds = time.perf_counter() - started
    return {"skus": skus, "regions": regions, "days_read": len(shop.days), "rows": series.height,
            "seconds": round(seconds, 1)}  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skus", type=int, default=500)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--one-call-regions", type=int, default=0, help="time one big-catalog call instead")
    args = parser.parse_args()
    if args.one_call_regions:
        print(json.dumps(one_call(args.skus, args.one_call_regions)))
        return 0
    last = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
    print(json.dumps(measure(args.skus, last - dt.timedelta(days=args.days - 1), last)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The alerts step alone on a big catalog: a range run over the newest days, and the nightly day.

Builds (or reuses, ``--keep DIR``) a data dir of ``--days`` days of daily_metrics of a generated shop
(the demo's shape at ``--skus`` x ``--regions``, written as the pipeline writes them), then times
``dagster asset materialize --select alerts`` in a fresh process, as a user's CLI runs it (start-up
included), with the run's own peak RSS:

- **range**: the newest ``--checked`` days in one run, their HISTORY_DAYS of history stored under
  them (what a backfill's detection costs once history is full, chunked by ``chunk_days``);
- **nightly**: the newest day alone on its full history (what every night costs a big catalog).

Detection reads only daily_metrics, so nothing else is built. Compare two versions of the code by
running this from two checkouts on the same ``--keep`` dir. ``python -m benchmarks.alerts_step
[--skus 5000] [--regions 20] [--days 182] [--checked 86] [--keep DIR]`` prints one JSON dict.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

from benchmarks.landing import DAGSTER, _env, _timed, history
from spd_assets.core.metrics import LOOKBACK_DAYS, rolling_metrics
from spd_assets.core.run_tags import DEFINITIONS
from spd_assets.core.storage import DayStore
from spd_assets.core.synthetic.shapes import FAMILY, generate_shop

BUILD_DAYS = 14  # days of daily_metrics computed at once while the data dir is built


def build(data_dir: Path, days: list[dt.date], skus: int, regions: int, seed: int = 7) -> None:
    """daily_metrics of ``days`` for a generated shop, skipped when the data dir holds them already."""
    store = DayStore(str(data_dir))
    if all(store.exists("daily_metrics", d) for d in days):
        return
    names = tuple(f"region-{i:02d}" for i in range(regions))
    shape = replace(FAMILY["demo"], n_skus=skus, regions=names, region_share=(1.0,) * regions)
    shop = generate_shop(shape, days[0], days[-1], 0, seed)
    agg = shop.daily_agg
    for start in range(0, len(days), BUILD_DAYS):
        out = days[start : start + BUILD_DAYS]
        need = [d for d in days if out[0] - dt.timedelta(days=LOOKBACK_DAYS) <= d <= out[-1]]
        metrics = rolling_metrics(agg.filter(agg["date"].is_between(need[0], need[-1])), need, out)
        for day in out:
            store.write("daily_metrics", day, metrics.filter(metrics["date"] == day))


def _alerts(work: Path, first: dt.date, last: dt.date) -> dict:
    """One ``dagster asset materialize --select alerts`` over first..last, in a fresh instance."""
    home = work / f"home-{first}-{last}"
    home.mkdir(parents=True, exist_ok=True)
    env = {**_env(work, work / "landing"), "DAGSTER_HOME": str(home), "SPD_SOURCE": "synthetic"}
    span = ["--partition", str(first)] if first == last else ["--partition-range", f"{first}...{last}"]
    run = _timed([DAGSTER, "asset", "materialize", "-m", DEFINITIONS, "--select", "alerts", *span], env)
    store = DayStore(env["SPD_DATA_DIR"])
    span_days = [first + dt.timedelta(days=k) for k in range((last - first).days + 1)]
    written = [d for d in span_days if store.exists("alerts", d)]
    peak_gb = run["peak_mb"] * 1024**2 / 1e9
    return {
        "seconds": round(run["seconds"], 2),
        "peak_gb": round(peak_gb, 3),
        "alerts": sum(store.row_count("alerts", d) for d in written),
        "day_files": len(written),
    }


def measure(skus: int, regions: int, n_days: int, checked: int, keep: str | None = None) -> dict:
    """The range and the nightly alerts runs on one data dir; ``BENCH_QUICK=1``: tiny sizes."""
    if os.environ.get("BENCH_QUICK") == "1":
        skus, regions, n_days, checked = 20, 3, 100, 5
    days = history(n_days)
    with tempfile.TemporaryDirectory(prefix="spd-alerts-step-") as tmp:
        root = Path(keep).resolve() if keep else Path(tmp)
        work = root / f"alerts-{n_days}d-{skus}x{regions}"
        build(work / "data", days, skus, regions)
        out = {
            "measured_on": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "skus": skus,
            "regions": regions,
            "days_stored": n_days,
            "range": {"days": checked, **_alerts(work, days[-checked], days[-1])},
            "nightly": _alerts(work, days[-1], days[-1]),
        }
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skus", type=int, default=5_000)
    parser.add_argument("--regions", type=int, default=20)
    parser.add_argument("--days", type=int, default=182, help="days of daily_metrics stored")
    parser.add_argument("--checked", type=int, default=86, help="newest days the range run checks")
    parser.add_argument("--keep", help="build (or reuse) the data dir under this folder")
    args = parser.parse_args()
    print(json.dumps(measure(args.skus, args.regions, args.days, args.checked, args.keep)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

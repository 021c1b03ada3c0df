"""The dashboard's data module on a year of history: first load and filter change, cache cold and warm.

``run(data_dir)`` measures an existing data dir (``benchmarks/run.py`` passes its year backfill).
``python -m benchmarks.dashboard [DATA_DIR]`` measures DATA_DIR, or first materializes a year at
500 SKUs x 6 regions into a temporary directory (BENCH_DAYS, BENCH_ORDERS, BENCH_SKUS to change it).

What is timed is exactly what the pages ask the data module for (the Streamlit run itself, drawing
and sending to the browser, is not): "first load" is the sidebar plus the Overview page with the
default filters; "filter change" is the same after one sidebar filter changed.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from spd_assets.core.run_tags import range_tags

REPEATS = 5


def _quiet_streamlit() -> None:
    """st.cache_data works outside a Streamlit server but warns about it on every call (a filter, because
    Streamlit resets its loggers' levels when it reads its config)."""
    for name, text in (
        ("streamlit.runtime.caching.cache_data_api", "No runtime found"),
        ("streamlit.runtime.scriptrunner_utils.script_run_context", "missing ScriptRunContext"),
    ):
        logging.getLogger(name).addFilter(lambda record, text=text: text not in record.getMessage())


def _page_calls(root: str, regions: tuple = (), categories: tuple = (), search: str = "", days: int = 28):
    """The data-module calls of one Overview page run (sidebar included), for a filter state, in one
    listing of each asset as the app makes them."""
    from spd_dashboard import query

    with query.one_listing():
        return _overview_calls(root, regions, categories, search, days)


def _overview_calls(root: str, regions: tuple, categories: tuple, search: str, days: int):
    from spd_dashboard import query, summary
    from spd_dashboard.selection import Period, Selection, filter_alerts, match_skus

    b = query.bounds(root)
    period = Period(max(b.first, b.last - dt.timedelta(days=days - 1)), b.last)
    selection = Selection(regions, categories, match_skus(query.catalog(root), search))
    prev_ok = query.scan(root, "daily_agg").count_between(period.prev_start, period.prev_end) == period.days
    totals = query.daily_totals(root, selection, period.start, period.end)
    previous = query.period_totals(root, selection, period.prev_start, period.prev_end) if prev_ok else None
    seven = query.seven_day(root, selection, period.start, period.end)
    summary.period_kpis(totals, previous, seven)
    query.cancelled(root, selection, period.start, period.end)
    filter_alerts(query.alerts(root, period.start, period.end), selection)
    table = summary.sku_table(
        query.by_sku(root, selection, period, daily=False), query.catalog(root), prev_ok
    )
    summary.movers(table)
    return totals


def _change_name(change: dict) -> str:
    """A filter change as the figures name it: ``regions=us-east,eu-west categories=toys``."""
    return " ".join(f"{k}={','.join(v) if isinstance(v, tuple) else v}" for k, v in change.items())


def _clock(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def _clear_caches() -> None:
    import streamlit as st

    from spd_dashboard.query.files import clear_memory

    st.cache_data.clear()
    clear_memory()


def _other_pages(root: str) -> dict[str, float]:
    """Cold time of the other pages' data calls (SKUs: one SKU's history; Regions; Data health)."""
    from spd_dashboard import query
    from spd_dashboard.selection import Period, Selection

    b = query.bounds(root)
    period = Period(b.last - dt.timedelta(days=27), b.last)
    sku = query.catalog(root)["sku"][0]
    one = Selection(skus=(sku,))

    def regions() -> None:
        query.by_region_category(root, Selection(), period)
        query.region_daily(root, Selection(), period.start, period.end)
        query.seven_day(root, Selection(), period.start, period.end, by_region=True)

    def history() -> None:
        query.region_daily(root, one, b.last - dt.timedelta(days=89), b.last)
        query.seven_day(root, one, b.last - dt.timedelta(days=89), b.last)

    def health() -> None:
        for asset in query.list_assets(root):
            query.partitions(root, asset)

    out = {}
    for name, fn in (("regions", regions), ("sku_history", history), ("health", health)):
        _clear_caches()
        with query.one_listing():
            out[f"{name}_cold_s"] = round(_clock(fn), 4)
    return out


def _naive_pandas(root: str, files: tuple[str, ...]) -> float:
    """The baseline the data module replaces: every daily_agg file into pandas, then the period's sums."""
    import pandas as pd

    def load() -> None:
        frame = pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)
        last = frame["date"].max()
        frame[frame["date"] > last - pd.Timedelta(days=28)].groupby("date")[
            ["revenue", "orders", "units"]
        ].sum()

    return round(_clock(load), 4)


def _whole_page(root: str) -> dict[str, float]:
    """The Overview script end to end in AppTest (data, KPIs, plotly figures, tables), cold and warm."""
    from streamlit.testing.v1 import AppTest

    app = Path(__file__).resolve().parents[1] / "spd_dashboard" / "app.py"
    before = os.environ.get("SPD_DATA_DIR")
    os.environ["SPD_DATA_DIR"] = root
    try:
        _clear_caches()
        at = AppTest.from_file(str(app), default_timeout=120)
        first = _clock(at.run)  # also imports plotly and the pages: once per server process
        _clear_caches()
        cold = _clock(at.run)
        warm = _clock(at.run)
        assert not at.exception, [e.message for e in at.exception]
    finally:
        if before is None:
            os.environ.pop("SPD_DATA_DIR")
        else:
            os.environ["SPD_DATA_DIR"] = before
    return {
        "overview_script_first_in_process_s": round(first, 4),
        "overview_script_cold_s": round(cold, 4),
        "overview_script_warm_s": round(warm, 4),
    }


def run(data_dir: str | Path, baseline: bool = True) -> dict:
    """Median seconds of the data-module work behind a page view, cold and warm, on ``data_dir``.

    ``baseline=False`` leaves out loading every daily_agg file into pandas (146 M rows at catalog scale).
    """
    _quiet_streamlit()
    from spd_dashboard import query

    root = str(data_dir)
    files = query.scan(root, "daily_agg")
    if not files.days:
        raise SystemExit(f"no daily_agg in {root}: materialize a history first")
    first_ever = _clock(lambda: _page_calls(root))  # includes DuckDB's one-time start in this process
    cold, warm = [], []
    for _ in range(REPEATS):
        _clear_caches()
        cold.append(_clock(lambda: _page_calls(root)))
        warm.append(_clock(lambda: _page_calls(root)))
    b = query.bounds(root)
    cats = b.categories
    changes = [
        {"regions": (b.regions[0],)},
        {"regions": b.regions[1:3]},
        {"categories": (cats[0],)},
        {"regions": (b.regions[-1],), "categories": cats[1:3]},
        {"search": "SKU-00"},
        {"days": 90},
        {"days": 7},
    ]
    _clear_caches()
    _page_calls(root)  # the page as first opened: what a filter change starts from
    change_cold = [_clock(lambda c=c: _page_calls(root, **c)) for c in changes]
    change_warm = [_clock(lambda c=c: _page_calls(root, **c)) for c in changes]
    agg_rows = query.partitions(root, "daily_agg")["rows"].sum()
    metrics_rows = query.partitions(root, "daily_metrics")["rows"].sum()
    return {
        "days": len(files.days),
        "skus": query.catalog(root).height,
        "regions": len(b.regions),
        "daily_agg_rows": int(agg_rows),
        "daily_metrics_rows": int(metrics_rows),
        "first_load_first_in_process_s": round(first_ever, 4),
        "first_load_cold_s": round(statistics.median(cold), 4),
        "first_load_warm_s": round(statistics.median(warm), 4),
        "filter_change_cold_s": round(statistics.median(change_cold), 4),
        "filter_change_cold_max_s": round(max(change_cold), 4),
        "filter_change_warm_s": round(statistics.median(change_warm), 4),
        "filter_change_cold_each_s": {
            _change_name(c): round(t, 4) for c, t in zip(changes, change_cold, strict=True)
        },
        **_other_pages(root),
        **_whole_page(root),
        "baseline_pandas_every_file_s": _naive_pandas(root, files.files) if baseline else None,
        "targets": {"first_load_s": 2.0, "filter_change_s": 0.3},
    }


def make_year(data_dir: Path, days: int, orders: int, skus: int) -> None:
    """Materialize ``days`` days ending yesterday with the real pipeline, in a child process."""
    last = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
    first = last - dt.timedelta(days=days - 1)
    env = {**os.environ, "SPD_DATA_DIR": str(data_dir), "SPD_START_DATE": first.isoformat(),
           "SPD_ORDERS_PER_DAY": str(orders), "SPD_SKUS": str(skus)}  # fmt: skip
    tags = range_tags(first, last)
    code = (
        "import dagster as dg; from spd_assets.definitions import defs\n"
        "with dg.instance_for_test() as i:\n"
        "    dg.materialize([defs.get_assets_def('catalog')], instance=i, resources=defs.resources)\n"
        f"    r = defs.resolve_job_def('daily_pipeline').execute_in_process(instance=i, tags={tags!r})\n"
        "    assert r.success\n"
    )
    subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True)


def main(argv: list[str]) -> int:
    if argv:
        print(json.dumps(run(argv[0]), indent=2))
        return 0
    days = int(os.environ.get("BENCH_DAYS", 365))
    orders = int(os.environ.get("BENCH_ORDERS", 20_000))
    skus = int(os.environ.get("BENCH_SKUS", 500))
    with tempfile.TemporaryDirectory(prefix="spd-bench-dashboard-") as tmp:
        print(f"materializing {days} days x {orders:,} orders x {skus} SKUs ...", file=sys.stderr, flush=True)
        started = time.perf_counter()
        make_year(Path(tmp), days, orders, skus)
        print(f"  done in {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
        print(json.dumps(run(tmp), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

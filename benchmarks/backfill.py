"""Year backfill in one run vs one run per partition vs the bare core functions (the compute floor).

Each measurement runs in a fresh process so wall time includes what a user waits for and peak
memory is the process's own.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import os
import resource
import sys
import time

from spd_assets.core.run_tags import range_tags


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def single_run(first: str, last: str, storage: str = "sqlite") -> dict:
    """All assets over first..last in one Dagster run (what a UI or CLI backfill does).

    ``storage="sqlite"`` is the instance ``make run`` uses; ``"memory"`` isolates Dagster's own
    execution overhead from the cost of writing its event log to SQLite.
    """
    import contextlib

    import dagster as dg

    from spd_assets.definitions import defs

    started = time.perf_counter()
    ctx = (
        dg.instance_for_test()
        if storage == "sqlite"
        else contextlib.nullcontext(dg.DagsterInstance.ephemeral())
    )
    with ctx as instance:
        dg.materialize([defs.get_assets_def("catalog")], instance=instance, resources=defs.resources)
        result = defs.resolve_job_def("daily_pipeline").execute_in_process(
            instance=instance,
            tags=range_tags(first, last),
        )
        assert result.success
    return {"seconds": time.perf_counter() - started, "peak_mb": _peak_mb()}


def compute_floor(
    first: str, last: str, orders_per_day: int, n_skus: int, data_dir: str | None = None
) -> dict:
    """The same core functions in a plain loop: generate, aggregate, rolling metrics, detect drops.

    With ``data_dir`` it also writes every asset's Parquet and reads the orders back, as the pipeline
    does: the floor for the same work persisted, without Dagster.
    """
    import polars as pl

    from spd_assets.core.aggregate import aggregate_daily
    from spd_assets.core.detect import HISTORY_DAYS, chunk_days, detect_drops
    from spd_assets.core.metrics import LOOKBACK_DAYS, rolling_metrics
    from spd_assets.core.storage import DayStore, day_windows
    from spd_assets.core.synthetic.catalog import generate_catalog
    from spd_assets.core.synthetic.orders import generate_day

    started = time.perf_counter()
    catalog = generate_catalog(n_skus, 7)
    first_day, last_day = dt.date.fromisoformat(first), dt.date.fromisoformat(last)
    days = [first_day + dt.timedelta(days=i) for i in range((last_day - first_day).days + 1)]
    store = DayStore(data_dir) if data_dir else None
    aggs = {}
    for day in days:  # orders, ground truth and the daily aggregate, a day at a time
        generated = generate_day(day, catalog, orders_per_day, 7)
        orders = generated.orders
        if store:
            store.write("orders", day, orders)
            store.write("injected_drops", day, generated.truth)
            orders = store.read("orders", day)
        aggs[day] = aggregate_daily(orders, catalog)
        if store:
            store.write("daily_agg", day, aggs[day])
    metrics = {}
    for i in range(0, len(days), 31):  # rolling metrics in the same 31-day chunks as the asset
        chunk = days[i : i + 31]
        need = [d for d in days if chunk[0] - dt.timedelta(days=LOOKBACK_DAYS) <= d <= chunk[-1]]
        frame = rolling_metrics(pl.concat([aggs[d] for d in need]), days=need, output_days=chunk)
        for (day,), part in frame.partition_by("date", as_dict=True).items():
            metrics[day] = part
            if store:
                store.write("daily_metrics", day, part)
    size = functools.partial(chunk_days, metrics[days[-1]].height)  # the alerts asset's chunks
    for chunk, need in day_windows(days, days, HISTORY_DAYS, size):
        found = detect_drops(pl.concat([metrics[d] for d in need]), chunk, available=need).alerts
        if store:
            for day in chunk:
                store.write("alerts", day, found.filter(pl.col("date") == day))
    return {"seconds": time.perf_counter() - started, "peak_mb": _peak_mb()}


if __name__ == "__main__":
    kind, *args = sys.argv[1:]
    if kind == "single":
        out = single_run(*args)
    elif kind == "single_memory":
        out = single_run(*args, storage="memory")
    else:
        data_dir = os.environ["SPD_DATA_DIR"] if kind == "floor_io" else None
        orders, skus = int(os.environ["SPD_ORDERS_PER_DAY"]), int(os.environ["SPD_SKUS"])
        out = compute_floor(args[0], args[1], orders, skus, data_dir)
    print(json.dumps(out))

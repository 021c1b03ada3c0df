"""What Dagster's instance storage costs spd: SQLite (the default) vs PostgreSQL (deploy/dagster.yaml),
measured in the same process, one after the other, so the ratios compare like with like.

- per run: an empty partitioned job run in process (run record, start/success events, the step's
  events), the median of ``--runs`` runs: the storage's part of every run's cost;
- per partition event: one asset materialization of one partition reported to the instance (what a
  range run writes for each day of each asset), the median of ``--events`` writes;
- partitions an hour one code location sustains: spd's `daily_pipeline` over ``--days`` days as one CLI
  run (a fresh process, as a run worker starts), on each instance, extrapolated to an hour of back-to-back
  runs of that size.

The Postgres server is Debian's, started on loopback by tests/pg_server.py (fsync off, as in the tests:
a production server syncs, so its per-event cost is higher there).

``python -m benchmarks.instance [--runs N] [--events N] [--days N] [--orders N]`` prints one JSON dict.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import dagster as dg

from spd_assets.core.run_tags import catalog_command, pipeline_command, range_tags
from spd_assets.launcher import DAGSTER_YAML

ROOT = Path(__file__).resolve().parent.parent
DAGSTER = str(Path(sys.executable).parent / "dagster")
sys.path.insert(0, str(ROOT / "tests"))
from pg_server import dagster_pg_env, new_database, postgres_server  # noqa: E402

DAILY = dg.DailyPartitionsDefinition(start_date="2025-01-01")
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


@dg.asset(partitions_def=DAILY)
def probe() -> dg.MaterializeResult:
    return dg.MaterializeResult()


PROBE_JOB = dg.define_asset_job("probe_job", selection=[probe])
PROBE_DEFS = dg.Definitions(assets=[probe], jobs=[PROBE_JOB], executor=dg.in_process_executor)


@contextmanager
def env_set(values: dict[str, str]):
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def per_run_and_event(home: Path, runs: int, events: int) -> dict[str, float]:
    """Median seconds per empty run and per reported partition materialization on ``home``'s instance."""
    job = PROBE_DEFS.resolve_job_def("probe_job")
    keys = DAILY.get_partition_keys()
    with dg.DagsterInstance.from_config(str(home)) as instance:
        # the first run creates the schema and warms the caches: not counted
        job.execute_in_process(instance=instance, partition_key=keys[0], run_config=QUIET)
        run_s = []
        for i in range(runs):
            t = time.perf_counter()
            job.execute_in_process(instance=instance, partition_key=keys[i % len(keys)], run_config=QUIET)
            run_s.append(time.perf_counter() - t)
        event_s = []
        for i in range(events):
            event = dg.AssetMaterialization(asset_key="probe", partition=keys[i % len(keys)])
            t = time.perf_counter()
            instance.report_runless_asset_event(event)
            event_s.append(time.perf_counter() - t)
    return {"run_s": statistics.median(run_s), "event_ms": 1000 * statistics.median(event_s)}


def pipeline_range(home: Path, env: dict[str, str], days: int) -> float:
    """Seconds of one CLI run of `daily_pipeline` over ``days`` days (the catalog first, not counted)."""
    end = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=2)
    first = end - dt.timedelta(days=days - 1)
    run_env = {**os.environ, **env, "DAGSTER_HOME": str(home)}
    subprocess.run([DAGSTER, *catalog_command()], env=run_env, cwd=ROOT, check=True, capture_output=True)
    t = time.perf_counter()
    subprocess.run(
        [DAGSTER, *pipeline_command(range_tags(first, end))],
        env=run_env,
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - t


def measure(runs: int = 20, events: int = 300, days: int = 14, orders: int = 20_000) -> dict:
    root = Path(tempfile.mkdtemp(prefix="spd-bench-instance-"))
    shop = {"SPD_ORDERS_PER_DAY": str(orders), "SPD_SKUS": "200", "SPD_SEED": "7", "SPD_WEBHOOK_URL": ""}
    deploy_yaml = (ROOT / "deploy" / "dagster.yaml").read_text()
    out: dict = {"runs": runs, "events": events, "days": days, "orders_per_day": orders}
    try:
        with postgres_server() as url:
            for name in ("sqlite", "postgres"):
                home = root / name / "home"
                home.mkdir(parents=True)
                env = {**shop, "SPD_DATA_DIR": str(root / name / "data")}
                if name == "postgres":
                    env |= dagster_pg_env(new_database(url, "bench_instance"))
                    env["SPD_STATE_URL"] = new_database(url, "bench_state")
                (home / "dagster.yaml").write_text(deploy_yaml if name == "postgres" else DAGSTER_YAML)
                with env_set(env):
                    costs = per_run_and_event(home, runs, events)
                seconds = pipeline_range(home, env, days)
                out[name] = {**costs, "pipeline_s": round(seconds, 2),
                             "partitions_per_hour": round(days / seconds * 3600)}  # fmt: skip
                out[name] = {k: round(v, 4) if isinstance(v, float) else v for k, v in out[name].items()}
    finally:
        shutil.rmtree(root, ignore_errors=True)
    sq, pg = out["sqlite"], out["postgres"]
    out["postgres_over_sqlite"] = {k: round(pg[k] / sq[k], 2) for k in ("run_s", "event_ms", "pipeline_s")}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--events", type=int, default=300)
    parser.add_argument("--days", type=int, default=14)
    parser.add_argument("--orders", type=int, default=20_000)
    args = parser.parse_args()
    print(json.dumps(measure(args.runs, args.events, args.days, args.orders), indent=2))


if __name__ == "__main__":
    main()

"""Where a nightly CLI run's wall time goes apart from the data work: start-up, Dagster's run, exit.

The nightly case of ``benchmarks.landing`` (a fortnight of 1M-line exports, 500 SKUs x 6 regions,
backfilled once, then the last day re-run by ``dagster job execute``), each run split by the run's own
event timestamps (wall clock, so comparable with the time the command was started):

- ``to_first_event_s``: Python and Dagster's CLI, the instance, spd's definitions, the run's creation
- ``planned_events_s``: the run's "planned" events, then its start
- ``steps_s``: first step start to last step success (the data work, and each step's own events)
  (and, in ``steps_s`` beside ``nightly``, each step's own STEP_START to STEP_SUCCESS)
- ``after_steps_s``: run success and teardown; ``exit_s``: from the last event to the process's end

Beside them, the imports on their own (best of 3): ``dagster --version``, ``import dagster, polars``
and ``import spd_assets.definitions``. Medians of ``--runs`` runs, with the CPU seconds of each (the
machine may be shared: CPU time moves less than wall time under load).

``python -m benchmarks.startup [--runs 3] [--lines 1000000] [--keep DIR]`` prints one JSON dict.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.landing import DAGSTER, ROOT, _env, cli_backfill, history, startup, write_history
from spd_assets.core.run_tags import PARTITION_TAG, pipeline_command

NIGHTLY_DAYS = 15  # the metrics' lookback under the re-run day, as in benchmarks.landing


def _events(home: Path, run_id: str) -> list[tuple[float, str | None, str | None]]:
    """(timestamp, event type, step key) of a run's events, in order, from its SQLite shard."""
    with sqlite3.connect(home / "history" / "runs" / f"{run_id}.db") as db:
        rows = db.execute(
            "select timestamp, dagster_event_type, step_key from event_logs order by id"
        ).fetchall()
    return [(dt.datetime.fromisoformat(t).replace(tzinfo=dt.UTC).timestamp(), e, k) for t, e, k in rows]


def _step_seconds(events: list[tuple[float, str | None, str | None]]) -> dict[str, float]:
    """Each step's own time, STEP_START to STEP_SUCCESS."""
    at = {(k, e): t for t, e, k in events if e in ("STEP_START", "STEP_SUCCESS")}
    return {k: at[k, "STEP_SUCCESS"] - at[k, "STEP_START"] for t, e, k in events if e == "STEP_START"}


def _latest_run(home: Path) -> str:
    with sqlite3.connect(home / "history" / "runs.db") as db:
        return db.execute("select run_id from runs order by id desc limit 1").fetchone()[0]


def nightly_phases(work: Path, landing: Path, day: dt.date) -> dict:
    """One nightly run of ``day``: its wall and CPU time and the phases its events mark."""
    env = _env(work, landing)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.time()
    out = subprocess.run(
        [DAGSTER, *pipeline_command({PARTITION_TAG: str(day)})], env=env, cwd=ROOT, capture_output=True
    )
    ended = time.time()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if out.returncode != 0:
        raise RuntimeError(out.stderr.decode()[-4000:])
    events = _events(work / "home", _latest_run(work / "home"))
    first, last = events[0][0], events[-1][0]
    run_start = next(t for t, e, _ in events if e == "PIPELINE_START")
    step_start = next(t for t, e, _ in events if e == "STEP_START")
    step_end = [t for t, e, _ in events if e == "STEP_SUCCESS"][-1]
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return {
        "wall_s": ended - started,
        "cpu_s": cpu,
        "to_first_event_s": first - started,
        "planned_events_s": run_start - first,
        "to_first_step_s": step_start - run_start,
        "steps_s": step_end - step_start,
        "after_steps_s": last - step_end,
        "exit_s": ended - last,
        "events": len(events),
        "step_s": _step_seconds(events),
    }


def measure(
    runs: int = 3, lines: int = 1_000_000, skus: int = 500, regions: int = 6, keep: str | None = None
) -> dict:
    """The nightly case's phases (medians of ``runs``) and the imports; ``BENCH_QUICK=1``: tiny sizes."""
    samples = 3
    if os.environ.get("BENCH_QUICK") == "1":
        runs, lines, skus, regions, samples = 1, 2_000, 20, 3, 1
    days = history(NIGHTLY_DAYS)
    with tempfile.TemporaryDirectory(prefix="spd-startup-") as tmp_name:
        root = Path(keep) if keep else Path(tmp_name)
        landing = root / f"nightly-{len(days)}x{lines}-{skus}x{regions}"
        write_history(landing, days, lines, skus, regions)
        work = Path(tmp_name) / "cli"
        cli_backfill(work, landing, days)
        each = [nightly_phases(work, landing, days[-1]) for _ in range(runs)]
    steps = {k: round(statistics.median(r["step_s"][k] for r in each), 3) for k in each[0]["step_s"]}
    nightly = {k: round(statistics.median(r[k] for r in each), 3) for k in each[0] if k != "step_s"}
    return {
        "measured_on": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "runs": runs,
        "lines": lines,
        "skus": skus,
        "regions": regions,
        "nightly": nightly,
        "walls_s": [round(r["wall_s"], 2) for r in each],
        "steps_s": steps,
        "imports": startup(samples),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--lines", type=int, default=1_000_000, help="order lines a day")
    parser.add_argument("--keep", help="write (or reuse) the exports under this folder")
    args = parser.parse_args()
    print(json.dumps(measure(args.runs, args.lines, keep=args.keep)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

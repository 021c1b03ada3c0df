"""Where a CLI range run's memory goes: its RSS sampled every 0.2 s, split by the run's step events.

``python -m benchmarks.step_memory LANDING DAYS`` backfills the newest ``DAYS`` days of a landing folder
of daily exports (``make bench-landing`` keeps one in ``.bench-exports/``) in a fresh data directory,
as ``benchmarks.landing`` does (catalog, then one ``daily_pipeline`` run), and prints each step's wall
time and the process's peak RSS while it ran, then the run's overall peak.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from benchmarks.landing import DAGSTER, ROOT, _env, history
from spd_assets.core.run_tags import catalog_command, pipeline_command, range_tags

STEP = re.compile(r'(STEP_START|STEP_SUCCESS|STEP_FAILURE).*?step "([^"]+)"')


def _rss_gb(pid: int) -> float | None:
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * 4096 / 1e9
    except (OSError, IndexError, ValueError):
        return None


def measure(landing: Path, n_days: int) -> list[tuple[str, float, float]]:
    """(step, seconds, peak GB) per step of one range run over the last ``n_days`` days, in order."""
    days = history(n_days)
    with tempfile.TemporaryDirectory(prefix="spd-step-memory-") as tmp:
        work = Path(tmp)
        (work / "home").mkdir()
        env = _env(work, landing)
        subprocess.run([DAGSTER, *catalog_command()], env=env, cwd=ROOT, check=True, capture_output=True)
        run = subprocess.Popen(
            [DAGSTER, *pipeline_command(range_tags(days[0], days[-1]))],
            env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        events: list[tuple[float, str, str]] = []

        def read() -> None:
            for line in run.stdout or ():
                if found := STEP.search(line):
                    events.append((time.time(), found.group(1), found.group(2)))

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        samples = []
        while run.poll() is None:
            if (rss := _rss_gb(run.pid)) is not None:
                samples.append((time.time(), rss))
            time.sleep(0.2)
        reader.join(timeout=5)
        if run.returncode != 0:
            raise RuntimeError(f"the range run failed with exit code {run.returncode}")
    starts = {name: t for t, kind, name in events if kind == "STEP_START"}
    out = []
    for t, kind, name in events:
        if kind != "STEP_START" and name in starts:
            during = [rss for s, rss in samples if starts[name] <= s <= t]
            out.append((name, t - starts[name], max(during, default=0.0)))
    out.append(
        ("(whole run)", samples[-1][0] - samples[0][0] if samples else 0.0, max(r for _, r in samples))
    )
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("landing", type=Path, help="a landing folder of orders_YYYY-MM-DD.csv files")
    parser.add_argument("days", type=int, help="the newest this many days (ending yesterday, UTC)")
    args = parser.parse_args()
    for name, seconds, peak in measure(args.landing, args.days):
        print(f"{name:32s} {seconds:7.1f} s  peak {peak:5.2f} GB")
    return 0


if __name__ == "__main__":
    sys.exit(main())

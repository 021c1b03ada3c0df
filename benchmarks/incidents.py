"""Alerts vs incidents vs messages on the demo history: what incident grouping saves a user's inbox.

`python -m benchmarks.incidents [--days N]` materializes the demo (``spd demo``) into a temporary data
directory, then counts per day: alerts, incidents (one message each when they open), and the largest
day of each. Writes nothing into the repository; prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

import polars as pl

from spd_assets.core.storage import DayStore


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--days", type=int, default=120)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="spd-incidents-") as tmp:
        env = {**os.environ, "SPD_DATA_DIR": f"{tmp}/data", "DAGSTER_HOME": f"{tmp}/home",
               "SPD_WEBHOOK_URL": "", "SPD_SMTP_HOST": ""}  # fmt: skip
        os.makedirs(env["DAGSTER_HOME"])
        spd = [sys.executable, "-c", "import sys; from spd_assets.cli import main; sys.exit(main())"]
        subprocess.run([*spd, "demo", "--days", str(args.days)], env=env, check=True, capture_output=True)
        store = DayStore(env["SPD_DATA_DIR"])
        alerts = store.read_days("alerts", store.days("alerts"))
        incidents = store.read_days("incidents", store.days("incidents"))
        injected = store.read_days("injected_drops", store.days("injected_drops"))
    per_day = alerts.group_by("date").len()
    opened = incidents.filter(pl.col("status") == "open")
    report = {
        "days": args.days,
        "alerts": alerts.height,
        "alerts_sku_region": alerts.filter(pl.col("level") == "sku_region").height,
        "max_alerts_one_day": int(per_day["len"].max() or 0),
        "alert_episodes_opened": alerts.filter(pl.col("episode_status") == "open").height,
        "injected_drops": injected.height,
        "incident_days": incidents.height,
        "incidents_opened": opened.height,
        "max_incidents_one_day": int(incidents.group_by("date").len()["len"].max() or 0),
        "alerts_per_message": round(alerts.height / max(opened.height, 1), 1),
        "roots_by_level": dict(opened.group_by("level").len().sort("level").iter_rows()),
    }
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Withdrawing days: `spd withdraw` through the real CLI; the ledger forgets alerts that no longer hold."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import dagster as dg
import polars as pl
from cli_runs import wait_for
from conftest import SMALL, materialize_range, recent_days

from spd_assets.core.day_locks import hold_days, lock_dir
from spd_assets.core.delivery_ledger import DeliveryLedger
from spd_assets.core.schema import ALERTS
from spd_assets.core.settings import load_settings
from spd_assets.core.state_store import default_state_url
from spd_assets.core.storage import DayStore
from spd_assets.definitions import build_defs


def cli_env(root: Path) -> tuple[Path, Path, dict[str, str]]:
    """The data directory, DAGSTER_HOME and environment of the small shop that `spd withdraw` runs on."""
    data_dir, home = root / "data", root / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    env = {"SPD_DATA_DIR": str(data_dir), "SPD_ORDERS_PER_DAY": str(SMALL["orders_per_day"]),
           "SPD_SKUS": str(SMALL["n_skus"]), "SPD_SEED": str(SMALL["seed"]),
           "DAGSTER_HOME": str(home)}  # fmt: skip
    return data_dir, home, env


def test_spd_withdraw_removes_the_day_and_recomputes_the_windows_reading_it(tmp_path) -> None:
    data_dir, home, env = cli_env(tmp_path)
    settings = replace(load_settings(env), **SMALL)
    defs = build_defs(settings)
    days = recent_days(20)
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert materialize_range(defs, instance, days[0], days[-1]).success
    store = DayStore(str(data_dir))
    gone = days[5]
    before = store.read("daily_metrics", days[6]).filter(pl.col("level") == "total")
    assert before["window_days"].item() == 7
    incidents_written = Path(store.path("incidents", days[6])).stat().st_mtime_ns

    out = subprocess.run(
        [Path(sys.executable).parent / "spd", "withdraw", gone.isoformat()],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    removed = "orders, quarantine, injected_drops, daily_agg, daily_metrics, alerts, incidents"
    assert f"{gone}: removed {removed}" in out.stdout
    dated = ("orders", "daily_agg", "daily_metrics", "alerts", "incidents")
    assert not any(store.exists(a, gone) for a in dated)
    assert "re-computing daily_metrics, alerts and incidents" in out.stdout
    after = store.read("daily_metrics", days[6]).filter(pl.col("level") == "total")
    assert after["window_days"].item() == 6  # the window no longer counts the withdrawn day
    assert after["revenue_7d"].item() < before["revenue_7d"].item()
    assert Path(store.path("incidents", days[6])).stat().st_mtime_ns > incidents_written  # re-computed too
    assert store.read("daily_metrics", days[19]).filter(pl.col("level") == "total")["window_days"].item() == 7
    with dg.DagsterInstance.from_config(str(home)) as instance:
        filt = dg.AssetRecordsFilter(asset_key=dg.AssetKey("daily_agg"), asset_partitions=[gone.isoformat()])
        (seen,) = instance.fetch_observations(filt, limit=1).records  # SQLite cannot wipe one partition
        assert "withdrawn" in seen.asset_observation.metadata


def _alert(alert_id: str, day: dt.date) -> dict:
    row = dict.fromkeys(ALERTS)
    return {**row, "alert_id": alert_id, "date": day, "level": "total", "severity": "warning", "rule": "r"}


def test_a_recheck_withdraws_undelivered_alerts_that_no_longer_hold(tmp_path) -> None:
    ledger = DeliveryLedger(default_state_url(str(tmp_path), {}))
    day, other = recent_days(2)
    alerts = pl.DataFrame([_alert("a1", day), _alert("a2", day), _alert("b1", other)], schema=ALERTS)
    ledger.record(alerts, ["webhook"])
    ledger.mark_delivered("webhook", ["a2"])
    assert ledger.withdraw_absent([day], ["a1x"]) == 1  # a1 gone; a2 was delivered and stays on record
    owed = ledger.claim("webhook", "run-1")
    assert owed["incident_id"].to_list() == ["b1"]  # another day is untouched; a1 is never sent
    assert set(ledger.table()["alert_id"]) == {"a2", "b1"}


def test_spd_withdraw_waits_for_a_run_writing_the_day(tmp_path) -> None:
    data_dir, home, env = cli_env(tmp_path)
    days = recent_days(2)
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert materialize_range(build_defs(replace(load_settings(env), **SMALL)), instance, *days).success
    store, log = DayStore(str(data_dir)), tmp_path / "withdraw.log"
    with hold_days(lock_dir(str(data_dir)), [days[-1]], "the test"), log.open("w") as out:
        proc = subprocess.Popen(
            [Path(sys.executable).parent / "spd", "withdraw", days[-1].isoformat()],
            env={**os.environ, **env, "PYTHONUNBUFFERED": "1"},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        wait_for("spd withdraw to wait for the test", lambda: "waiting for the test" in log.read_text(), 120)
        assert store.exists("orders", days[-1])  # nothing deleted under a run that holds the day
    assert proc.wait(timeout=120) == 0, log.read_text()
    assert not store.exists("orders", days[-1])

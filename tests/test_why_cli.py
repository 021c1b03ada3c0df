"""``spd why`` end to end: a small materialized history, the command run as a user runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from conftest import materialize_range, recent_days


@pytest.fixture
def history(defs, instance, settings):
    days = recent_days(6)
    assert materialize_range(defs, instance, days[0], days[-1]).success
    return settings.data_dir, days


def spd_why(data_dir: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "SPD_DATA_DIR": data_dir}
    return subprocess.run(
        [sys.executable, "-m", "spd_assets.why", *args], env=env, capture_output=True, text=True, timeout=120
    )


def test_spd_why_json_splits_the_revenue_change_of_two_ranges(history):
    data_dir, days = history
    base, current = f"{days[0]}..{days[2]}", f"{days[3]}..{days[5]}"
    done = spd_why(data_dir, "--from", base, "--to", current, "--kpi", "revenue", "--json")
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["days"] == {"from": 3, "to": 3}
    regions = [d for d in out["drivers"] if d["dimension"] == "region"]
    assert sum(d["contribution"] for d in regions) == pytest.approx(out["change"], rel=1e-9, abs=1e-6)
    assert out["change"] == pytest.approx(out["current"] - out["base"])


def test_spd_why_prints_a_table_with_the_share_explained(history):
    data_dir, days = history
    done = spd_why(
        data_dir, "--from", f"{days[0]}..{days[2]}", "--to", f"{days[3]}..{days[5]}", "--kpi", "aov"
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("aov: ")
    assert "drivers explain" in done.stdout and "mix and rate effects per dimension" in done.stdout


def test_spd_why_names_a_range_with_no_materialized_day(history):
    data_dir, days = history
    done = spd_why(data_dir, "--from", "2001-01-01..2001-01-07", "--to", f"{days[3]}..{days[5]}")
    assert done.returncode != 0
    assert "--from 2001-01-01..2001-01-07" in done.stderr and "daily_agg" in done.stderr


def test_spd_why_refuses_a_range_that_is_not_dates(tmp_path):
    done = spd_why(str(tmp_path), "--from", "june..july", "--to", "2025-06-08..2025-06-14")
    assert done.returncode == 2
    assert "'june..july' is not a date range" in done.stderr

"""End to end in a real browser: launch the anomaly check from the dashboard, see the alert it produced.

A small history is materialized by the real pipeline, then the last day gets a deep drop in us-east
(its daily_agg rewritten at 5%, daily_metrics re-materialized for that day) and its alerts removed.
`dagster dev` and `streamlit run` serve it on free loopback ports; Debian's Chromium clicks "Run
anomaly check", waits for the run to succeed and finds the new us-east alert. The screenshots are
saved under the test's tmp dir, and with SPD_UPDATE_SCREENSHOT=1 also to spd_dashboard/ (the README's).
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
from dataclasses import replace
from pathlib import Path

import dagster as dg
import polars as pl
import pytest
from conftest import SMALL
from dashboard_data import materialize_history
from harness import (
    CHROMIUM,
    CHROMIUM_ARGS,
    IDLE,
    ROOT,
    chromium_missing,
    dagster_dev,
    dagster_ready,
    save_screenshot,
    streamlit,
)

from spd_assets.core.schema import DAILY_AGG, conform
from spd_assets.core.settings import load_settings
from spd_assets.core.storage import DayStore
from spd_assets.definitions import build_defs

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(chromium_missing() is not None, reason=str(chromium_missing())),
]
HISTORY_DAYS = 36  # detection compares a day with the same weekday of at least 4 earlier weeks
DROP_REGION, KEEP = "us-east", 0.05


def deepen_drop(data_dir: str, day: dt.date, region: str, keep: float) -> None:
    """Cut ``region``'s sales on ``day`` to ``keep`` and re-materialize that day's daily_metrics."""
    store = DayStore(data_dir)
    hit = pl.col("region") == region
    agg = (
        store.read("daily_agg", day)
        .with_columns(
            [
                pl.when(hit).then((pl.col(c) * keep).round().cast(pl.Int64)).otherwise(c).alias(c)
                for c in ("orders", "units")
            ]
            + [pl.when(hit).then((pl.col("revenue") * keep).round(2)).otherwise("revenue").alias("revenue")]
        )
        .filter(pl.col("orders") > 0)
    )
    store.write(
        "daily_agg", day, conform(agg.with_columns(aov=pl.col("revenue") / pl.col("orders")), DAILY_AGG)
    )
    settings = replace(load_settings(), data_dir=data_dir, **SMALL)
    with dg.instance_for_test() as instance:
        result = (
            build_defs(settings)
            .resolve_job_def("daily_pipeline")
            .execute_in_process(
                instance=instance,
                partition_key=day.isoformat(),
                asset_selection=[dg.AssetKey("daily_metrics")],
            )
        )
    assert result.success
    shutil.rmtree(Path(data_dir) / "alerts" / f"date={day.isoformat()}", ignore_errors=True)


@pytest.fixture
def servers(tmp_path):
    """Dagster boots while the history is materialized; then the dashboard starts, pointed at it."""
    data_dir = str(tmp_path / "data")
    env = {**os.environ, "SPD_DATA_DIR": data_dir, "SPD_ORDERS_PER_DAY": str(SMALL["orders_per_day"]),
           "SPD_SKUS": str(SMALL["n_skus"]), "SPD_SEED": str(SMALL["seed"])}  # fmt: skip
    started = [dagster_dev(tmp_path / "dagster_home", env, tmp_path)]
    try:
        history = materialize_history(tmp_path, HISTORY_DAYS, extras=False)
        assert history.data_dir == data_dir
        deepen_drop(data_dir, history.last, DROP_REGION, KEEP)
        dagster = dagster_ready(started[0])
        port = dagster.url.rsplit(":", 1)[1]
        started.append(
            streamlit({**env, "SPD_DAGSTER_HOST": "127.0.0.1", "SPD_DAGSTER_PORT": port}, tmp_path)
        )
        yield history, dagster, started[1].ready()
    finally:
        for server in reversed(started):
            server.stop()


def test_run_anomaly_check_from_the_dashboard_shows_the_new_alert(servers, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    history, dagster, dashboard = servers
    day = history.last.isoformat()
    listed = re.compile(rf"region {DROP_REGION}: revenue -9\d%")  # the panel lists the run's alerts
    update = ROOT / "spd_dashboard" if os.environ.get("SPD_UPDATE_SCREENSHOT") == "1" else None
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        page.goto(f"{dashboard.url}/alerts")
        page.wait_for_selector(IDLE, timeout=60_000)
        expect(page.get_by_text(listed)).to_have_count(0)
        expect(page.get_by_role("group", name="Day to check")).to_have_text(
            re.compile(day.replace("-", r"\D*"))
        )

        page.get_by_role("button", name="Run anomaly check").click()
        run_link = page.get_by_role("link", name=re.compile(r"^[0-9a-f]{8}$"))
        expect(run_link).to_be_visible(timeout=30_000)
        assert run_link.get_attribute("href").startswith(f"{dagster.url}/runs/")
        expect(page.get_by_text("SUCCESS", exact=True)).to_be_visible(timeout=90_000)
        expect(page.get_by_text(listed)).to_be_visible(timeout=30_000)
        page.wait_for_selector(IDLE)
        expect(page.get_by_role("heading", level=4)).to_contain_text(f"on {day}")  # its worst alert, selected
        save_screenshot(page, tmp_path / "alerts.png", update and update / "screenshot-alerts.png")

        two_weeks = history.days[-14].isoformat()  # the 14 days before it are materialized too: deltas show
        page.goto(f"{dashboard.url}/?dates={two_weeks}&dates={day}")
        page.wait_for_selector(IDLE, timeout=60_000)
        expect(page.get_by_text(f"{two_weeks} – {day} (14 days)")).to_be_visible()
        expect(page.get_by_text("Gaining", exact=True)).to_be_visible()
        save_screenshot(page, tmp_path / "overview.png", update and update / "screenshot.png")
        browser.close()

    written = DayStore(history.data_dir).read("alerts", history.last)
    assert written.filter((pl.col("level") == "region") & (pl.col("region") == DROP_REGION)).height == 1

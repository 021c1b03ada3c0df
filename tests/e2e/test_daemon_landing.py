"""A shop's history dropped into the landing folder with nothing typed, run by the real daemon
(`dagster dev`: webserver + daemon): 60 days at once, then one more day, then an old day re-exported
without its drop (its alert is withdrawn), then a gap of two days (reported missing, not a failure),
then a broken file (one failed run, shown on Data health). Each step waits with a deadline, polling
the webserver and the data directory.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path

import polars as pl
import pytest
from conftest import SMALL
from harness import ago, dagster_dev, dagster_ready, days_between, failed, missing, settled, wait_until
from streamlit.testing.v1 import AppTest

from spd_assets.core.storage import DayStore
from spd_assets.core.synthetic.catalog import generate_catalog
from spd_assets.core.synthetic.orders import generate_day

pytestmark = pytest.mark.slow
DASHBOARD = Path(__file__).resolve().parents[2] / "spd_dashboard" / "app.py"


def shop_day(day: dt.date, catalog: pl.DataFrame, outage: str | None = None) -> pl.DataFrame:
    """A day of the shop's export; with ``outage``, that region keeps one order in 20."""
    orders = generate_day(day, catalog, 800, 11).orders
    if outage:
        orders = orders.filter((pl.col("region") != outage) | (pl.int_range(pl.len()) % 20 == 0))
    return orders


@pytest.fixture
def landing(tmp_path):
    data_dir, landing_dir = str(tmp_path / "data"), tmp_path / "landing"
    landing_dir.mkdir()
    env = {**os.environ, "SPD_SOURCE": "landing", "SPD_DATA_DIR": data_dir,
           "SPD_LANDING_DIR": str(landing_dir), "SPD_SENSOR_INTERVAL_S": "3",
           "SPD_LANDING_SETTLE_S": "0"}  # fmt: skip
    server = dagster_ready(dagster_dev(tmp_path / "dagster_home", env, tmp_path))
    try:
        yield data_dir, landing_dir, server, env
    finally:
        server.stop()


def test_landing_history_late_data_and_gaps_through_the_daemon(landing) -> None:
    data_dir, folder, dagster, _env = landing
    catalog = generate_catalog(SMALL["n_skus"], 11)
    catalog.select("sku", "name", "category", price="base_price").write_csv(folder / "catalog.csv")
    history = days_between(ago(70), ago(11))  # 60 days
    outage_day = history[45]
    for day in history:
        shop_day(day, catalog, "us-east" if day == outage_day else None).write_csv(
            folder / f"orders_{day}.csv"
        )

    def loaded(days):
        return lambda: not missing(data_dir, days) and settled(dagster.url)

    wait_until("the 60 landed days, checked", loaded(history), 300, every_s=2, log=dagster)
    assert failed(dagster.url) == []
    store = DayStore(data_dir)
    region_alerts = store.read("alerts", outage_day).filter(pl.col("level") == "region")
    assert region_alerts["region"].to_list() == ["us-east"]

    next_day = ago(10)
    shop_day(next_day, catalog).write_csv(folder / f"orders_{next_day}.csv")
    wait_until("one more day", loaded([next_day]), 120, every_s=2, log=dagster)

    later = outage_day + dt.timedelta(days=13)
    before = {d: os.stat(store.path("daily_metrics", d)).st_mtime_ns for d in (outage_day, later)}
    shop_day(outage_day, catalog).write_csv(folder / f"orders_{outage_day}.csv")  # re-exported, no drop

    def rerun() -> bool:
        now = {d: os.stat(store.path("daily_metrics", d)).st_mtime_ns for d in before}
        return all(now[d] != before[d] for d in before) and settled(dagster.url)

    wait_until("the re-export and the windows reading it re-run", rerun, 180, every_s=2, log=dagster)
    assert store.read("alerts", outage_day).filter(pl.col("level") == "region").is_empty()  # withdrawn

    after_gap = ago(7)  # ago(9) and ago(8) never arrive
    shop_day(after_gap, catalog).write_csv(folder / f"orders_{after_gap}.csv")
    wait_until("the day after a gap", loaded([after_gap]), 120, every_s=2, log=dagster)
    assert missing(data_dir, [ago(9), ago(8)], ("orders",)) == [
        "orders " + str(ago(9)),
        "orders " + str(ago(8)),
    ]
    assert failed(dagster.url) == []

    broken = ago(6)
    shop_day(ago(5), catalog).write_csv(folder / f"orders_{broken}.csv")  # rows dated another day
    wait_until("the broken file's run to fail", lambda: failed(dagster.url), 120, every_s=2, log=dagster)
    port = dagster.url.rsplit(":", 1)[1]
    app_env = {"SPD_DATA_DIR": data_dir, "SPD_DAGSTER_PORT": port, "SPD_SOURCE": "landing",
               "SPD_LANDING_DIR": str(folder)}  # fmt: skip
    old = {k: os.environ.get(k) for k in app_env}
    os.environ.update(app_env)
    try:
        app = AppTest.from_file(str(DASHBOARD), default_timeout=60)
        app.switch_page("views/health.py").run()
    finally:
        for k, v in old.items():
            os.environ.pop(k) if v is None else os.environ.__setitem__(k, v)
    errors = re.sub(r"\\(.)", r"\1", " ".join(e.value for e in app.error))  # as rendered: escapes dropped
    assert "Latest failed run" in errors and f"orders_{broken}.csv" in errors
    assert "gaps" in str(app.dataframe[0].value["state"].to_list())

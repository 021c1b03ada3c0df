"""Shared fixtures: a temporary data directory, small settings, and a helper that materializes days."""

from __future__ import annotations

import datetime as dt
import os
import socket
import tempfile
from dataclasses import replace
from pathlib import Path

# Importing spd_assets validates SPD_DATA_DIR; keep that check away from the developer's ./data.
os.environ["SPD_DATA_DIR"] = tempfile.mkdtemp(prefix="spd-import-")
# Tests that run the pipeline must never notify a developer's real webhook or mailbox.
os.environ["SPD_WEBHOOK_URL"] = ""  # empty = off
os.environ["SPD_SMTP_HOST"] = ""

import dagster as dg
import polars as pl
import pytest

from spd_assets.core.settings import Settings, load_settings
from spd_assets.core.synthetic.catalog import generate_catalog
from spd_assets.definitions import build_defs

SMALL = {"orders_per_day": 3_000, "n_skus": 40, "seed": 7}
APP = Path(__file__).parents[1] / "spd_dashboard" / "app.py"


@pytest.fixture
def settings(tmp_path) -> Settings:
    """Settings for a small synthetic shop writing under a temporary directory."""
    return replace(
        load_settings(), data_dir=str(tmp_path / "data"), landing_dir=str(tmp_path / "landing"), **SMALL
    )


@pytest.fixture
def defs(settings) -> dg.Definitions:
    return build_defs(settings)


@pytest.fixture
def sensor_defs(defs) -> dg.Definitions:
    """The project's definitions plus a job that stops at daily_metrics (no alerts)."""
    metrics_only = dg.define_asset_job(
        "metrics_only",
        selection=dg.AssetSelection.assets("daily_metrics").upstream() - dg.AssetSelection.assets("catalog"),
        partitions_def=defs.get_assets_def("daily_metrics").partitions_def,
    )
    return dg.Definitions.merge(defs, dg.Definitions(jobs=[metrics_only]))


@pytest.fixture
def instance() -> dg.DagsterInstance:
    with dg.instance_for_test() as inst:
        yield inst


@pytest.fixture
def small_catalog() -> pl.DataFrame:
    return generate_catalog(SMALL["n_skus"], SMALL["seed"])


def recent_days(n: int, end_offset: int = 2) -> list[dt.date]:
    """``n`` consecutive days ending ``end_offset`` days before today (inside the partitions)."""
    end = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=end_offset)
    return [end - dt.timedelta(days=n - 1 - i) for i in range(n)]


def materialize_range(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    first: dt.date,
    last: dt.date,
    job_name: str = "daily_pipeline",
) -> dg.ExecuteInProcessResult:
    """Catalog first (unpartitioned), then ``job_name`` over first..last as one single run."""
    dg.materialize([defs.get_assets_def("catalog")], instance=instance, resources=defs.resources)
    job = defs.resolve_job_def(job_name)
    return job.execute_in_process(
        instance=instance,
        tags={
            "dagster/asset_partition_range_start": first.isoformat(),
            "dagster/asset_partition_range_end": last.isoformat(),
        },
    )


@pytest.fixture(scope="session")
def dashboard_history(tmp_path_factory):
    """21 days materialized once for the dashboard tests (tests/dashboard_data.py); treat as read-only."""
    from dashboard_data import materialize_history

    return materialize_history(tmp_path_factory.mktemp("dashboard"))


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def open_app(monkeypatch, closed_port):
    """Start the dashboard in AppTest on a data dir (Dagster 'down': a closed port), optionally on a page,
    with URL params."""

    from streamlit.testing.v1 import AppTest  # here: most tests never start the app

    def start(data_dir: str, page: str | None = None, params: dict | None = None) -> AppTest:
        monkeypatch.setenv("SPD_DATA_DIR", data_dir)
        monkeypatch.setenv("SPD_DAGSTER_PORT", str(closed_port))
        at = AppTest.from_file(str(APP), default_timeout=60)
        at.query_params = dict(params or {})
        at.run()
        if page:
            at.switch_page(page).run()
        assert not at.exception, [e.message for e in at.exception]
        return at

    return start

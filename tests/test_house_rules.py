"""Rules of the codebase that a test can hold: the core imports alone, private Dagster APIs live in one
module, the checks can fail, and nothing depends on today's date (SPD_TODAY a year ahead)."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import dagster as dg
import polars as pl
import pytest
from conftest import SMALL, recent_days

from spd_assets.core.storage import DayStore
from spd_assets.definitions import build_defs, build_resources
from spd_assets.io_manager import DayParquetIOManager
from spd_assets.resources.order_sources import SyntheticSource

ROOT = Path(__file__).resolve().parents[1]
CORE_MODULES = [
    "spd_assets.core.detect",
    "spd_assets.core.landing.files",
    "spd_assets.core.metrics",
    "spd_assets.core.synthetic.orders",
    "spd_assets.core.channels",
    "spd_assets.core.settings",
]


def test_the_core_imports_alone_without_touching_the_data_dir(tmp_path) -> None:
    missing = tmp_path / "does" / "not" / "exist"
    code = (
        f"import sys; import {', '.join(CORE_MODULES)}; "
        "bad = [m for m in ('dagster', 'streamlit') if m in sys.modules]; assert not bad, bad"
    )
    env = {**os.environ, "SPD_DATA_DIR": str(missing)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert not missing.exists() and not missing.parent.exists()


def test_private_dagster_apis_are_used_in_one_module_only() -> None:
    allowed = {"spd_assets/dagster_internals.py"}
    private = "dagster" + "._"  # spelled apart so this file does not match itself
    found = set()
    for folder in ("spd_assets", "spd_dashboard", "tests", "benchmarks"):
        for path in (ROOT / folder).rglob("*.py"):
            if private in path.read_text():
                found.add(str(path.relative_to(ROOT)))
    assert found <= allowed, found - allowed


class LossySource(SyntheticSource):
    """A source with a bug: it reports one more row read than it hands on (an order line lost)."""

    def load_day(self, day, catalog):
        checked = super().load_day(day, catalog)
        report = replace(checked.report, rows_in=checked.report.rows_in + 1)
        return replace(checked, report=report)


class ForeignAlertsIO(DayParquetIOManager):
    """An IO manager with a bug: it writes alerts files with a column that is not in schema.ALERTS."""

    def handle_output(self, context, obj):
        super().handle_output(context, obj)
        if context.asset_key.path[-1] == "alerts":
            for key in context.asset_partition_keys:
                day = dt.date.fromisoformat(key)
                frame = self.store.read("alerts", day).with_columns(pl.lit("x").alias("stray"))
                self.store.write("alerts", day, frame)


def _with_resources(base: dg.Definitions, resources: dict) -> dg.Definitions:
    return dg.Definitions(
        assets=list(base.assets), jobs=list(base.jobs), resources=resources, executor=dg.in_process_executor
    )


def _run_day(defs: dg.Definitions, instance, day: dt.date) -> dg.ExecuteInProcessResult:
    dg.materialize([defs.get_assets_def("catalog")], instance=instance, resources=defs.resources)
    job = defs.resolve_job_def("daily_pipeline")
    return job.execute_in_process(instance=instance, partition_key=day.isoformat(), raise_on_error=False)


def _evaluation(result: dg.ExecuteInProcessResult, check: str):
    (found,) = [e for e in result.get_asset_check_evaluations() if e.check_name == check]
    return found


def test_rows_conserved_fails_when_the_source_loses_a_row(settings, instance) -> None:
    (day,) = recent_days(1)
    resources = {**build_resources(settings), "source": LossySource(**SMALL)}
    defs = _with_resources(build_defs(settings), resources)
    result = _run_day(defs, instance, day)
    evaluation = _evaluation(result, "rows_conserved")
    assert not evaluation.passed
    assert "1 of 1 day(s) do not add up" in evaluation.description
    # Blocking: nothing below `orders` is built on a day that lost a row (the rate check still ran).
    assert _evaluation(result, "quarantine_rate").passed
    built = {e.asset_key.path[-1] for e in result.get_asset_materialization_events()}
    assert "orders" in built and not built & {"daily_agg", "daily_metrics", "alerts"}


@pytest.mark.parametrize(
    ("asset", "check"),
    [("orders", "rows_conserved"), ("quarantine", "quarantine_rate"), ("alerts", "alerts_schema")],
)
def test_each_check_runs_alone_on_stored_days(settings, instance, asset, check) -> None:
    """Two checks share a step, yet the UI's "Execute" of one check runs that check and nothing else."""
    (day,) = recent_days(1)
    defs = _with_resources(build_defs(settings), build_resources(settings))
    assert _run_day(defs, instance, day).success
    key = dg.AssetCheckKey(dg.AssetKey(asset), check)
    daily = defs.get_assets_def("orders").partitions_def
    job = dg.define_asset_job("one_check", selection=dg.AssetSelection.checks(key), partitions_def=daily)
    alone = dg.Definitions(
        assets=list(defs.assets),
        asset_checks=list(defs.asset_checks or []),
        jobs=[job],
        resources=defs.resources,
        executor=dg.in_process_executor,
    )
    # The partition as a tag, as the UI launches it (a job of checks alone has no partitions to validate).
    result = alone.resolve_job_def("one_check").execute_in_process(
        instance=instance, tags={"dagster/partition": day.isoformat()}
    )
    assert [e.check_name for e in result.get_asset_check_evaluations()] == [check]
    (evaluation,) = result.get_asset_check_evaluations()
    assert evaluation.passed and evaluation.partition == day.isoformat()
    meta = {k: v.value for k, v in evaluation.metadata.items()}
    assert meta.get("days", 1) == 1 and meta.get("worst_day", day.isoformat()) == day.isoformat()
    assert not result.get_asset_materialization_events()


def test_alerts_schema_fails_on_a_file_with_a_foreign_column(settings, instance) -> None:
    (day,) = recent_days(1)
    resources = {**build_resources(settings), "io_manager": ForeignAlertsIO(data_dir=settings.data_dir)}
    defs = _with_resources(build_defs(settings), resources)
    result = _run_day(defs, instance, day)
    evaluation = _evaluation(result, "alerts_schema")
    assert not evaluation.passed
    assert "differ from schema.ALERTS" in evaluation.metadata["problems"].value


@pytest.mark.skipif(
    shutil.which("faketime") is None, reason="faketime is not installed (.ci/run installs it)"
)
def test_a_year_ahead_the_demo_and_a_cli_backfill_still_work(tmp_path) -> None:
    """With the clock a year ahead (libfaketime), the moving defaults follow: partitions, demo, CLI runs."""
    ahead = dt.datetime.now(dt.UTC).date() + dt.timedelta(days=365)
    last = ahead - dt.timedelta(days=1)
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path / "home"), "SPD_DATA_DIR": str(tmp_path / "data"),
           "SPD_ORDERS_PER_DAY": "500", "SPD_SKUS": "20"}  # fmt: skip
    (tmp_path / "home").mkdir()
    bin_dir = Path(sys.executable).parent

    def run(*cmd: str) -> str:
        out = subprocess.run(
            ["faketime", "-f", "+365d", *cmd], env=env, capture_output=True, text=True, timeout=300, cwd=ROOT
        )
        assert out.returncode == 0, out.stderr[-2000:]
        return out.stdout

    assert f"({last - dt.timedelta(days=2)} .. {last})" in run(str(bin_dir / "spd"), "demo", "--days", "3")
    first = last - dt.timedelta(days=9)
    select = ["--select", "* and not key:catalog"]
    span = ["--partition-range", f"{first}...{first + dt.timedelta(days=1)}"]
    run(str(bin_dir / "dagster"), "asset", "materialize", "-m", "spd_assets.definitions", *select, *span)
    days = DayStore(str(tmp_path / "data")).days("alerts")
    assert days == [first, first + dt.timedelta(days=1), *[last - dt.timedelta(days=k) for k in (2, 1, 0)]]

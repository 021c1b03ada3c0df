"""The Dagster layer on a real (temporary) instance: partitions, single-run backfills, Parquet layout."""

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import polars as pl
import pytest
from conftest import SMALL, materialize_range, recent_days

from spd_assets.core.storage import DayStore
from spd_assets.core.synthetic.orders import generate_day

DATED = ["orders", "injected_drops", "daily_agg", "daily_metrics"]


def _assets(defs: dg.Definitions) -> list:
    return [defs.get_assets_def(k) for k in ["catalog", *DATED]]


def _materialize(defs, instance, selection: list[str], day: dt.date) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        _assets(defs),
        selection=selection,
        partition_key=day.isoformat(),
        instance=instance,
        resources=defs.resources,
    )


def test_definitions_validate_from_the_command_line(tmp_path):
    env = {**os.environ, "SPD_DATA_DIR": str(tmp_path / "data"), "DAGSTER_HOME": str(tmp_path)}
    dagster = Path(sys.executable).parent / "dagster"
    out = subprocess.run(
        [dagster, "definitions", "validate", "-m", "spd_assets.definitions"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "Validation successful" in out.stdout + out.stderr


def test_one_partition_materializes_and_reads_back(defs, instance, settings, small_catalog):
    (day,) = recent_days(1)
    dg.materialize(_assets(defs), selection=["catalog"], instance=instance, resources=defs.resources)
    result = _materialize(defs, instance, DATED, day)
    assert result.success
    store = DayStore(settings.data_dir)
    orders = store.read("orders", day)
    assert orders.equals(generate_day(day, small_catalog, SMALL["orders_per_day"], SMALL["seed"]).orders)
    agg = store.read("daily_agg", day)
    assert agg["orders"].sum() == orders.height
    metrics = store.read("daily_metrics", day)
    assert metrics.filter(level="total")["revenue"].item() == pytest.approx(orders["revenue"].sum(), abs=0.01)
    mat = instance.get_latest_materialization_event(dg.AssetKey("daily_agg")).asset_materialization
    assert mat.partition == day.isoformat()
    assert mat.metadata["rows"].value == agg.height
    assert mat.metadata["date_range"].value == f"{day} .. {day}"
    assert "| sku" in mat.metadata["preview"].value  # a Markdown table of the first rows


def test_a_ten_day_backfill_is_one_run_writing_one_file_per_day(defs, instance, settings):
    days = recent_days(10)
    result = materialize_range(defs, instance, days[0], days[-1])
    assert result.success
    root = Path(settings.data_dir)
    for asset in DATED:
        files = sorted(root.glob(f"{asset}/date=*/data.parquet"))
        assert [f.parent.name for f in files] == [f"date={d}" for d in days], asset
    assert not list(root.rglob("*.tmp-*"))
    runs = instance.get_runs(dg.RunsFilter(job_name="daily_pipeline"))
    assert len(runs) == 1
    keys = instance.get_materialized_partitions(dg.AssetKey("daily_metrics"))
    assert keys == {d.isoformat() for d in days}


def test_rematerializing_a_partition_gives_identical_data(defs, instance, settings):
    (day,) = recent_days(1)
    dg.materialize(_assets(defs), selection=["catalog"], instance=instance, resources=defs.resources)
    store = DayStore(settings.data_dir)
    _materialize(defs, instance, DATED, day)
    first = {a: store.read(a, day) for a in DATED}
    _materialize(defs, instance, DATED, day)
    assert all(store.read(a, day).equals(first[a]) for a in DATED)


def test_daily_metrics_reads_d_minus_3_but_not_d_minus_30(defs, instance, settings):
    days = recent_days(31)
    day = days[-1]
    materialize_range(defs, instance, days[0], day)
    store = DayStore(settings.data_dir)
    before = store.read("daily_metrics", day)

    def remeasure_after_doubling(offset: int) -> pl.DataFrame:
        target = day - dt.timedelta(days=offset)
        original = store.read("daily_agg", target)
        store.write("daily_agg", target, original.with_columns(pl.col("revenue") * 2))
        _materialize(defs, instance, ["daily_metrics"], day)
        store.write("daily_agg", target, original)
        return store.read("daily_metrics", day)

    near = remeasure_after_doubling(3)
    assert near.filter(level="total")["revenue_7d"].item() > before.filter(level="total")["revenue_7d"].item()
    assert near["revenue"].equals(before["revenue"])  # day d itself did not change
    assert remeasure_after_doubling(30).equals(before)


def test_a_partition_outside_the_definition_is_refused(defs, instance):
    with pytest.raises(dg.DagsterUnknownPartitionError, match="1999-01-01"):
        _materialize(defs, instance, DATED, dt.date(1999, 1, 1))
    future = dt.datetime.now(dt.UTC).date()  # today is not complete, so not a partition yet
    with pytest.raises(dg.DagsterUnknownPartitionError, match=future.isoformat()):
        _materialize(defs, instance, DATED, future)


def test_a_day_without_upstream_data_gets_no_file_and_says_so(defs, instance, settings):
    """A day whose orders were never materialized is unknown downstream: no file (never zero sales)."""
    (day,) = recent_days(1)
    dg.materialize(_assets(defs), selection=["catalog"], instance=instance, resources=defs.resources)
    result = dg.materialize(
        _assets(defs),
        selection=["daily_agg"],
        partition_key=day.isoformat(),
        instance=instance,
        resources=defs.resources,
    )
    assert result.success
    assert not DayStore(settings.data_dir).exists("daily_agg", day)
    (mat,) = result.asset_materializations_for_node("daily_agg")
    assert mat.metadata["days_without_data"].value == [day.isoformat()]


def test_the_daily_schedule_requests_yesterday(defs, instance):
    schedule = defs.resolve_schedule_def("daily_pipeline_schedule")
    today = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=3)  # any day inside the partitions
    when = dt.datetime(today.year, today.month, today.day, 2, 0, tzinfo=dt.UTC)
    ctx = dg.build_schedule_context(instance=instance, scheduled_execution_time=when)
    (request,) = schedule.evaluate_tick(ctx).run_requests
    assert request.partition_key == (today - dt.timedelta(days=1)).isoformat()


def test_the_readme_backfill_commands_run_a_range_as_one_run(tmp_path):
    days = recent_days(3)
    env = {
        **os.environ,
        "SPD_DATA_DIR": str(tmp_path / "data"),
        "DAGSTER_HOME": str(tmp_path),
        "SPD_ORDERS_PER_DAY": "500",
        "SPD_SKUS": "20",
    }
    dagster = str(Path(sys.executable).parent / "dagster")
    base = [dagster, "asset", "materialize", "-m", "spd_assets.definitions"]
    for extra in (
        ["--select", "catalog"],
        ["--select", "* and not key:catalog", "--partition-range", f"{days[0]}...{days[-1]}"],
    ):
        out = subprocess.run(base + extra, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stderr[-3000:]
    assert DayStore(str(tmp_path / "data")).days("daily_metrics") == days
    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        runs = instance.get_runs()
        assert len(runs) == 2  # the catalog, then the whole range in one run
        assert runs[0].tags["dagster/asset_partition_range_start"] == days[0].isoformat()


def test_daily_agg_reads_orders_files_an_older_version_wrote_without_statuses(defs, instance, settings):
    """daily_agg decodes only the orders columns it sums; files written before order statuses lack
    ``status`` and ``counted``, and every row of them counts."""
    (day,) = recent_days(1)
    dg.materialize(_assets(defs), selection=["catalog"], instance=instance, resources=defs.resources)
    assert _materialize(defs, instance, ["orders"], day).success
    store = DayStore(settings.data_dir)
    old = store.read("orders", day).drop("status", "counted", strict=False)  # the older layout
    cancelled = pl.int_range(pl.len()) % 10 == 0
    statuses = old.with_columns(status=pl.when(cancelled).then(pl.lit("cancelled")).otherwise(pl.lit("paid")),
                                counted=~cancelled)  # fmt: skip
    for orders, kept_out in ((old, 0), (statuses, statuses.height - statuses["counted"].sum())):
        store.write("orders", day, orders)
        assert _materialize(defs, instance, ["daily_agg"], day).success
        agg = store.read("daily_agg", day)
        assert agg["orders"].sum() == orders.height - kept_out
        assert agg["cancelled_orders"].sum() == kept_out
        counted = orders if kept_out == 0 else orders.filter("counted")
        assert agg["revenue"].sum() == pytest.approx(counted["revenue"].sum(), abs=0.01)
    assert kept_out > 0


def test_a_column_a_file_lacks_is_an_error_unless_asked_for_as_optional(tmp_path):
    store = DayStore(str(tmp_path))
    (day,) = recent_days(1)
    store.write("orders", day, pl.DataFrame({"sku": ["a"], "qty": [2]}))
    assert store.read("orders", day, ["sku", "counted"], missing_ok=True).columns == ["sku"]
    with pytest.raises(Exception, match="counted"):
        store.read("orders", day, ["sku", "counted"])

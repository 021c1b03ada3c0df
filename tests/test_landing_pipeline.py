"""The whole graph from landing files on a real instance: orders, quarantine, checks, metrics and alerts."""

import datetime as dt
from dataclasses import replace
from pathlib import Path

import dagster as dg
import polars as pl
import pytest
from conftest import materialize_range, recent_days
from polars.testing import assert_frame_equal

from spd_assets.core.aggregate import aggregate_daily
from spd_assets.core.storage import DayStore
from spd_assets.core.synthetic.orders import generate_day
from spd_assets.definitions import build_defs

BAD_ROWS = (  # columns as generated: order_id, ts, date, sku, region, qty, price, revenue
    "X1,{day}T10:00:00Z,{day},SKU-0001,us-east,abc,10.0,10.0\n"  # qty is not a number
    "{dup},{day}T11:00:00Z,{day},{dup_sku},apac,1,5.0,5.0\n"  # the first order's line again
    "X3,{day}T12:00:00Z,{day},SKU-0003,,1,5.0,5.0\n"  # no region
)


@pytest.fixture
def landing_defs(settings) -> dg.Definitions:
    return build_defs(replace(settings, source="landing"))


@pytest.fixture
def landing(settings, small_catalog) -> Path:
    """A landing folder with the shop's catalog.csv (its own column names: price, not base_price)."""
    path = Path(settings.landing_dir)
    path.mkdir(parents=True)
    small_catalog.rename({"base_price": "price"}).write_csv(path / "catalog.csv")
    return path


def drop_days(landing: Path, days: list[dt.date], catalog, bad_day: dt.date | None = None) -> dict:
    """One CSV per day as a shop would export it; ``bad_day`` gets three bad rows appended."""
    generated = {}
    for day in days:
        orders = generate_day(day, catalog, 300, 7).orders
        path = landing / f"orders_{day}.csv"
        orders.write_csv(path)
        if day == bad_day:
            with path.open("a") as out:
                out.write(BAD_ROWS.format(day=day, dup=orders["order_id"][0], dup_sku=orders["sku"][0]))
        generated[day] = orders
    return generated


def run_range(defs: dg.Definitions, instance: dg.DagsterInstance, first: dt.date, last: dt.date):
    """The catalog, then daily_pipeline over first..last in one run, without raising on failure."""
    dg.materialize([defs.get_assets_def("catalog")], instance=instance, resources=defs.resources)
    return defs.resolve_job_def("daily_pipeline").execute_in_process(
        instance=instance,
        raise_on_error=False,
        tags={
            "dagster/asset_partition_range_start": first.isoformat(),
            "dagster/asset_partition_range_end": last.isoformat(),
        },
    )


def checks(result: dg.ExecuteInProcessResult) -> dict[str, dg.AssetCheckEvaluation]:
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


@pytest.mark.slow
def test_the_full_graph_materializes_from_landing_files(
    landing_defs, landing, instance, settings, small_catalog
):
    days = recent_days(16)
    generated = drop_days(landing, days, small_catalog, bad_day=days[3])
    result = materialize_range(landing_defs, instance, days[0], days[-1])
    assert result.success
    store = DayStore(settings.data_dir)
    assert store.read("catalog").equals(small_catalog)
    for day in days:
        assert (
            store.read("orders", day).drop("status", "counted").equals(generated[day])
        )  # same rows as the export, bad ones out
        agg = store.read("daily_agg", day)
        assert_frame_equal(agg, aggregate_daily(generated[day], small_catalog))  # float sums: to rounding
    quarantine = store.read_days("quarantine", days)
    n = generated[days[3]].height
    assert quarantine.select("date", "source_file", "line", "field", "reason").rows() == [
        (days[3], f"orders_{days[3]}.csv", n + 2, "qty", "qty is not a number"),
        (days[3], f"orders_{days[3]}.csv", n + 3, "order_id", "duplicate order_id and sku"),
        (days[3], f"orders_{days[3]}.csv", n + 4, "region", "region is empty"),
    ]
    metrics = store.read("daily_metrics", days[-1]).filter(level="total")
    week = sum(generated[d]["revenue"].sum() for d in days[-7:])
    assert metrics["revenue_7d"].item() == pytest.approx(week, abs=0.05)
    assert store.days("alerts") == days
    evaluations = checks(result)
    assert evaluations["rows_conserved"].passed
    assert evaluations["rows_conserved"].metadata["quarantine"].value == 3
    assert evaluations["quarantine_rate"].passed  # 3 of 303 rows: under 5 %
    mat = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey("quarantine"), asset_partitions=[days[3].isoformat()]),
        limit=1,
    ).records[0]
    recorded = {k: v.value for k, v in mat.asset_materialization.metadata.items()}
    assert (recorded["rows_in"], recorded["rows"], recorded["problems"]) == (
        n + 3,
        3,
        {"duplicate order_id and sku": 1, "qty is not a number": 1, "region is empty": 1},
    )


def test_a_broken_export_passes_conservation_and_fails_the_warn_check(
    landing_defs, landing, instance, small_catalog
):
    (day,) = recent_days(1)
    path = landing / f"orders_{day}.csv"
    generate_day(day, small_catalog, 40, 7).orders.with_columns(
        qty=pl.when(pl.int_range(pl.len()) % 2 == 0)
        .then(pl.lit("two"))
        .otherwise(pl.col("qty").cast(pl.String))
    ).write_csv(path)
    dg.materialize(
        [landing_defs.get_assets_def("catalog")], instance=instance, resources=landing_defs.resources
    )
    result = landing_defs.resolve_job_def("daily_pipeline").execute_in_process(
        instance=instance, partition_key=day.isoformat()
    )
    assert result.success  # bad rows never fail the run
    evaluations = checks(result)
    assert evaluations["rows_conserved"].passed
    rate = evaluations["quarantine_rate"]
    assert not rate.passed and rate.severity == dg.AssetCheckSeverity.WARN
    assert rate.partition == day.isoformat()
    assert rate.metadata["worst_rate"].value == pytest.approx(0.5, abs=0.03)


def _failure(result: dg.ExecuteInProcessResult) -> str:
    (event,) = [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE]
    return event.step_failure_data.user_failure_data.description


def test_a_missing_day_file_fails_the_range_before_anything_is_written(
    landing_defs, landing, instance, settings, small_catalog
):
    days = recent_days(3)
    drop_days(landing, [days[0], days[2]], small_catalog)
    result = run_range(landing_defs, instance, days[0], days[-1])
    assert not result.success
    assert _failure(result) == (
        f"{landing / f'orders_{days[1]}.csv'}: not found (nor orders_{days[1]}.parquet): "
        f"there is no orders file for {days[1]}"
    )
    assert DayStore(settings.data_dir).days("orders") == []


def test_a_file_broken_inside_stops_the_range_there_with_earlier_days_consistent(
    landing_defs, landing, instance, settings, small_catalog
):
    days = recent_days(3)
    generated = drop_days(landing, days, small_catalog, bad_day=days[0])
    broken = landing / f"orders_{days[1]}.csv"
    broken.write_bytes(broken.read_bytes() + f"Z9,{days[1]},SKU-0001,S\xe3o Paulo,1,2\n".encode("latin-1"))
    result = run_range(landing_defs, instance, days[0], days[-1])
    assert not result.success
    line = generated[days[1]].height + 2
    assert (
        _failure(result)
        == f"{broken}: is not UTF-8 text (byte 0xe3 on line {line}); save the export as UTF-8"
    )
    store = DayStore(settings.data_dir)
    assert store.days("orders") == store.days("quarantine") == [days[0]]
    assert (
        store.read("orders", days[0]).height + store.read("quarantine", days[0]).height
        == generated[days[0]].height + 3
    )

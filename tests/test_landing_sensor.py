"""The landing sensor on a real instance: new, changed and unchanged files, late data, the catalog."""

import datetime as dt
import os
from dataclasses import replace
from pathlib import Path

import dagster as dg
import pytest
from conftest import recent_days

from spd_assets.core.generate import generate_day
from spd_assets.definitions import build_defs
from spd_assets.partitions import daily

OLD = 1_600_000_000  # an mtime long past, so files count as settled


@pytest.fixture
def landing_defs(settings) -> dg.Definitions:
    return build_defs(replace(settings, source="landing"))


@pytest.fixture
def landing(settings) -> Path:
    path = Path(settings.landing_dir)
    path.mkdir(parents=True)
    return path


def drop(landing: Path, day: dt.date, catalog, orders_per_day: int = 40, name: str | None = None) -> Path:
    """Write a day file as a shop would, dated long ago so it is settled."""
    path = landing / (name or f"orders_{day}.csv")
    generate_day(day, catalog, orders_per_day, 7).orders.write_csv(path)
    os.utime(path, (OLD, OLD))
    return path


def tick(defs: dg.Definitions, instance: dg.DagsterInstance, cursor: str | None = None):
    context = dg.build_sensor_context(
        instance=instance, cursor=cursor, definitions=defs, resources=defs.resources
    )
    return defs.resolve_sensor_def("landing_sensor").evaluate_tick(context)


def requested(result) -> dict[str, tuple[str, str, int] | None]:
    """Per asset of the one requested backfill: (first day, last day, days), None when unpartitioned."""
    (request,) = result.run_requests
    subset = request.asset_graph_subset
    out: dict[str, tuple[str, str, int] | None] = {
        k.path[-1]: None for k in subset.non_partitioned_asset_keys
    }
    for key, partitions in subset.partitions_subsets_by_asset_key.items():
        keys = sorted(partitions.get_partition_keys())
        out[key.path[-1]] = (keys[0], keys[-1], len(keys))
    return out


def span(first: dt.date, days: int) -> tuple[str, str, int]:
    """first .. first+days-1, cut at the last partition (yesterday)."""
    last = min(first + dt.timedelta(days=days - 1), dt.date.fromisoformat(daily.get_last_partition_key()))
    return (first.isoformat(), last.isoformat(), (last - first).days + 1)


def expected_alerts(defs: dg.Definitions, first: dt.date, metrics_days: int) -> dict:
    """What `alerts` must re-run, from its own window on daily_metrics (absent until the asset exists)."""
    graph = defs.get_repository_def().asset_graph
    if not graph.has(dg.AssetKey("alerts")):
        return {}
    mapping = graph.get_partition_mapping(dg.AssetKey("alerts"), dg.AssetKey("daily_metrics"))
    return {"alerts": span(first, metrics_days - getattr(mapping, "start_offset", 0))}


def test_a_new_file_requests_its_day_the_later_windows_and_a_first_catalog(
    landing_defs, landing, instance, small_catalog
):
    day = recent_days(1, end_offset=40)[0]
    drop(landing, day, small_catalog)
    result = tick(landing_defs, instance)
    assert requested(result) == {
        "catalog": None,  # never materialized yet: orders need it
        "orders": span(day, 1),
        "quarantine": span(day, 1),
        "daily_agg": span(day, 1),
        "daily_metrics": span(day, 14),  # metrics for d..d+13 read day d
        **expected_alerts(landing_defs, day, 14),
    }
    assert result.run_requests[0].tags["spd/trigger"] == "landing_sensor"


def test_an_unchanged_file_never_triggers_twice(landing_defs, landing, instance, small_catalog):
    path = drop(landing, recent_days(1, end_offset=30)[0], small_catalog)
    first = tick(landing_defs, instance)
    assert len(first.run_requests) == 1
    second = tick(landing_defs, instance, first.cursor)
    assert second.run_requests == [] and "no new or changed day files" in second.skip_message
    os.utime(path, (OLD + 60, OLD + 60))  # touched, same content
    third = tick(landing_defs, instance, second.cursor)
    assert third.run_requests == []


def test_a_changed_file_requests_its_day_again(landing_defs, landing, instance, small_catalog):
    day = recent_days(1, end_offset=30)[0]
    drop(landing, day, small_catalog)
    first = tick(landing_defs, instance)
    drop(landing, day, small_catalog, orders_per_day=55)  # a corrected export for the same day
    again = tick(landing_defs, instance, first.cursor)
    assert requested(again)["orders"] == span(day, 1)
    assert "catalog" in requested(again)  # still never materialized in this instance
    assert tick(landing_defs, instance, again.cursor).run_requests == []


def test_late_data_for_an_early_day_re_runs_every_window_that_reads_it(
    landing_defs, landing, instance, small_catalog
):
    days = recent_days(20, end_offset=3)
    for day in days[5:]:
        drop(landing, day, small_catalog)
    cursor = tick(landing_defs, instance).cursor
    late = days[2]
    drop(landing, late, small_catalog)
    late_tick = tick(landing_defs, instance, cursor)
    result = requested(late_tick)
    assert result["orders"] == result["daily_agg"] == span(late, 1)
    assert result["daily_metrics"] == span(late, 14)
    assert {k: v for k, v in result.items() if k == "alerts"} == expected_alerts(landing_defs, late, 14)
    near_end = recent_days(1, end_offset=1)[0]  # yesterday: no later partitions exist yet
    drop(landing, near_end, small_catalog)
    assert requested(tick(landing_defs, instance, late_tick.cursor))["daily_metrics"] == span(near_end, 1)


def test_several_new_files_make_one_backfill(landing_defs, landing, instance, small_catalog):
    days = recent_days(30, end_offset=5)
    for day in (days[0], days[10]):
        drop(landing, day, small_catalog)
    result = requested(tick(landing_defs, instance))
    assert result["orders"] == (days[0].isoformat(), days[10].isoformat(), 2)
    assert result["daily_metrics"] == (
        days[0].isoformat(),
        (days[10] + dt.timedelta(days=13)).isoformat(),
        24,  # d0..d0+13 and d10..d10+13 overlap
    )


def test_a_file_already_loaded_with_the_same_content_requests_nothing(
    landing_defs, landing, instance, small_catalog
):
    day = recent_days(1, end_offset=10)[0]
    drop(landing, day, small_catalog)
    dg.materialize(
        [landing_defs.get_assets_def("catalog")], instance=instance, resources=landing_defs.resources
    )
    assert (
        landing_defs.resolve_job_def("daily_pipeline")
        .execute_in_process(instance=instance, partition_key=day.isoformat())
        .success
    )
    result = tick(landing_defs, instance)  # a fresh cursor, as after a sensor reset
    assert result.run_requests == []


def test_a_file_for_a_day_that_is_not_a_partition_yet_waits(landing_defs, landing, instance, small_catalog):
    today = dt.datetime.now(dt.UTC).date()
    drop(landing, today, small_catalog)
    result = tick(landing_defs, instance)
    assert result.run_requests == []
    assert "1 wait for their day to be a partition" in result.skip_message
    assert f'"pending":["orders_{today}.csv"]' in result.cursor


def test_files_that_are_not_day_files_or_still_being_copied_are_ignored(
    landing_defs, landing, instance, small_catalog
):
    day = recent_days(1, end_offset=10)[0]
    drop(landing, day, small_catalog, name=f"orders_{day}.csv.part")
    drop(landing, day, small_catalog, name="notes.csv")
    fresh = drop(landing, day, small_catalog)
    os.utime(fresh, None)  # modified just now: maybe still being copied
    assert tick(landing_defs, instance).run_requests == []


def test_a_new_catalog_csv_requests_the_catalog(landing_defs, landing, instance):
    (landing / "catalog.csv").write_text("sku,category,price\nS1,toys,3\n")
    os.utime(landing / "catalog.csv", (OLD, OLD))
    assert requested(tick(landing_defs, instance)) == {"catalog": None}


def test_with_the_synthetic_source_the_sensor_does_nothing(defs, landing, instance, small_catalog):
    drop(landing, recent_days(1)[0], small_catalog)
    result = tick(defs, instance)
    assert result.run_requests == []
    assert result.skip_message.startswith("SPD_SOURCE is not 'landing'")

"""The landing sensor's requests on a real instance: new, changed and unchanged files, late data, gaps.

These tick the sensor directly (no run is launched); tests/e2e/test_daemon_landing.py runs the same
flows through the real daemon.
"""

import datetime as dt
import os
from dataclasses import replace
from pathlib import Path

import dagster as dg
import polars as pl
import pytest
from conftest import recent_days

from spd_assets.core.landing.folder import affected_days, contiguous, stale_category_days
from spd_assets.core.storage import DayStore
from spd_assets.core.synthetic.orders import generate_day
from spd_assets.definitions import build_defs
from spd_assets.partitions import RANGE_END, RANGE_START

OLD = 1_600_000_000  # an mtime long past, so files count as settled
DATED = ["orders", "quarantine", "daily_agg", "daily_metrics", "alerts", "incidents"]


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
    # A context manager, as the daemon opens it: the IO manager is a context-manager resource.
    with dg.build_sensor_context(
        instance=instance, cursor=cursor, definitions=defs, resources=defs.resources
    ) as context:
        return defs.resolve_sensor_def("landing_sensor").evaluate_tick(context)


def what(result) -> tuple[str, ...] | tuple[str, str]:
    """('catalog',) or (first day, last day) of the one request of a tick."""
    (request,) = result.run_requests
    keys = [k.path[-1] for k in request.asset_selection]
    if keys == ["catalog"]:
        return ("catalog",)
    assert keys == DATED
    if request.partition_key:
        return (request.partition_key, request.partition_key)
    return (request.tags[RANGE_START], request.tags[RANGE_END])


def ticks_until_idle(defs, instance, cursor=None, limit: int = 20) -> tuple[list, str]:
    """Every request the sensor makes, tick after tick, until it has nothing left (runs never start)."""
    seen = []
    for _ in range(limit):
        result = tick(defs, instance, cursor)
        cursor = result.cursor
        if not result.run_requests:
            return seen, cursor
        seen.append(what(result))
    raise AssertionError(f"still requesting after {limit} ticks: {seen}")


def iso(day: dt.date) -> str:
    return day.isoformat()


def test_affected_days_reach_later_landed_days_within_the_window() -> None:
    d = [dt.date(2025, 3, 1) + dt.timedelta(days=k) for k in range(30)]
    landed = set(d[:3]) | set(d[5:20])
    assert affected_days([d[2]], landed, 14) == {d[2], *d[5:16]}  # d2..d15, days with a file only
    assert contiguous({d[0], d[1], d[3]}) == [(d[0], d[1]), (d[3], d[3])]


def test_a_new_file_loads_the_catalog_first_then_its_day(landing_defs, landing, instance, small_catalog):
    day = recent_days(1, end_offset=40)[0]
    drop(landing, day, small_catalog)
    first = tick(landing_defs, instance)
    assert what(first) == ("catalog",)  # never materialized yet: orders need it
    assert first.run_requests[0].tags["spd/trigger"] == "landing_sensor"
    second = tick(landing_defs, instance, first.cursor)
    assert what(second) == (iso(day), iso(day))
    assert second.run_requests[0].tags["dagster/max_retries"] == "2"
    assert tick(landing_defs, instance, second.cursor).run_requests == []


def test_an_unchanged_file_never_triggers_twice(landing_defs, landing, instance, small_catalog):
    path = drop(landing, recent_days(1, end_offset=30)[0], small_catalog)
    seen, cursor = ticks_until_idle(landing_defs, instance)
    assert len(seen) == 2  # catalog, the day
    os.utime(path, (OLD + 60, OLD + 60))  # touched, same content
    assert tick(landing_defs, instance, cursor).run_requests == []


def test_a_changed_file_requests_its_day_again(landing_defs, landing, instance, small_catalog):
    day = recent_days(1, end_offset=30)[0]
    drop(landing, day, small_catalog)
    _, cursor = ticks_until_idle(landing_defs, instance)
    drop(landing, day, small_catalog, orders_per_day=55)  # a corrected export for the same day
    seen, _ = ticks_until_idle(landing_defs, instance, cursor)
    assert seen[-1] == (iso(day), iso(day))


def test_late_data_re_runs_the_later_days_whose_windows_read_it_and_a_gap_splits_the_runs(
    landing_defs, landing, instance, small_catalog
):
    days = recent_days(20, end_offset=3)
    for day in days[5:]:
        drop(landing, day, small_catalog)
    seen, cursor = ticks_until_idle(landing_defs, instance)
    assert seen == [("catalog",), (iso(days[5]), iso(days[-1]))]  # the history: one run
    late = days[2]
    drop(landing, late, small_catalog)
    seen, cursor = ticks_until_idle(landing_defs, instance, cursor)
    # days 3 and 4 have no file: day 2 alone, then 5..15 (their 14-day windows read day 2)
    assert seen == [(iso(late), iso(late)), (iso(days[5]), iso(days[15]))]


def test_one_run_at_a_time_while_a_landing_run_is_going(landing_defs, landing, instance, small_catalog):
    days = recent_days(30, end_offset=5)
    for day in (days[0], days[20]):
        drop(landing, day, small_catalog)
    dg.materialize(
        [landing_defs.get_assets_def("catalog")], instance=instance, resources=landing_defs.resources
    )
    first = tick(landing_defs, instance)
    assert what(first) == (iso(days[0]), iso(days[0]))
    run = instance.create_run_for_job(
        landing_defs.resolve_job_def("daily_pipeline"),
        status=dg.DagsterRunStatus.STARTED,
        tags={"spd/trigger": "landing_sensor"},
    )
    waiting = tick(landing_defs, instance, first.cursor)
    assert waiting.run_requests == [] and "waiting for run" in waiting.skip_message
    instance.report_run_failed(instance.get_run_by_id(run.run_id))
    assert what(tick(landing_defs, instance, waiting.cursor)) == (iso(days[20]), iso(days[20]))


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


def test_a_deleted_file_is_reported_in_the_tick(landing_defs, landing, instance, small_catalog):
    path = drop(landing, recent_days(1, end_offset=10)[0], small_catalog)
    _, cursor = ticks_until_idle(landing_defs, instance)
    path.unlink()
    result = tick(landing_defs, instance, cursor)
    assert result.run_requests == []
    assert f"1 file(s) deleted from the landing folder ({path.name})" in result.skip_message


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
    assert what(tick(landing_defs, instance)) == ("catalog",)


def test_with_the_synthetic_source_the_sensor_does_nothing(defs, landing, instance, small_catalog):
    drop(landing, recent_days(1)[0], small_catalog)
    result = tick(defs, instance)
    assert result.run_requests == []
    assert result.skip_message.startswith("SPD_SOURCE is not 'landing'")


def test_a_changed_mapping_re_runs_every_landed_day(landing_defs, landing, instance, small_catalog):
    days = recent_days(3, end_offset=5)
    for day in days:
        drop(landing, day, small_catalog)
    _, cursor = ticks_until_idle(landing_defs, instance)
    (landing / "mapping.toml").write_text('[columns]\nsku = "sku"\n')
    os.utime(landing / "mapping.toml", (OLD, OLD))
    seen, _ = ticks_until_idle(landing_defs, instance, cursor)
    assert seen == [(iso(days[0]), iso(days[-1]))]


def test_stale_category_days_are_those_whose_stored_category_the_catalog_no_longer_gives() -> None:
    d1, d2, d3 = (dt.date(2025, 3, k) for k in (1, 2, 3))
    stored = pl.DataFrame(
        {
            "date": [d1, d1, d2, d3],
            "sku": ["A", "B", "B", "GONE"],
            "category": ["toys", "food", "food", "unknown"],
        }
    )
    catalog = pl.DataFrame({"sku": ["A", "B"], "category": ["toys", "drinks"]})
    assert stale_category_days(stored, catalog) == {d1, d2}  # B moved; GONE was already 'unknown'
    assert stale_category_days(stored.filter(pl.col("sku") != "B"), catalog) == set()


def _execute(
    defs: dg.Definitions, instance: dg.DagsterInstance, request: dg.RunRequest, success: bool = True
) -> dg.ExecuteInProcessResult:
    """Run a sensor's request in process, as the daemon would launch it."""
    if [k.path[-1] for k in request.asset_selection] == ["catalog"]:
        assets = [defs.get_assets_def("catalog")]
        result = dg.materialize(assets, instance=instance, resources=defs.resources, tags=request.tags)
    else:
        result = defs.resolve_job_def("daily_pipeline").execute_in_process(
            instance=instance,
            tags=request.tags,
            asset_selection=request.asset_selection,
            partition_key=request.partition_key,
            raise_on_error=False,
        )
    assert result.success == success
    return result


def _run_until_idle(defs: dg.Definitions, instance: dg.DagsterInstance, cursor: str | None = None):
    """Tick and run every request until the sensor is idle: the requests made, and the cursor."""
    made = []
    for _ in range(10):
        result = tick(defs, instance, cursor)
        cursor = result.cursor
        if not result.run_requests:
            return made, cursor
        (request,) = result.run_requests
        made.append(request)
        _execute(defs, instance, request)
    raise AssertionError(f"still requesting after 10 ticks: {[r.tags.get('spd/landing') for r in made]}")


def test_a_catalog_change_re_runs_from_daily_agg_the_stored_days_whose_skus_moved(
    landing_defs, landing, instance, small_catalog, settings
) -> None:
    days = recent_days(5, end_offset=10)
    catalog_csv = landing / "catalog.csv"
    small_catalog.rename({"base_price": "price"}).write_csv(catalog_csv)
    os.utime(catalog_csv, (OLD, OLD))
    files = {day: drop(landing, day, small_catalog) for day in days}
    moved = pl.read_csv(files[days[1]])["sku"].mode()[0]
    for day, path in files.items():  # the moved SKU sells on days[1] only
        if day != days[1]:
            pl.read_csv(path).filter(pl.col("sku") != moved).write_csv(path)
            os.utime(path, (OLD, OLD))
    made, cursor = _run_until_idle(landing_defs, instance)
    assert len(made) == 2  # the catalog, then the five days
    store = DayStore(settings.data_dir)
    before = {a: store.path(a, days[0]) for a in ("orders", "daily_agg", "daily_metrics")}
    untouched = {a: Path(p).read_bytes() for a, p in before.items()}

    recategorized = small_catalog.with_columns(
        category=pl.when(pl.col("sku") == moved).then(pl.lit("clearance")).otherwise("category")
    )
    recategorized.rename({"base_price": "price"}).write_csv(catalog_csv)
    os.utime(catalog_csv, (OLD + 60, OLD + 60))
    made, _ = _run_until_idle(landing_defs, instance, cursor)

    assert made[0].asset_selection == [dg.AssetKey("catalog")]
    (recat,) = made[1:]
    assert (recat.tags[RANGE_START], recat.tags[RANGE_END]) == (iso(days[1]), iso(days[-1]))  # + windows
    assert [k.path[-1] for k in recat.asset_selection] == [
        k for k in DATED if k not in ("orders", "quarantine")
    ]
    agg = store.read("daily_agg", days[1])
    assert agg.filter(pl.col("sku") == moved)["category"].unique().to_list() == ["clearance"]
    metrics = store.read("daily_metrics", days[-1])
    assert metrics.filter(pl.col("level") == "category", pl.col("category") == "clearance").height == 1
    assert {a: Path(p).read_bytes() for a, p in before.items()} == untouched  # days[0] never sold it


def test_a_file_rewritten_between_the_tick_and_the_run_is_refused_and_requested_again(
    landing_defs, landing, instance, small_catalog, settings
) -> None:
    days = recent_days(2, end_offset=12)
    for day in days:
        drop(landing, day, small_catalog)
    first = tick(landing_defs, instance)
    _execute(landing_defs, instance, first.run_requests[0])  # the catalog
    sent = tick(landing_defs, instance, first.cursor)
    (request,) = sent.run_requests
    rewritten = drop(landing, days[1], small_catalog, orders_per_day=55)  # re-exported meanwhile
    os.utime(rewritten, (OLD + 60, OLD + 60))

    failed = _execute(landing_defs, instance, request, success=False)
    (failure,) = [e for e in failed.all_events if e.is_step_failure]
    message = failure.step_failure_data.error.message
    assert str(rewritten) in message and "changed after the landing sensor requested this run" in message
    store = DayStore(settings.data_dir)
    assert [store.exists("orders", d) for d in days] == [False, False]  # refused before any write

    again = tick(landing_defs, instance, sent.cursor)  # the cursor did not mark the days done
    (retry,) = again.run_requests
    assert (retry.tags[RANGE_START], retry.tags[RANGE_END]) == (iso(days[0]), iso(days[1]))
    _execute(landing_defs, instance, retry)
    assert store.read("orders", days[1]).height == pl.read_csv(rewritten).height
    assert tick(landing_defs, instance, again.cursor).run_requests == []

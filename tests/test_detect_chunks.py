"""A range run checks as many days in one detection call as its window of rows allows: every call
scores its HISTORY_DAYS again, so a small shop's year is four calls, not twelve, and the alerts are
the same either way (here; a borderline day may differ, see ``chunk_days``)."""

from __future__ import annotations

import datetime as dt
import functools

import polars as pl
import pytest
from anchor import anchor_day
from polars.testing import assert_frame_equal

from spd_assets.core.detect import (
    HISTORY_DAYS,
    MAX_CHUNK_DAYS,
    MIN_CHUNK_DAYS,
    RULES,
    WINDOW_ROWS,
    DetectionConfig,
    chunk_days,
    detect_drops,
)
from spd_assets.core.metrics import daily_series
from spd_assets.core.storage import day_windows
from spd_assets.core.synthetic.shapes import FAMILY, Shape, generate_shop

TODAY = anchor_day()  # the same generated shop on any date (tests/anchor.py)
CHECKED = 150  # days a range run checks: five 31-day chunks, or one call
SHOP = Shape("chunked", orders_per_day=4_000, n_skus=30, regions=FAMILY["small"].regions,
             region_share=FAMILY["small"].region_share, dispersion=8.0, promo_rate=0.05)  # fmt: skip


def test_a_small_shop_checks_a_quarter_at_once_and_a_big_one_a_month() -> None:
    assert chunk_days(3_500) == MAX_CHUNK_DAYS == HISTORY_DAYS == 91  # 500 SKUs x 6 regions
    assert chunk_days(80_000) == WINDOW_ROWS // 80_000 - HISTORY_DAYS == 84
    assert chunk_days(150_000) == MIN_CHUNK_DAYS  # 2 days fit under the budget: a month is the least
    assert chunk_days(105_000) == WINDOW_ROWS // 105_000 - HISTORY_DAYS == 42  # 5,000 x 20
    assert chunk_days(420_000) == MIN_CHUNK_DAYS == 31 and chunk_days(0) == 91  # 20,000 x 20
    # Where history starts the window holds no days before the chunk: a quarter at once at 5,000 x 20.
    assert chunk_days(105_000, history_days=0) == 91 and chunk_days(105_000, history_days=60) == 73
    # Every window a chunk holds stays under the budget, the smallest chunk apart.
    for rows in (1_000, 20_000, 60_000, 90_000):
        assert (chunk_days(rows) + HISTORY_DAYS) * rows <= WINDOW_ROWS


@pytest.fixture(scope="module")
def shop() -> tuple[pl.DataFrame, list[dt.date]]:
    first = TODAY - dt.timedelta(days=CHECKED - 1)
    year = generate_shop(SHOP, first, TODAY, HISTORY_DAYS, seed=3)
    return daily_series(year.daily_agg, year.days), year.days


def _in_chunks(frame: pl.DataFrame, days: list[dt.date], checked: list[dt.date], step: int) -> pl.DataFrame:
    """The alerts a range run finds checking ``step`` days a call, each with its HISTORY_DAYS."""
    found = []
    for i in range(0, len(checked), step):
        chunk = checked[i : i + step]
        have = [d for d in days if chunk[0] - dt.timedelta(days=HISTORY_DAYS) <= d <= chunk[-1]]
        window = frame.filter(pl.col("date").is_between(have[0], have[-1]))
        found.append(detect_drops(window, chunk, available=have).alerts)
    return pl.concat(found)


def test_one_call_finds_what_monthly_chunks_find(shop) -> None:
    frame, days = shop
    checked = days[-CHECKED:]
    monthly = _in_chunks(frame, days, checked, MIN_CHUNK_DAYS)
    at_once = _in_chunks(frame, days, checked, chunk_days(frame.height // len(days)))
    assert monthly.height >= 10 and monthly["level"].n_unique() >= 3  # something to agree on
    scaled = ["spread", "robust_z"]
    # The same alerts, each on the same day, series and rule, with the same observed and baseline
    # revenue, in the same episodes.
    assert_frame_equal(at_once.drop(scaled), monthly.drop(scaled))
    # Some spreads chain lookbacks past HISTORY_DAYS (the rest of the shop's usual movement, the
    # zero-day noise): a day early in a monthly chunk reads HISTORY_DAYS, as its nightly run does, and
    # the same day in one call reads more. Measured here: at most 7% apart, on 10 of 87 alerts.
    assert_frame_equal(at_once.select(scaled), monthly.select(scaled), rel_tol=0.1)


@pytest.mark.parametrize(
    "rules", [DetectionConfig().rules, RULES, ("cusum", "seed_wow")], ids=["default", "every", "cusum_first"]
)
def test_reasons_count_each_series_day_once_by_its_first_rule_or_as_an_alert(shop, rules) -> None:
    frame, days = shop
    config = DetectionConfig(rules=rules)
    result = detect_drops(frame, days[-40:], days, config, shard_rows=5_000)
    scored = result.scored.with_columns(_rank=pl.col("rule").replace_strict(RULES, list(range(len(RULES)))))
    by_day = scored.sort("_rank", maintain_order=True).group_by("date", "level", "sku", "category", "region")
    expected = by_day.agg(
        status=pl.when((pl.col("status") == "alert").any())
        .then(pl.lit("alert"))
        .otherwise(pl.first("status"))
    )["status"].value_counts()
    assert result.reasons() == dict(zip(expected["status"], expected["count"], strict=True))
    assert result.reasons()["alert"] >= 5 and len(result.reasons()) >= 3  # something to count


def test_window_sums_stay_inside_their_series(shop) -> None:
    """A running sum over the whole column carried the rounding of the series before into the next: a
    cell that never sold summed to 3e-12, not 0, and the window rule's rows differed between two
    runs of the same call."""
    frame, days = shop
    quiet = frame.filter(pl.col("level") == "sku_region").select("sku", "region").unique().sort("sku").head(1)
    cell_rows = (
        (pl.col("level") == "sku_region")
        & pl.col("sku").is_in(quiet["sku"].implode())
        & (pl.col("region").is_in(quiet["region"].implode()))
    )
    numbers = [c for c in frame.columns if c in ("revenue", "orders", "units")]
    dead = frame.with_columns(pl.when(cell_rows).then(0).otherwise(pl.col(c)).alias(c) for c in numbers)
    checked = days[-30:]
    first = detect_drops(dead, checked, days, DetectionConfig(rules=RULES), shard_rows=5_000)
    again = detect_drops(dead, checked, days, DetectionConfig(rules=RULES), shard_rows=5_000)
    window = pl.col("rule") == "window_mad"
    assert_frame_equal(first.scored.filter(window), again.scored.filter(window))
    cell = first.scored.filter(window).join(quiet, on=["sku", "region"])
    assert cell.height == len(checked) and cell["observed"].to_list() == [0.0] * len(checked)
    assert cell["baseline"].to_list() == [0.0] * len(checked)


def test_the_chunk_benchmark_finds_the_same_alerts_in_every_chunk_length() -> None:
    from benchmarks import detect_chunks

    out = detect_chunks.measure(20, TODAY - dt.timedelta(days=69), TODAY)
    assert out["days_checked"] == 70 and set(out["chunks"]) == {31, 70, 91}
    assert out["chunks"][31]["alerts"] > 0
    assert [c["differ_from_31"] for c in out["chunks"].values()] == [0, 0, 0]  # this shop: none


def test_the_benchmarks_big_catalog_call_reads_a_chunk_and_its_history() -> None:
    from benchmarks import detect_chunks

    out = detect_chunks.one_call(12, 3)
    assert out["days_read"] == MIN_CHUNK_DAYS + HISTORY_DAYS and out["rows"] > 12 * 3 * out["days_read"]


def test_a_backfill_from_the_first_day_checks_a_quarter_first_in_the_same_rows() -> None:
    """At 5,000 x 20 a chunk with its HISTORY_DAYS reads 133 days; the first chunk of a backfill from
    the first stored day has none before it, so it checks 91 days in 91 days of rows, then six weeks."""
    first = TODAY - dt.timedelta(days=364)
    year = [first + dt.timedelta(days=i) for i in range(365)]
    size = functools.partial(chunk_days, 105_000)
    chunks = list(day_windows(year, year, HISTORY_DAYS, size))
    assert [len(c) for c, _ in chunks[:3]] == [91, 42, 42] and sum(len(c) for c, _ in chunks) == 365
    assert len(chunks) == 8  # 12 calls of a month before, each reading 122 days
    assert chunks[0][1] == year[:91] and chunks[1][1] == year[:133]
    assert all(len(read) * 105_000 <= WINDOW_ROWS for _, read in chunks)
    # A range starting later reads its history: six weeks at a time from the start.
    later = list(day_windows(year[200:], year, HISTORY_DAYS, size))
    assert len(later[0][0]) == 42 and later[0][1] == year[200 - HISTORY_DAYS : 242]


def test_where_history_starts_one_call_and_monthly_calls_find_the_same_alerts() -> None:
    """Detection reads no day after the one it checks: from the first day of history, a quarter in one
    call and the same days a month at a time (each reading every day since the first) give the same
    alerts, spreads and all. (Past HISTORY_DAYS a monthly window starts later than one call's, and a
    cusum run on a borderline day may differ: see ``chunk_days``.)"""
    # A young shop: five weeks of history, then eight weeks with drops in them; 91 days in all.
    young = generate_shop(SHOP, TODAY - dt.timedelta(days=55), TODAY, 35, seed=3)
    frame, days = daily_series(young.daily_agg, young.days), young.days
    checked = days[:HISTORY_DAYS]
    assert checked == days
    monthly = _in_chunks(frame, days, checked, MIN_CHUNK_DAYS)
    at_once = _in_chunks(frame, days, checked, len(checked))
    assert monthly.height >= 5  # something to agree on
    assert_frame_equal(at_once, monthly)

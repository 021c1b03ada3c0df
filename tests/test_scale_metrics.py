"""rolling_metrics on dense arrays gives exactly what the joined-and-sorted frame version gave.

The reference below is the previous implementation (a dense calendar grid of the level series,
sorted, rolled per series); the array version replaced it for catalog scale, so every value, type
and row order must be the same, on gaps, duplicates, a SKU changing category and a one-region shop.
"""

import datetime as dt

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from benchmarks.catalog_scale import CatalogShop
from spd_assets.core.metrics import (
    LOOKBACK_DAYS,
    WINDOW,
    calendar_grid,
    chunk_days,
    daily_series,
    pct_change_7d,
    rolling_7d,
    rolling_metrics,
    window_days,
)
from spd_assets.core.schema import DAILY_METRICS, LEVEL_KEYS, METRICS_LEVELS, conform, empty
from spd_assets.core.storage import DayStore
from tests.conftest import recent_days


def reference_metrics(daily_agg: pl.DataFrame, days: list, output_days: list) -> pl.DataFrame:
    out_days = sorted(set(output_days))
    if not out_days:
        return empty(DAILY_METRICS)
    first = out_days[0] - dt.timedelta(days=LOOKBACK_DAYS)
    series = daily_series(daily_agg, [d for d in days if first <= d <= out_days[-1]])
    keys = ["level", "sku", "category", "region"]
    dense = calendar_grid(series, keys, first, out_days[-1], days).sort([*keys, "date"])
    dense = dense.with_columns(cents=(pl.col("revenue") * 100).round().cast(pl.Int64))
    roll = {c: rolling_7d(c, keys) for c in ("cents", "units", "orders")}
    full = dense.with_columns(
        cents_7d=roll["cents"],
        units_7d=roll["units"],
        orders_7d=roll["orders"],
        window_days=window_days(keys),
    ).with_columns(
        cents_7d_prev=pl.col("cents_7d").shift(WINDOW).over(keys),
        prev_days=pl.col("window_days").shift(WINDOW).over(keys),
    )
    complete = (pl.col("window_days") == WINDOW) & (pl.col("prev_days") == WINDOW)
    result = (
        full.filter(pl.col("date").is_in(out_days) & pl.col("available"))
        .with_columns(
            revenue=pl.col("cents") / 100,
            revenue_7d=pl.col("cents_7d") / 100,
            revenue_7d_prev=pl.when(pl.col("prev_days") > 0).then(pl.col("cents_7d_prev") / 100),
            pct_change_7d=pct_change_7d(pl.col("cents_7d"), pl.col("cents_7d_prev"), complete).round(6),
            aov_7d=pl.when(pl.col("orders_7d") > 0).then(
                (pl.col("cents_7d") / pl.col("orders_7d") / 100).round(4)
            ),
        )
        .sort("date", *_stored_order(), "sku", "region", "category", nulls_last=False)
    )
    return conform(result, DAILY_METRICS)


def _stored_order() -> list[pl.Expr]:
    """Levels in the order files hold them (``METRICS_LEVELS``), SKU x region rows region by region
    (``LEVEL_KEYS``), the other levels by their key."""
    assert LEVEL_KEYS["sku_region"] == ("region", "sku")
    rank = pl.col("level").replace_strict({lvl: i for i, lvl in enumerate(METRICS_LEVELS)})
    return [rank, pl.when(pl.col("level") == "sku_region").then(pl.col("region"))]


DAYS = recent_days(40)


def _shop_days(n_skus: int, n_regions: int) -> pl.DataFrame:
    """The shop's days, some lines cancelled (kept per series and output day, apart from the windows)."""
    shop = CatalogShop(n_skus, n_regions)
    days = pl.concat([shop.day(d) for d in DAYS])
    lost = (days["orders"] // 7).cast(pl.Int64)
    return days.with_columns(cancelled_orders=lost, cancelled_revenue=(lost * 3.25).round(2))


@pytest.mark.parametrize(
    "out", [DAYS[20:], DAYS[13:14], DAYS[:5], DAYS[-1:]], ids=["range", "first_full", "early", "last"]
)
def test_array_metrics_equal_the_frame_version_with_gaps(out):
    agg = _shop_days(40, 3)
    available = [d for i, d in enumerate(DAYS) if i not in (4, 17, 31)]  # days never materialized
    agg = agg.filter(pl.col("date").is_in(available) & (pl.col("orders") % 7 != 0))  # cells without sales
    assert_frame_equal(rolling_metrics(agg, available, out), reference_metrics(agg, available, out))


def test_duplicate_rows_a_sku_changing_category_and_rows_outside_the_days_are_handled_alike():
    agg = _shop_days(30, 6)
    moved = agg.filter(pl.col("sku") == "SKU-0001", pl.col("date") > DAYS[25]).with_columns(
        category=pl.lit("zz")
    )
    agg = pl.concat([agg.filter(~((pl.col("sku") == "SKU-0001") & (pl.col("date") > DAYS[25]))), moved])
    agg = pl.concat([agg, agg.filter(pl.col("sku") == "SKU-0002")])  # the same cell twice on a day
    agg = agg.sample(fraction=1.0, shuffle=True, seed=3)
    days = DAYS[:-3]  # the last three days' rows are in the frame but not available
    assert_frame_equal(rolling_metrics(agg, days, DAYS[14:]), reference_metrics(agg, days, DAYS[14:]))


def test_one_region_shop_and_an_empty_daily_agg():
    agg = _shop_days(20, 1).with_columns(region=pl.lit("all"))
    new = rolling_metrics(agg, DAYS, DAYS[20:])
    assert_frame_equal(new, reference_metrics(agg, DAYS, DAYS[20:]))
    assert "region" not in new["level"].unique().to_list()
    none = agg.clear()
    assert_frame_equal(rolling_metrics(none, DAYS, DAYS[-2:]), reference_metrics(none, DAYS, DAYS[-2:]))
    assert rolling_metrics(agg, [], DAYS[-2:]).is_empty()


def test_every_levels_revenue_sums_to_the_days_revenue():
    agg = _shop_days(50, 4)
    m = rolling_metrics(agg, DAYS, DAYS[14:])
    day_cents = agg.group_by("date").agg((pl.col("revenue") * 100).round().cast(pl.Int64).sum().alias("c"))
    for level in ("total", "region", "category", "sku", "sku_region"):
        got = (
            m.filter(level=level)
            .group_by("date")
            .agg((pl.col("revenue") * 100).round().cast(pl.Int64).sum().alias("c"))
        )
        joined = got.join(day_cents, on="date", suffix="_agg")
        assert joined.height == len(DAYS[14:])
        assert np.array_equal(joined["c"].to_numpy(), joined["c_agg"].to_numpy()), level


def test_alerts_from_array_metrics_equal_those_from_the_frame_version():
    from spd_assets.core.detect import HISTORY_DAYS, detect_drops

    shop = CatalogShop(40, 4)
    days = recent_days(HISTORY_DAYS + 4 + LOOKBACK_DAYS)
    agg = pl.concat([shop.day(d) for d in days])
    out = days[LOOKBACK_DAYS:]
    new, old = rolling_metrics(agg, days, out), reference_metrics(agg, days, out)
    checked = out[-4:]
    alerts = detect_drops(new, checked, available=out).alerts
    assert alerts.height > 0
    assert_frame_equal(alerts, detect_drops(old, checked, available=out).alerts)


def test_chunks_of_a_week_give_the_months_metrics_and_a_big_shop_gets_shorter_chunks(tmp_path):
    """A range run computes chunk_days(size) output days together; each day reads its own lookback,
    so a week at a time gives exactly what a month at a time gives."""
    agg = _shop_days(40, 3)
    available = [d for i, d in enumerate(DAYS) if i not in (9, 22)]
    agg = agg.filter(pl.col("date").is_in(available))
    out = DAYS[13:]

    def chunked(step: int) -> pl.DataFrame:
        parts = []
        for i in range(0, len(out), step):
            chunk = out[i : i + step]
            have = [d for d in available if chunk[0] - dt.timedelta(days=LOOKBACK_DAYS) <= d <= chunk[-1]]
            parts.append(rolling_metrics(agg.filter(pl.col("date").is_in(have)), have, chunk))
        return pl.concat(parts)

    assert_frame_equal(chunked(7), chunked(31))
    assert chunk_days(3_000) == 31 and chunk_days(100_000) == 10 and chunk_days(400_000) == 7
    store = DayStore(str(tmp_path))
    store.write("daily_agg", DAYS[-1], agg.filter(pl.col("date") == DAYS[-1]))
    assert store.row_count("daily_agg", DAYS[-1]) == agg.filter(pl.col("date") == DAYS[-1]).height > 0


def test_a_range_runs_chunks_are_sized_by_its_newest_stored_day(tmp_path) -> None:
    from spd_assets.core.storage import DayFrames

    store, days = DayStore(str(tmp_path)), recent_days(4)
    frames = DayFrames(store, "daily_agg", tuple(days))
    assert frames.newest_rows() == 0  # nothing stored yet
    store.write("daily_agg", days[0], pl.DataFrame({"x": [1, 2, 3]}))
    store.write("daily_agg", days[2], pl.DataFrame({"x": [1, 2, 3, 4, 5]}))
    assert frames.newest_rows() == 5  # the newest day's, not the first's nor a missing day's


def test_category_region_rows_and_cancelled_lines_sum_what_daily_agg_holds():
    """The dashboard's category-in-a-region roll-up and every level's cancelled lines are daily_agg's sums."""
    agg = _shop_days(30, 4)
    rng = np.random.default_rng(5)
    cancelled = rng.binomial(agg["orders"].to_numpy(), 0.1)
    agg = agg.with_columns(
        cancelled_orders=pl.Series(cancelled, dtype=pl.Int64),
        cancelled_revenue=pl.Series(np.round(cancelled * rng.uniform(5, 50, agg.height), 2)),
    )
    m = rolling_metrics(agg, DAYS, DAYS[14:])
    cells = (
        agg.filter(pl.col("date") >= DAYS[14])
        .group_by("date", "region", "category")
        .agg(pl.col("revenue", "orders", "cancelled_orders", "cancelled_revenue").sum())
    )
    got = m.filter(level="category_region").select(cells.columns)
    joined = cells.join(got, on=["date", "region", "category"], how="full", coalesce=True)
    assert joined.height == cells.height == got.height
    for col in ("revenue", "cancelled_revenue"):
        assert (joined[col] - joined[f"{col}_right"]).abs().max() < 1e-6, col
    assert (joined["orders"] == joined["orders_right"]).all()
    assert (joined["cancelled_orders"] == joined["cancelled_orders_right"]).all()
    day_cancelled = agg.filter(pl.col("date") >= DAYS[14])["cancelled_orders"].sum()
    for level in ("total", "region", "category", "sku", "sku_region", "category_region"):
        assert m.filter(level=level)["cancelled_orders"].sum() == day_cancelled, level
    assert m.filter(level="category_region")["revenue_7d"].null_count() == 0

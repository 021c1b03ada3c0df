"""Detection at scale gives what the plain rules give: in shards (a big catalog scored a few SKUs at a
time), and the array shortcuts (the dense grid, zero runs, the shop's change per row) against joins."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from anchor import anchor_day
from polars.testing import assert_frame_equal, assert_series_equal

from spd_assets.core import detect
from spd_assets.core import detect_grid as grid
from spd_assets.core.detect import HISTORY_DAYS, RULES, DetectionConfig, detect_drops
from spd_assets.core.detect_level import ALL, UNUSUAL, cell_orders, change_column, shop_change, shop_levels
from spd_assets.core.detect_zero import zero_runs
from spd_assets.core.incidents import LEAF_COLUMNS, LEAF_ROWS, leaves
from spd_assets.core.metrics import calendar_grid, daily_series
from spd_assets.core.synthetic.shapes import FAMILY, Shape, generate_shop

TODAY = anchor_day()  # the same generated shops on any date (tests/anchor.py)
FIRST = TODAY - dt.timedelta(days=60)
SMALL = Shape("sharded", orders_per_day=4_000, n_skus=36, regions=FAMILY["small"].regions,
              region_share=FAMILY["small"].region_share, dispersion=8.0, promo_rate=0.05)  # fmt: skip
TINY_SHARDS = 3_000  # series-days a shard: a few SKUs each, so the shop is cut in many


@pytest.fixture(scope="module")
def shop() -> tuple[pl.DataFrame, list[dt.date]]:
    """Daily series of a noisy 36-SKU shop with the shape family's planned incidents."""
    year = generate_shop(SMALL, FIRST, TODAY, HISTORY_DAYS, seed=5)
    return daily_series(year.daily_agg, year.days), year.days


def _same(one: detect.Detection, sharded: detect.Detection) -> None:
    assert_frame_equal(one.alerts, sharded.alerts)
    # Polars' parallel sums are not bit-identical from run to run, and a window's miss (its rolling
    # sums' ratio less 1) near zero magnifies that: one run in ten differed by 1e-9 of a spread.
    assert_frame_equal(one.scored, sharded.scored, rel_tol=1e-6, abs_tol=1e-9)
    assert one.reasons() == sharded.reasons()


def _counting_shards(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The grids each call builds (``dense_rows``: two a shard, one per pass)."""
    calls: list[int] = []
    dense = detect.dense_rows

    def counted(rows: pl.DataFrame, *args: object) -> pl.DataFrame:
        calls.append(rows.height)
        return dense(rows, *args)

    monkeypatch.setattr(detect, "dense_rows", counted)
    return calls


@pytest.mark.parametrize(
    "config",
    [DetectionConfig(), DetectionConfig(rules=RULES), DetectionConfig(level_adjust="none")],
    ids=["default", "every_rule", "no_level_adjust"],
)
@pytest.mark.parametrize("workers", [1, 2], ids=["one_at_a_time", "two_threads"])
def test_shards_find_the_same_alerts_and_scores_as_one_call(shop, config, workers, monkeypatch) -> None:
    frame, days = shop
    checked = days[-45:]
    one = detect_drops(frame, checked, days, config)
    monkeypatch.setattr(detect, "SHARD_WORKERS", workers)
    calls = _counting_shards(monkeypatch)
    sharded = detect_drops(frame, checked, days, config, shard_rows=TINY_SHARDS)
    assert len(calls) > 10  # cut in many shards, not one
    assert one.alerts["level"].n_unique() >= 3 and one.alerts.height >= 5  # something to agree on
    _same(one, sharded)


def test_shards_agree_on_days_not_read_and_on_kept_rows(shop) -> None:
    frame, days = shop
    missing = {days[-20], days[-33], days[-70]}
    have = [d for d in days if d not in missing]
    frame = frame.filter(~pl.col("date").is_in(sorted(missing)))
    checked = days[-45:]
    one = detect_drops(frame, checked, have)
    _same(one, detect_drops(frame, checked, have, shard_rows=TINY_SHARDS))
    kept = detect_drops(frame, checked, have, keep=LEAF_ROWS, columns=LEAF_COLUMNS, shard_rows=TINY_SHARDS)
    assert kept.scored.height > 0 and kept.scored.filter(~LEAF_ROWS).is_empty()
    expected = one.scored.filter(LEAF_ROWS).select(LEAF_COLUMNS)
    assert_frame_equal(kept.scored, expected, rel_tol=1e-9, abs_tol=1e-9)
    assert kept.reasons() == one.reasons()  # counted over every row, not only the kept ones
    assert_frame_equal(kept.alerts, one.alerts)
    # Kept compact (keys Categorical, as the alerts asset keeps a big shop's leaves): the same rows,
    # and the same leaves once their keys are text again.
    small = detect_drops(frame, checked, have, keep=LEAF_ROWS, columns=LEAF_COLUMNS, shard_rows=TINY_SHARDS,
                         compact=True)  # fmt: skip
    assert small.scored.schema["sku"] == pl.Categorical and small.scored.schema["observed"] == pl.Float64
    assert_frame_equal(small.scored.with_columns(pl.col(pl.Categorical).cast(pl.String)), kept.scored)
    assert_frame_equal(leaves(small.scored), leaves(kept.scored))
    assert_frame_equal(small.alerts, kept.alerts)


def test_a_shop_of_one_category_in_shards(shop) -> None:
    frame, days = shop
    one_category = frame.with_columns(
        category=pl.when(pl.col("level").is_in(["total", "region"])).then(None).otherwise(pl.lit("all"))
    ).unique(["date", "level", "sku", "category", "region"], keep="first")
    checked = days[-30:]
    _same(
        detect_drops(one_category, checked, days),
        detect_drops(one_category, checked, days, shard_rows=TINY_SHARDS),
    )


def test_the_dense_grid_is_the_calendar_grid(shop) -> None:
    """``dense_series`` places rows in an array; ``metrics.calendar_grid`` (the one rule of the grid,
    which the metrics use) joins them: the same frame, on days read, not read, and out of range."""
    frame, days = shop
    frame = frame.filter(
        pl.col("sku").is_null()
        | (pl.col("sku") != frame["sku"].drop_nulls()[0])
        | (pl.col("date") < days[40])
    )
    ids = grid.series_ids(frame)
    keyed = frame.join(ids, on=list(grid.SERIES), how="left", nulls_equal=True)
    numbers = keyed.select("date", grid.SID, pl.col("revenue", "orders").cast(pl.Float64))
    for have in (days, [d for i, d in enumerate(days) if i % 9], days[5:-3]):
        expected = (
            calendar_grid(numbers, [grid.SID], min(have), max(have), have)
            .with_columns(
                pl.when("available").then(pl.col(c).fill_null(0.0)).alias(c) for c in ("revenue", "orders")
            )
            .sort(grid.SID, "date")
            .join(ids, on=grid.SID, how="left", maintain_order="left")
            .with_columns(_pos=(pl.col("date") - min(have)).dt.total_days())
        )
        assert_frame_equal(grid.dense_series(frame, have), expected, check_exact=True)


def test_zero_runs_are_the_per_series_cumulative_counts(shop) -> None:
    frame, days = shop
    have = [d for i, d in enumerate(days) if i % 11]
    dense = grid.dense_series(frame.filter(pl.col("date").is_in(have)), have)
    zero = pl.col("orders") == 0
    expected = dense.with_columns(
        _group=(~zero).fill_null(True).cast(pl.Int32).cum_sum().over(grid.SID)
    ).select(run=zero.fill_null(False).cast(pl.Int32).cum_sum().over(grid.SID, "_group"))
    assert dense.filter(zero).height > 100 and expected["run"].max() >= 3  # runs to count
    assert_series_equal(zero_runs(dense), expected["run"])


def test_the_shops_change_per_row_is_the_join_on_region_and_category(shop) -> None:
    frame, days = shop
    dense = grid.dense_series(frame, days)
    levels = shop_levels(cell_orders(dense), dense.filter(level="total").select("date", "orders"), 8)
    columns = [change_column(k) for k in range(1, 9)]
    region = pl.when(pl.col("level").is_in(["region", "sku_region"])).then("region").otherwise(pl.lit(ALL))
    joined = (
        dense.with_columns(_region=region, _own=pl.col("category"))
        .join(
            levels.levels, on=["date", "_region", "_own"], how="left", nulls_equal=True, maintain_order="left"
        )
        .join(levels.total, on="date", how="left", maintain_order="left")
        .with_columns(
            pl.when(pl.col("level") == "total").then(f"_total{c}").otherwise(c).alias(c) for c in columns
        )
        .drop("_region", "_own", *(f"_total{c}" for c in columns))
        .join(levels.unusual, on=["date", "category"], how="left", maintain_order="left")
        .with_columns(pl.col(UNUSUAL).fill_null(False))
    )
    placed = shop_change(dense, "shop", 8, levels)
    assert placed.get_column(UNUSUAL).any()  # the shop has unusual category days to place
    assert placed.select(columns).null_count().sum_horizontal().item() > 0  # early days have no change
    assert_frame_equal(placed, joined, check_exact=True)


def test_each_rows_series_id_by_hash_and_when_hashes_collide(shop, monkeypatch) -> None:
    frame, _ = shop
    ids = grid.series_ids(frame)
    joined = frame.join(ids, on=list(grid.SERIES), how="left", nulls_equal=True, maintain_order="left")
    for collide in (False, True):
        if collide:  # every series one hash: the check finds it and the plain join decides
            monkeypatch.setattr(grid, "key_hash", lambda: pl.lit(7, dtype=pl.UInt64))
        found, sid = grid.row_series(frame)
        assert_frame_equal(found, ids)
        assert_series_equal(sid, joined.get_column(grid.SID))


@pytest.mark.parametrize("shard_rows", [detect.SHARD_ROWS, TINY_SHARDS], ids=["one_call", "shards"])
def test_categorical_keys_find_what_text_keys_find(shop, shard_rows, monkeypatch) -> None:
    """The alerts step holds its window with Categorical keys (``compact_keys``): same result."""
    frame, days = shop
    checked = days[-30:]
    text = detect_drops(frame, checked, days, shard_rows=shard_rows)
    compact = detect_drops(grid.compact_keys(frame), checked, days, shard_rows=shard_rows)
    _same(text, compact)
    assert compact.scored.schema == text.scored.schema  # keys come back as text
    monkeypatch.setattr(grid, "key_hash", lambda: pl.lit(7, dtype=pl.UInt64))  # the join's path
    _same(text, detect_drops(grid.compact_keys(frame), checked, days, shard_rows=shard_rows))

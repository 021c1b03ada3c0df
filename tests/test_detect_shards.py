"""Detection in shards (a big catalog scored a few SKUs at a time) gives what one call gives."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from spd_assets.core import detect
from spd_assets.core.detect import HISTORY_DAYS, RULES, DetectionConfig, detect_drops
from spd_assets.core.incidents import LEAF_ROWS
from spd_assets.core.metrics import daily_series
from spd_assets.core.synthetic.shapes import FAMILY, Shape, generate_shop

TODAY = dt.date.today()
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
    # Polars' parallel sums are not bit-identical from run to run; nothing is rounded differently.
    assert_frame_equal(one.scored, sharded.scored, rel_tol=1e-9, abs_tol=1e-9)
    assert one.reasons() == sharded.reasons()


def _counting_shards(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The shards each call scores (one per ``_dense`` grid built in the second pass)."""
    calls: list[int] = []
    dense = detect._dense

    def counted(rows: pl.DataFrame, *args: object) -> pl.DataFrame:
        calls.append(rows.height)
        return dense(rows, *args)

    monkeypatch.setattr(detect, "_dense", counted)
    return calls


@pytest.mark.parametrize(
    "config",
    [DetectionConfig(), DetectionConfig(rules=RULES), DetectionConfig(level_adjust="none")],
    ids=["default", "every_rule", "no_level_adjust"],
)
def test_shards_find_the_same_alerts_and_scores_as_one_call(shop, config, monkeypatch) -> None:
    frame, days = shop
    checked = days[-45:]
    one = detect_drops(frame, checked, days, config)
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
    kept = detect_drops(frame, checked, have, keep=LEAF_ROWS, shard_rows=TINY_SHARDS)
    assert kept.scored.height > 0 and kept.scored.filter(~LEAF_ROWS).is_empty()
    assert_frame_equal(kept.scored, one.scored.filter(LEAF_ROWS), rel_tol=1e-9, abs_tol=1e-9)
    assert kept.reasons() == one.reasons()  # counted over every row, not only the kept ones
    assert_frame_equal(kept.alerts, one.alerts)


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

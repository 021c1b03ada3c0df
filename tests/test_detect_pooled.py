"""The cusum's pooled misses above the cells, and the total's own orders beside them."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
from anchor import anchor_day

from spd_assets.core.detect import HISTORY_DAYS, detect_drops
from spd_assets.core.detect_cusum import _pooled
from spd_assets.core.metrics import daily_series
from spd_assets.core.synthetic.shape_incidents import ShapeIncident
from spd_assets.core.synthetic.shapes import FAMILY, FRESH_FAMILY, Shape, generate_shop

TODAY = anchor_day()  # the same generated shops on any date (tests/anchor.py)
FIRST = TODAY - dt.timedelta(days=60)


def test_a_cell_that_stopped_selling_long_ago_does_not_silence_its_categorys_cusum() -> None:
    # A SKU that sold in one region in its first week only has no over-dispersion to measure. Its
    # 0 / 0 was NaN, summed into its category's, region's and the total's pooled misses: their cusum
    # never moved again, and a long-tail shop's slow declines were found late.
    shape = Shape("steady", orders_per_day=12_000, n_skus=40, demo_season=False)
    start = TODAY - dt.timedelta(days=12)
    cats = generate_shop(shape, FIRST, TODAY, HISTORY_DAYS, 3, incidents=[]).catalog["category"].to_list()
    home = tuple(i for i, c in enumerate(cats) if c == "home")
    decline = ShapeIncident("d", "slow_decline", "category", start, start + dt.timedelta(days=9), 0.5,
                            category="home", sku_index=home)  # fmt: skip
    shop = generate_shop(shape, FIRST, TODAY, HISTORY_DAYS, 3, incidents=[decline])
    gone = shop.catalog["sku"][home[-1]]
    agg = shop.daily_agg.filter(
        ~((pl.col("sku") == gone) & (pl.col("region") == shape.regions[0]) & (pl.col("date") >= shop.days[7]))
    )
    frame = daily_series(agg, shop.days)
    first_five = [start + dt.timedelta(days=k) for k in range(5)]
    found = detect_drops(frame, first_five)
    cusum = found.scored.filter(rule="cusum", level="category", category="home")
    assert cusum["robust_z"].is_not_nan().all() and cusum["robust_z"].min() < 0
    assert found.alerts.filter(level="category", category="home", rule="cusum").height >= 1
    assert found.scored.filter(rule="cusum", level="total")["robust_z"].is_not_nan().all()


def test_a_site_wide_outage_of_a_tiny_noisy_shop_is_caught_by_the_totals_own_orders() -> None:
    # 400 orders a day in two regions, negative-binomial cells (r = 4) and weekend peaks: revenue
    # misses its baseline by 25% on ordinary days, so a 75% drop is under 3.5 revenue spreads. Every
    # cell's expected orders move with the rest of the shop, so the pooled miss cannot see a drop of
    # the whole shop; the total's own orders against its trailing level can.
    tiny = FRESH_FAMILY["tiny_two_regions"]
    days = [TODAY - dt.timedelta(days=k) for k in (30, 23, 17, 10, 4)]  # five weekdays
    outages = [ShapeIncident(f"o{i}", "sitewide_outage", "total", d, d, 0.25) for i, d in enumerate(days)]
    shop = generate_shop(tiny, TODAY - dt.timedelta(days=40), TODAY, HISTORY_DAYS, 5, incidents=outages)
    frame = daily_series(shop.daily_agg, shop.days)
    checked = [TODAY - dt.timedelta(days=k) for k in range(32)]
    total = detect_drops(frame, checked).alerts.filter(level="total")
    assert set(days) <= set(total["date"])
    assert total.filter(pl.col("date").is_in(days).not_()).height <= 1  # the day after one, at most


def test_an_overdispersed_categorys_pooled_miss_is_centred_on_zero() -> None:
    # 150 negative-binomial cells (r = 3) of 0.5 to 200 orders a day and no incident. Each cell's
    # expected orders is the mean of 8 comparable days, as noisy as 8 days are. Weights read from that
    # mean weighed the cells whose expected came out low by chance more: the pooled miss ran +4%
    # above zero (a third of this shop's spread). Weights read from the 28-day mean do not.
    rng = np.random.default_rng(11)
    mu = np.geomspace(0.5, 200.0, 150)
    n_days, r = 300, 3.0

    def draws(*shape: int) -> np.ndarray:
        return rng.poisson(mu[:, None, None] * rng.gamma(r, 1.0 / r, (mu.size, *shape)))

    comparable, lookback, today = draws(n_days, 8), draws(n_days, 28), draws(n_days, 1)[:, :, 0]
    days = [TODAY - dt.timedelta(days=k) for k in range(n_days)]
    frame = pl.DataFrame(
        {
            "level": "sku_region",
            "date": np.tile(np.array(days, dtype="datetime64[D]"), mu.size),
            "sku": np.repeat([f"S{i}" for i in range(mu.size)], n_days),
            "category": "home",
            "region": "r1",
            "orders": today.ravel().astype(float),
            "_obmean": comparable.mean(axis=2).ravel(),
            "_lam": lookback.mean(axis=2).ravel(),
            "_var": lookback.var(axis=2, ddof=1).ravel(),
        }
    )
    pooled = _pooled(frame, None)[0].filter(level="category")
    assert pooled.height == n_days
    assert abs(pooled["_pm"].mean()) < 0.01, pooled["_pm"].mean()


def test_a_categorys_promotion_is_no_shortfall_on_the_same_weekday_after_it() -> None:
    # 'home' sells three times its usual one day. That day is a comparable day of the next 8 weeks'
    # same weekday: in the mean of a cell's 8 comparable days it lifted the expected orders by a
    # quarter, and an ordinary day a week later read as 20% short, four of its spreads.
    shape = Shape("steady", orders_per_day=12_000, n_skus=40, demo_season=False)
    shop = generate_shop(shape, FIRST, TODAY, HISTORY_DAYS, 3, incidents=[])
    promo = TODAY - dt.timedelta(days=15)
    lifted = (pl.col("category") == "home") & (pl.col("date") == promo)
    agg = shop.daily_agg.with_columns(
        pl.when(lifted).then(pl.col(c) * 3).otherwise(pl.col(c)).alias(c)
        for c in ("orders", "units", "revenue")
    )
    weeks_after = [promo + dt.timedelta(days=7), promo + dt.timedelta(days=14)]
    found = detect_drops(daily_series(agg, shop.days), weeks_after)
    cusum = found.scored.filter(rule="cusum", level="category", category="home")
    assert cusum.height == 2 and cusum["robust_z"].min() > -2.5, cusum["robust_z"].to_list()
    assert found.alerts.filter(category="home").is_empty()


def test_a_noisy_regions_partial_drop_is_caught_the_day_its_orders_fall_whatever_its_revenue() -> None:
    # An over-dispersed shop (negative-binomial cells, r = 3, 6% daily shocks): 'us-east' loses 40% of
    # its orders for a day, but the orders left were dearer: its revenue is under 20% down. The
    # one-day limit of the pooled orders (3.5 spreads and 20% down) read the revenue for its 20%
    # and waited for the sum; the orders alone are checked now.
    shape = FAMILY["overdispersed"]
    day = TODAY - dt.timedelta(days=3)
    east = shape.regions.index("us-east")
    drop = ShapeIncident("r", "region_partial", "region", day, day, 0.6, region="us-east", region_index=east)
    shop = generate_shop(shape, FIRST, TODAY, HISTORY_DAYS, 1, incidents=[drop])
    dearer = (pl.col("region") == "us-east") & (pl.col("date") == day)
    agg = shop.daily_agg.with_columns(
        pl.when(dearer).then(pl.col("revenue") * 0.85 / 0.6).otherwise("revenue")
    )
    found = detect_drops(daily_series(agg, shop.days), [day])
    region = found.scored.filter(level="region", region="us-east")
    assert region.filter(rule="weekday_mad")["pct_drop"].item() < 0.2  # its revenue alone: no alert
    assert found.alerts.filter(level="region", region="us-east").height == 1


def test_a_regions_drop_on_the_day_another_category_runs_a_promotion_is_caught() -> None:
    # Three categories; 'us-east' loses 40% of its orders on a day one category sells three times
    # its usual everywhere. That category's cells in the region, far above their expected, made up
    # for half of the region's drop in its pooled miss; the region now leaves out a category on its
    # unusual day.
    shape = Shape("three", orders_per_day=6_000, n_skus=60, n_categories=3, demo_season=False)
    day = TODAY - dt.timedelta(days=3)
    east = shape.regions.index("us-east")
    drop = ShapeIncident("r", "region_partial", "region", day, day, 0.6, region="us-east", region_index=east)
    shop = generate_shop(shape, FIRST, TODAY, HISTORY_DAYS, 2, incidents=[drop])
    promoted = shop.catalog["category"][0]
    lifted = (pl.col("category") == promoted) & (pl.col("date") == day)
    agg = shop.daily_agg.with_columns(
        pl.when(lifted).then(pl.col(c) * 3).otherwise(pl.col(c)).alias(c)
        for c in ("orders", "units", "revenue")
    )
    found = detect_drops(daily_series(agg, shop.days), [day])
    assert found.alerts.filter(level="region", region="us-east").height == 1
    assert found.alerts.filter(level="category", category=promoted).is_empty()

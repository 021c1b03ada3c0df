"""The cusum's pooled misses above the cells, and the total's own orders beside them."""

from __future__ import annotations

import datetime as dt

import polars as pl
from anchor import anchor_day

from spd_assets.core.detect import HISTORY_DAYS, detect_drops
from spd_assets.core.metrics import daily_series
from spd_assets.core.synthetic.shape_incidents import ShapeIncident
from spd_assets.core.synthetic.shapes import FRESH_FAMILY, Shape, generate_shop

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

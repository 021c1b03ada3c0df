"""The rest of the shop's change (detect_level): what scales every baseline, on a shop of three categories."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
from anchor import anchor_day

from spd_assets.core.detect_level import (
    ALL,
    UNUSUAL,
    _category_changes,
    _robust_changes,
    shop_levels,
    unusual_days,
)
from spd_assets.core.synthetic.shapes import Shape, generate_shop

TODAY = anchor_day()
DAYS = [TODAY - dt.timedelta(days=k) for k in range(119, -1, -1)]
CELLS = {"date": pl.Date, "category": pl.String, "region": pl.String, "orders": pl.Int64, "_read": pl.Boolean}


def cells(promo_today: float) -> pl.DataFrame:
    """(date, category, region) orders of three categories in one region. 'mid' always sells the
    middle of the three (so its gap to the median of all is zero every day), until today, when it
    runs a promotion selling ``promo_today`` times its usual."""
    rng = np.random.default_rng(3)
    rows = []
    for i, day in enumerate(DAYS):
        a, b = 1000 * np.exp(rng.normal(0, 0.08, 2))
        low, high = sorted((a, b))
        mid = np.sqrt(low * high) * (promo_today if i == len(DAYS) - 1 else 1.0)
        for category, orders in (("low", low), ("mid", mid), ("high", high)):
            rows.append((day, category, "r1", int(orders), True))
    return pl.DataFrame(rows, schema=CELLS, orient="row")


def change_of(frame: pl.DataFrame, own: str) -> np.ndarray:
    total = frame.group_by("date").agg(pl.col("orders").sum()).sort("date")
    levels = shop_levels(frame, total, 8).levels
    row = levels.filter(pl.col("date") == TODAY, pl.col("_region") == ALL, pl.col("_own") == own)
    return row.select(pl.selectors.starts_with("_change_")).to_numpy()[0]


def test_one_of_three_categories_on_promotion_does_not_scale_the_others_baselines() -> None:
    # 'low' and 'high' see their rest of the shop as the other two: 'mid' at four times its usual,
    # and the other, a few percent off. Both stray from the median of all (the own category), so
    # both are trimmed; 'mid' had a usual stray of zero and outweighed the other, and the rest of the
    # shop read as up 2-4 times: every baseline of 'low' doubled, a false drop on an ordinary day.
    promo = cells(4.0)
    for own in ("low", "high"):
        change = change_of(promo, own)
        assert np.all(np.abs(np.log(change)) < 0.35), (own, change)
    # Without the promotion the changes are the ordinary few percent.
    assert np.all(np.abs(np.log(change_of(cells(1.0), "low"))) < 0.35)


def shop_changes(shape: Shape, seed: int, shrink: bool) -> tuple[pl.DataFrame, np.ndarray, list[dt.date]]:
    """The rest of the shop's week-on-week change for the region series (own category: none) of a
    generated shop, and the true one: its expected orders outside the region, today over a week ago."""
    shop = generate_shop(shape, TODAY - dt.timedelta(days=120), TODAY, 0, seed, incidents=[])
    cells = shop.daily_agg.group_by("date", "category", "region").agg(
        pl.col("orders").sum(), _read=pl.lit(True)
    )
    changes = _robust_changes(_category_changes(cells, 8), 8, shrink=shrink)
    region = shape.regions[0]
    rows = changes.filter(pl.col("_region") == region, pl.col("_own").is_null()).sort("date")
    outside = shop.expected[:, :, 1:].sum(axis=(1, 2))
    index = [shop.days.index(d) for d in rows["date"]]
    truth = np.array([outside[i] / outside[i - 7] if i >= 7 else np.nan for i in index])
    return rows, truth, shop.days


def change_error(shape: Shape, shrink: bool) -> float:
    """The sd of log(estimated / true change) over the last 60 days."""
    rows, truth, _ = shop_changes(shape, 4, shrink)
    error = np.log(rows["_change_1"].to_numpy()) - np.log(truth)
    return float(np.nanstd(error[-60:]))


def test_a_small_shops_rest_of_the_shop_leans_on_its_trailing_level() -> None:
    # 500 orders a day, Poisson, no shocks: the rest of the shop for a region is about 275 orders, its
    # week-on-week ratio has 11% of noise and nothing real moves it; drawn to its trailing level, a
    # third less (measured 0.109 -> 0.070).
    small = Shape("small", orders_per_day=500, n_skus=75, regions=("a", "b", "c"),
                  region_share=(0.45, 0.35, 0.2), demo_season=False)  # fmt: skip
    day, shrunk = change_error(small, shrink=False), change_error(small, shrink=True)
    assert shrunk < 0.75 * day, (shrunk, day)


def test_a_shop_with_real_daily_shocks_keeps_the_days_own_change() -> None:
    # 20,000 orders a day moved together by 12% shocks: the day's change is the signal (the trailing
    # level would miss every shock); shrinking leaves it nearly as it was.
    shocked = Shape("shocked", orders_per_day=20_000, n_skus=60, day_shock=0.12, demo_season=False)
    day, shrunk = change_error(shocked, shrink=False), change_error(shocked, shrink=True)
    assert day < 0.05 and shrunk < 1.3 * day, (shrunk, day)


def test_a_categorys_promotion_or_outage_is_an_unusual_day_and_a_shop_wide_swing_is_not() -> None:
    # Four categories of 300 to 3,000 orders a day and 'e' of one a day, whose days without orders
    # are ordinary. Day 60: the whole shop sells 1.8 times its usual (Black Friday); day 70: 'b' runs
    # a promotion at three times, passing 'c' (so the median category's orders jump from b's to c's:
    # a gap to the median category flagged every other category that day); day 80: 'c' sells nothing.
    rng = np.random.default_rng(6)
    size = {"a": 300, "b": 500, "c": 1_200, "d": 3_000}
    rows = []
    for i, day in enumerate(DAYS):
        shop = 1.8 if i == 60 else 1.0
        rows.append((day, "e", "r1", int(rng.poisson(1.0 * shop)), True))
        for category, orders in size.items():
            factor = shop * (
                3.0 if (i, category) == (70, "b") else 0.0 if (i, category) == (80, "c") else 1.0
            )
            rows.append((day, category, "r1", int(rng.poisson(orders * factor)), True))
    far = set(unusual_days(pl.DataFrame(rows, schema=CELLS, orient="row")).filter(UNUSUAL).iter_rows())
    far = {(day, category) for day, category, _ in far}
    assert {(DAYS[70], "b"), (DAYS[80], "c")} <= far
    assert not {(day, c) for day, c in far if day in (DAYS[60], DAYS[70]) and c != "b"}  # no other that day
    assert not {(day, c) for day, c in far if c == "e"}
    # A 4-spread stray of an ordinary day is rare, not never (the median category's own noise).
    assert len(far) - 2 <= 0.01 * 4 * len(DAYS)

"""The rest of the shop's change (detect_level): what scales every baseline, on a shop of three categories."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
from anchor import anchor_day

from spd_assets.core.detect_level import ALL, shop_levels

TODAY = anchor_day()
DAYS = [TODAY - dt.timedelta(days=k) for k in range(119, -1, -1)]


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
    schema = {
        "date": pl.Date,
        "category": pl.String,
        "region": pl.String,
        "orders": pl.Int64,
        "_read": pl.Boolean,
    }
    return pl.DataFrame(rows, schema=schema, orient="row")


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

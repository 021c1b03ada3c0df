"""The synthetic generator: deterministic, seasonal, long-tailed, with ground truth that matches."""

import datetime as dt

import numpy as np
import polars as pl
import pytest

from spd_assets.core.schema import ORDERS, REGIONS
from spd_assets.core.synthetic.catalog import generate_catalog, sku_popularity
from spd_assets.core.synthetic.drops import incidents_between
from spd_assets.core.synthetic.orders import generate_day
from spd_assets.core.synthetic.seasonality import black_friday, demand_factor

CAT = generate_catalog(60, seed=3)


def _orders(day: dt.date, n: int = 5_000, seed: int = 3) -> pl.DataFrame:
    return generate_day(day, CAT, n, seed).orders


def _total(days: list[dt.date], n: int = 5_000) -> float:
    return sum(_orders(d, n)["revenue"].sum() for d in days)


def test_same_date_and_seed_give_identical_orders():
    a, b = _orders(dt.date(2025, 3, 4)), _orders(dt.date(2025, 3, 4))
    assert a.equals(b)
    assert not a.equals(_orders(dt.date(2025, 3, 5)))
    assert not a.equals(_orders(dt.date(2025, 3, 4), seed=4))


def test_orders_have_the_schema_and_consistent_values():
    orders = _orders(dt.date(2025, 3, 4))
    assert dict(orders.schema) == ORDERS
    assert orders["order_id"].is_unique().all()
    assert (orders["date"] == dt.date(2025, 3, 4)).all()
    assert orders["ts"].dt.date().eq(dt.date(2025, 3, 4)).all()
    assert set(orders["region"].unique()) == set(REGIONS)
    assert (orders["qty"] >= 1).all()
    assert ((orders["qty"] * orders["price"]).round(2) - orders["revenue"]).abs().max() < 1e-9


def test_weekends_sell_less_than_weekdays():
    # Four weeks of March 2025, far from holidays: weekend days average ~0.83 of a weekday.
    days = [dt.date(2025, 3, 3) + dt.timedelta(days=i) for i in range(28)]
    counts = {d: _orders(d).height for d in days}
    weekend = np.mean([c for d, c in counts.items() if d.weekday() >= 5])
    weekday = np.mean([c for d, c in counts.items() if d.weekday() < 5])
    assert 0.72 < weekend / weekday < 0.92


def test_holiday_season_lifts_revenue_and_january_slumps():
    def week(start: dt.date) -> list[dt.date]:
        return [start + dt.timedelta(days=i) for i in range(7)]

    october = _total(week(dt.date(2025, 10, 6)))
    december = _total(week(dt.date(2025, 12, 8)))
    january = _total(week(dt.date(2026, 1, 12)))
    assert 1.25 < december / october < 1.7
    assert 0.7 < january / october < 0.95
    bf = black_friday(2025)
    assert bf == dt.date(2025, 11, 28)
    assert demand_factor(bf) > 1.8 * demand_factor(bf - dt.timedelta(days=7))


def test_sku_popularity_is_long_tailed():
    orders = _orders(dt.date(2025, 3, 4), 20_000)
    share = orders["sku"].value_counts()["count"].sort(descending=True) / orders.height
    assert share[:6].sum() > 0.35  # the top 10% of SKUs sell over a third
    assert share[-30:].sum() < 0.2  # the bottom half sells under a fifth
    assert sku_popularity(60, 3).sum() == pytest.approx(1.0)


def test_ground_truth_lists_the_injected_drops_and_they_happen():
    start, end = dt.date(2025, 1, 1), dt.date(2025, 12, 31)
    incidents = incidents_between(start, end, CAT, sku_popularity(60, 3), 3)
    kinds = {i.kind for i in incidents}
    assert {"sku_stockout", "region_outage", "category_dip", "sitewide_dip", "slow_decline"} <= kinds
    stockout = next(i for i in incidents if i.kind == "sku_stockout")
    gen = generate_day(stockout.start, CAT, 5_000, 3)
    assert stockout.incident_id in gen.truth["incident_id"].to_list()
    assert gen.orders.filter(pl.col("sku") == stockout.sku).height == 0  # out of stock: no orders at all
    outage = next(i for i in incidents if i.kind == "region_outage")
    normal = outage.start - dt.timedelta(days=7)  # same weekday a week before
    share = {
        d: generate_day(d, CAT, 20_000, 3).orders.filter(pl.col("region") == outage.region).height
        for d in (outage.start, normal)
    }
    assert share[outage.start] / share[normal] == pytest.approx(outage.factor, abs=0.12)
    quiet = generate_day(dt.date(2025, 1, 1), CAT, 5_000, 3).truth
    active = [i for i in incidents if i.start <= dt.date(2025, 1, 1) <= i.end]
    assert sorted(quiet["incident_id"].to_list()) == sorted(i.incident_id for i in active)


def test_negative_orders_per_day_is_refused():
    with pytest.raises(ValueError, match="orders_per_day"):
        generate_day(dt.date(2025, 1, 1), CAT, -1)

"""Daily aggregation and rolling metrics, checked against sums and a hand-computed example."""

import datetime as dt

import polars as pl
import pytest

from spd_assets.core.aggregate import aggregate_daily
from spd_assets.core.metrics import rolling_metrics
from spd_assets.core.schema import DAILY_AGG, DAILY_METRICS, METRICS_LEVELS
from spd_assets.core.synthetic.orders import generate_day

D0 = dt.date(2025, 6, 2)


def test_aggregation_sums_equal_order_sums(small_catalog):
    orders = generate_day(D0, small_catalog, 4_000, 7).orders
    agg = aggregate_daily(orders, small_catalog)
    assert dict(agg.schema) == DAILY_AGG
    assert agg["orders"].sum() == orders.height
    assert agg["units"].sum() == orders["qty"].sum()
    assert agg["revenue"].sum() == pytest.approx(orders["revenue"].sum(), abs=0.01)
    assert agg.select(pl.struct("sku", "region").is_unique().all()).item()
    row = agg.row(0, named=True)
    assert row["aov"] == pytest.approx(row["revenue"] / row["orders"], rel=1e-6)


def test_a_sku_missing_from_the_catalog_is_kept_as_unknown(small_catalog):
    orders = generate_day(D0, small_catalog, 500, 7).orders.with_columns(sku=pl.lit("SKU-NEW"))
    agg = aggregate_daily(orders, small_catalog)
    assert agg["category"].unique().to_list() == ["unknown"]
    assert agg["orders"].sum() == orders.height


def _agg(days_revenue: dict[int, float], sku: str = "A", region: str = "us-east") -> pl.DataFrame:
    rows = [
        {
            "date": D0 + dt.timedelta(days=i),
            "sku": sku,
            "category": "toys",
            "region": region,
            "orders": 2,
            "units": 3,
            "revenue": r,
            "aov": r / 2,
        }
        for i, r in days_revenue.items()
    ]
    return pl.DataFrame(rows, schema=DAILY_AGG)


def test_rolling_metrics_match_a_hand_computed_example():
    # Revenue 10, 20, ..., 150 on days 0..14; day 5 has no orders at all (absent from daily_agg).
    revenue = {i: 10.0 * (i + 1) for i in range(15) if i != 5}
    days = [D0 + dt.timedelta(days=i) for i in range(15)]
    m = rolling_metrics(_agg(revenue), days=days, output_days=days)
    assert dict(m.schema) == DAILY_METRICS
    total = m.filter(level="total").sort("date")
    # Day 13: window days 7..13 = 80+...+140 = 770; prior window days 0..6 without day 5 = 280 - 60 = 220.
    d13 = total.row(13, named=True)
    assert d13["revenue"] == 140.0
    assert d13["revenue_7d"] == 770.0
    assert d13["revenue_7d_prev"] == 220.0
    assert d13["pct_change_7d"] == pytest.approx(770 / 220 - 1)
    assert d13["orders_7d"] == 14 and d13["units_7d"] == 21
    assert d13["aov_7d"] == pytest.approx(770 / 14)
    # Day 5 exists as a zero row, so the drop is visible.
    assert total.row(5, named=True)["revenue"] == 0.0
    # First days of history: windows cover what exists, no prior window, no percent change.
    d2 = total.row(2, named=True)
    assert (d2["revenue_7d"], d2["window_days"]) == (60.0, 3)
    assert d2["revenue_7d_prev"] is None and d2["pct_change_7d"] is None
    # Day 8: both sums exist but the prior window is incomplete, so no percent change yet.
    d8 = total.row(8, named=True)
    assert d8["revenue_7d_prev"] == 10.0 + 20.0 and d8["pct_change_7d"] is None


def test_every_level_rolls_up_the_same_total():
    agg = pl.concat([_agg({0: 5.0}, "A", "us-east"), _agg({0: 7.0}, "B", "apac")])
    m = rolling_metrics(agg, days=[D0], output_days=[D0])
    per_level = m.group_by("level").agg(pl.col("revenue").sum()).sort("level")
    assert per_level["level"].to_list() == sorted(METRICS_LEVELS)
    assert per_level["revenue"].to_list() == [12.0] * 6
    assert m.filter(level="sku_region").height == 2  # only series that exist
    assert m.filter(level="sku", sku="B")["category"].item() == "toys"


def test_a_day_not_available_is_left_out_of_the_window_not_counted_as_zero():
    revenue = {i: 100.0 for i in range(14)}
    days = [D0 + dt.timedelta(days=i) for i in range(14) if i != 3]  # day 3 never materialized
    m = rolling_metrics(_agg(revenue), days=days, output_days=[D0 + dt.timedelta(days=d) for d in (9, 10)])
    d9, d10 = m.filter(level="total").sort("date").rows(named=True)
    assert (d9["window_days"], d9["revenue_7d"]) == (6, 600.0)  # days 3..9 without day 3
    assert (d10["window_days"], d10["revenue_7d"]) == (7, 700.0)
    assert d10["revenue_7d_prev"] == 300.0 and d10["pct_change_7d"] is None  # prior window: days 0..2 only


def test_counted_and_kept_out_rows_are_summed_apart_by_hand(small_catalog):
    """Counted rows make orders, units and revenue; rows a status kept out (counted False) are summed
    apart; a null ``counted`` counts, as in files written before statuses (a hand count)."""
    sku = small_catalog["sku"][0]
    orders = pl.DataFrame(
        {
            "date": [D0] * 5,
            "sku": [sku] * 5,
            "region": ["us-east"] * 4 + ["eu-west"],
            "qty": [1, 2, 3, 4, 5],
            "revenue": [10.0, 20.05, 30.0, 0.1, 7.5],
            "counted": [True, None, False, False, True],
        }
    )
    agg = aggregate_daily(orders, small_catalog).sort("region", descending=True)
    east, west = agg.row(0, named=True), agg.row(1, named=True)
    assert (east["orders"], east["units"], east["revenue"]) == (2, 3, pytest.approx(30.05))
    assert (east["cancelled_orders"], east["cancelled_revenue"]) == (2, pytest.approx(30.1))
    assert (west["orders"], west["units"], west["revenue"], west["cancelled_orders"]) == (1, 5, 7.5, 0)
    whole = aggregate_daily(orders.drop("counted"), small_catalog)  # no statuses: every row counts
    assert whole["orders"].sum() == 5 and whole["cancelled_orders"].sum() == 0
    assert whole["revenue"].sum() == pytest.approx(67.65)

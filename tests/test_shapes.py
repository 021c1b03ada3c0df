"""The family of shop shapes: far apart, deterministic, with every incident kind at its own level."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import numpy as np
import polars as pl

from spd_assets.core.schema import DAILY_AGG
from spd_assets.core.synthetic.shape_incidents import KINDS
from spd_assets.core.synthetic.shapes import FAMILY, generate_shop

FIRST = dt.date.today() - dt.timedelta(days=200)
LAST = dt.date.today() - dt.timedelta(days=1)


def test_a_shape_is_the_same_for_the_same_seed() -> None:
    a = generate_shop(FAMILY["small"], FIRST, LAST, 30, 4)
    b = generate_shop(FAMILY["small"], FIRST, LAST, 30, 4)
    assert a.daily_agg.equals(b.daily_agg) and a.incidents == b.incidents


def test_a_year_of_a_shape_holds_every_incident_kind_in_daily_agg_columns() -> None:
    shop = generate_shop(FAMILY["small"], FIRST, LAST, 30, 4)
    assert {i.kind for i in shop.incidents} == set(KINDS)
    assert dict(shop.daily_agg.schema) == DAILY_AGG
    assert all(FIRST <= i.start <= LAST for i in shop.incidents)


def test_the_small_shop_sells_about_500_orders_a_day_in_3_regions() -> None:
    shop = generate_shop(FAMILY["small"], FIRST, LAST, 30, 4)
    assert shop.daily_agg["region"].n_unique() == 3
    assert 350 < shop.daily_agg["orders"].sum() / len(shop.days) < 650


def _top_cell_dispersion(shape) -> float:
    """Variance over mean of the daily orders of the shop's biggest (sku, region) cell."""
    agg = generate_shop(shape, FIRST, LAST, 30, 4).daily_agg
    top = agg.group_by("sku", "region").agg(pl.col("orders").sum()).sort("orders").tail(1)
    orders = agg.join(top.select("sku", "region"), on=["sku", "region"])["orders"].to_numpy()
    return float(np.var(orders) / np.mean(orders))


def test_an_overdispersed_shop_varies_far_more_than_poisson() -> None:
    noisy = FAMILY["overdispersed"]
    poisson = replace(noisy, dispersion=None, day_shock=0.0)
    assert _top_cell_dispersion(noisy) > 3 * _top_cell_dispersion(poisson)


def test_a_low_volume_stop_hits_a_sku_of_about_five_orders_a_day() -> None:
    # The small shop's Zipf tail sells about one order a day, where a week without sales is ordinary.
    shop = generate_shop(FAMILY["small"], FIRST, LAST, 30, 4)
    stops = [i for i in shop.incidents if i.kind == "low_volume_stop"]
    daily = shop.expected.sum(axis=2).mean(axis=0)
    assert stops and all(3.5 <= daily[i.sku_index[0]] <= 7 for i in stops)

"""The over-dispersion behind the zero-day odds and the one-day rule's spread floor (``detect_zero``)."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import numpy as np
import polars as pl
from anchor import anchor_day

from spd_assets.core.detect import HISTORY_DAYS, DetectionConfig, detect_drops
from spd_assets.core.detect_zero import SID, dispersion
from spd_assets.core.metrics import daily_series
from spd_assets.core.synthetic.shape_incidents import LOW_VOLUME_ORDERS, ShapeIncident
from spd_assets.core.synthetic.shapes import FAMILY, Shape, generate_shop

TODAY = anchor_day()  # the same generated shops on any date (tests/anchor.py)
WEEKDAY = np.array([1.4, 1.4, 1.3, 1.3, 1.1, 0.3, 0.2])  # a business supplier's week


def grid(series: dict[str, np.ndarray], first: dt.date) -> pl.DataFrame:
    """A dense grid: the shop's total and the given SKU series, one row per day, series after series."""
    n = len(next(iter(series.values())))
    total = np.sum(list(series.values()), axis=0)
    rows = []
    for i, (name, orders) in enumerate({"total": total, **series}.items()):
        rows.append(pl.DataFrame({
            SID: np.full(n, i, dtype=np.uint32), "date": [first + dt.timedelta(days=d) for d in range(n)],
            "level": "total" if name == "total" else "sku", "sku": None if name == "total" else name,
            "orders": orders.astype(np.int64), "_pos": np.arange(n),
        }))  # fmt: skip
    return pl.concat(rows, how="vertical_relaxed")


def weekly(
    rate: float, n: int, rng: np.random.Generator, first: dt.date, r: float | None = None
) -> np.ndarray:
    mean = rate * WEEKDAY[[(first + dt.timedelta(days=d)).weekday() for d in range(n)]]
    if r is not None:
        mean = mean * rng.gamma(r, 1.0 / r, n)
    return rng.poisson(mean)


def test_a_weekday_shaped_poisson_series_is_not_over_dispersed_beyond_the_shops_pattern() -> None:
    rng, first, n = np.random.default_rng(5), TODAY - dt.timedelta(days=119), 120
    frame = grid({"big": weekly(400.0, n, rng, first), "other": weekly(600.0, n, rng, first)}, first)
    last = dispersion(frame).filter(pl.col("level") == "sku", pl.col("_pos") == n - 1)
    raw = (last["_var"] - last["_lam"]) / last["_lam"] ** 2
    # Raw, the weekdays read as a variance of about 0.16 lam^2; around the shop's own days, none.
    assert (raw > 0.05).all()
    assert (last["_phi"] < 0.01).all() and (last["_phi_noise"] < 0.01).all()


def test_a_negative_binomial_series_shows_its_over_dispersion() -> None:
    rng, first, n = np.random.default_rng(6), TODAY - dt.timedelta(days=119), 120
    noisy = weekly(200.0, n, rng, first, r=3.0)  # variance lam + lam^2 / 3
    frame = grid({"noisy": noisy, "rest": weekly(2000.0, n, rng, first)}, first)
    last = dispersion(frame).filter(pl.col("level") == "sku", pl.col("_pos") == n - 1)
    for column in ("_phi_noise", "_phi"):  # robust around the usual weekday; moments around the shop's day
        phi = dict(zip(last["sku"], last[column], strict=True))
        assert 0.1 <= phi["noisy"] <= 0.8, column  # 1/3, from 28 days of one series
        assert phi["rest"] < 0.02, column


def test_a_second_stock_out_three_weeks_after_a_first_is_caught_the_day_it_starts() -> None:
    # The first week of zeros sits in the second's lookback: it must not read as the SKU's noise.
    steady = Shape("steady", orders_per_day=3_000, n_skus=40, demo_season=False)
    start = TODAY - dt.timedelta(days=60)
    top = int(generate_shop(steady, start, TODAY, HISTORY_DAYS, 3).expected.sum(axis=(0, 2)).argmax())
    first, second = TODAY - dt.timedelta(days=30), TODAY - dt.timedelta(days=2)
    stock_outs = [
        ShapeIncident(
            f"s{day}", "sku_stockout", "sku", day, day + dt.timedelta(days=n - 1), 0.0, sku_index=(top,)
        )
        for day, n in ((first, 7), (second, 3))
    ]
    shop = generate_shop(steady, start, TODAY, HISTORY_DAYS, 3, incidents=stock_outs)
    frame = daily_series(shop.daily_agg, shop.days)
    found = detect_drops(frame, [first, second]).alerts.filter(level="sku", sku=shop.catalog["sku"][top])
    assert found["date"].to_list() == [first, second]


def test_a_heavy_tailed_skus_ordinary_bad_day_is_not_an_alert() -> None:
    # Negative binomial r = 3 per cell: a SKU's day 60% short is its noise, however steady its last
    # 28 days of misses looked. The one-day spread is floored by the SKU's own over-dispersion.
    heavy = Shape("steady", orders_per_day=2_000, n_skus=40, demo_season=False, dispersion=3.0)
    shop = generate_shop(heavy, TODAY - dt.timedelta(days=60), TODAY, HISTORY_DAYS, 4, incidents=[])
    frame = daily_series(shop.daily_agg, shop.days)
    days = [TODAY - dt.timedelta(days=k) for k in range(60)]
    found = detect_drops(frame, days, config=DetectionConfig(rules=("weekday_mad",)))
    assert found.alerts.filter(pl.col("level").is_in(["sku", "sku_region"])).is_empty()
    # The same SKUs on a Poisson shop of the same size have a narrower spread.
    calm = generate_shop(replace(heavy, dispersion=None), days[-1] - dt.timedelta(days=60), days[-1],
                         HISTORY_DAYS, 4, incidents=[])  # fmt: skip
    calm_found = detect_drops(
        daily_series(calm.daily_agg, calm.days), days, config=DetectionConfig(rules=("weekday_mad",))
    )

    def spread(scored: pl.DataFrame) -> float:
        rows = scored.filter(level="sku", rule="weekday_mad").filter(pl.col("baseline_orders") >= 50)
        return float((rows["spread"] / rows["baseline"]).median())

    assert spread(found.scored) > 2 * spread(calm_found.scored)


def test_a_low_volume_stop_hits_a_sku_selling_about_five_a_day_when_it_stops() -> None:
    # A shop that doubles in the year sells half of it in February: the SKU is chosen by its rate in
    # the 28 days before the stop, not by its year.
    for name in ("fast_growth", "demo", "small"):
        shop = generate_shop(FAMILY[name], dt.date(2025, 1, 1), dt.date(2025, 12, 31), HISTORY_DAYS, 7)
        stops = [i for i in shop.incidents if i.kind == "low_volume_stop"]
        assert stops
        for stop in stops:
            at = shop.days.index(stop.start)
            rate = shop.expected[at - 28 : at, stop.sku_index[0], :].sum(axis=1).mean()
            assert abs(rate - LOW_VOLUME_ORDERS) <= 1.5, (name, stop.incident_id, rate)


def test_a_promotion_in_a_shop_of_three_categories_is_no_drop_of_the_other_two() -> None:
    # The rest of the shop is two categories: their median is their mean, and a promotion tripling one
    # doubled the other's baseline. Trimmed, the promoted category is left out that day.
    three = Shape("three", orders_per_day=2_500, n_skus=60, n_categories=3, demo_season=False, promo_rate=0.3)
    shop = generate_shop(three, TODAY - dt.timedelta(days=60), TODAY, HISTORY_DAYS, 5, incidents=[])
    frame = daily_series(shop.daily_agg, shop.days)
    days = [TODAY - dt.timedelta(days=k) for k in range(60)]
    alerts = detect_drops(frame, days).alerts
    assert alerts.filter(level="category").is_empty()

"""Zero days judged against what the shop sold that day: a supplier's weekend, a slump, a promotion."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
from anchor import anchor_day

from spd_assets.core.detect import HISTORY_DAYS, detect_drops
from spd_assets.core.detect_grid import dense_rows, row_series
from spd_assets.core.detect_zero import zero_day_odds
from spd_assets.core.metrics import daily_series
from spd_assets.core.synthetic.shape_incidents import ShapeIncident
from spd_assets.core.synthetic.shapes import Shape, generate_shop

TODAY = anchor_day()  # a Wednesday: the same generated shops on any date (tests/anchor.py)
# A business supplier: weekends sell a fifth of a weekday. SKU 1 sells about 5 orders a day (TAIL_ORDERS).
B2B = Shape("b2b", orders_per_day=3_000, n_skus=40, demo_season=False,
            weekday=(1.3, 1.3, 1.25, 1.25, 1.1, 0.25, 0.15))  # fmt: skip


def _series(shape: Shape, incidents: list[ShapeIncident], seed: int) -> tuple[pl.DataFrame, object]:
    shop = generate_shop(shape, TODAY - dt.timedelta(days=60), TODAY, HISTORY_DAYS, seed, incidents=incidents)
    return daily_series(shop.daily_agg, shop.days), shop


def test_a_business_suppliers_five_a_day_sku_stopping_on_a_sunday_is_caught_within_four_days() -> None:
    # Sunday to Wednesday: about 0.8 + 6.9 + 6.9 + 6.6 orders expected, so four zero days are a
    # one-in-a-billion run. With the weekdays read as noise (phi of about 0.25) the run looked a
    # thousand times likelier, and three of these six stops were found on Thursday, the fifth day.
    sunday = TODAY - dt.timedelta(days=10)
    assert sunday.weekday() == 6
    stop = ShapeIncident(
        "z", "low_volume_stop", "sku", sunday, sunday + dt.timedelta(days=6), 0.0, sku_index=(1,)
    )
    days = [sunday + dt.timedelta(days=k) for k in range(4)]
    for seed in range(3, 9):
        frame, shop = _series(B2B, [stop], seed)
        found = detect_drops(frame, days).alerts.filter(level="sku", sku=shop.catalog["sku"][1])
        assert found["rule"].to_list()[:1] == ["zero_run"], seed


def test_a_business_suppliers_quiet_weekends_raise_no_zero_run() -> None:
    days = [TODAY - dt.timedelta(days=k) for k in range(60)]
    for seed in (3, 4, 5):
        frame, _ = _series(B2B, [], seed)
        assert detect_drops(frame, days).alerts.filter(rule="zero_run").is_empty(), seed


def _hand_frame(skus: dict[str, np.ndarray]) -> pl.DataFrame:
    """Daily series ending TODAY: the total and one row a day per SKU (orders given, revenue 10 each)."""
    n = len(next(iter(skus.values())))
    days = [TODAY - dt.timedelta(days=n - 1 - d) for d in range(n)]
    every = (("total", None, sum(skus.values())), *(("sku", k, v) for k, v in skus.items()))
    return pl.concat(
        [
            pl.DataFrame(
                {
                    "date": days,
                    "level": level,
                    "sku": key,
                    "region": None,
                    "revenue": orders * 10.0,
                    "category": None if key is None else "home",
                    "orders": orders,
                }
            )
            for level, key, orders in every
        ],
        how="vertical_relaxed",
    )


def _odds_on_last_day(total_factor: float) -> float:
    """The zero-day log odds of a 5-a-day SKU on a day the rest of the shop sold ``total_factor`` x."""
    rng, n = np.random.default_rng(9), 70
    sku, rest = rng.poisson(5.0, n).astype(float), rng.poisson(2_000.0, n).astype(float)
    rest[-1] *= total_factor
    frame = _hand_frame({"SKU-1": sku, "SKU-2": rest})
    ids, sid = row_series(frame)
    dense = dense_rows(frame.with_columns(sid), sorted(set(frame["date"])), ids)
    odds = zero_day_odds(dense).filter(pl.col("sku") == "SKU-1", pl.col("_pos") == n - 1)
    return float(odds["_log_p0"][0])


def test_a_slump_makes_a_zero_day_likelier_and_a_promotion_does_not_make_it_rarer() -> None:
    usual = _odds_on_last_day(1.0)
    assert -5.5 < usual < -4.5  # Poisson, 5 a day: e^-5
    assert _odds_on_last_day(0.5) > usual + 2.0  # the shop sold half: about e^-2.5
    assert abs(_odds_on_last_day(3.0) - usual) < 0.3  # another SKU's promotion tripled the shop


def test_a_slow_sellers_long_quiet_spell_is_not_rarer_every_day_it_lasts() -> None:
    # 0.6 orders a day, then a month of none: judged with the share from before the spell on every day
    # it reached 3e-6 on day 22 (a long tail of 1,500 such SKUs paged for them); the share a run of more
    # than 8 days lowers keeps it quiet, while a 5-a-day SKU's four zero days still alert.
    rng, n = np.random.default_rng(11), 130
    slow, busy = rng.poisson(0.6, n).astype(float), rng.poisson(5.0, n).astype(float)
    slow[-30:], busy[-4:] = 0.0, 0.0
    frame = _hand_frame({"SKU-1": slow, "SKU-2": busy, "SKU-3": np.full(n, 2e3)})
    found = detect_drops(frame, [TODAY - dt.timedelta(days=k) for k in range(30)]).alerts
    assert found.filter(rule="zero_run")["sku"].unique().to_list() == ["SKU-2"]


# Three categories, each on promotion (2-4x for a day) about one day in 15: a SKU's last 28 days
# often hold two of its category's promotions.
PROMOTING = Shape("promoting", orders_per_day=2_500, n_skus=60, n_categories=3, dispersion=6.0,
                  promo_rate=0.2, demo_season=False)  # fmt: skip


def _stockout_after_promotions(seed: int) -> tuple[ShapeIncident, int]:
    """A SKU of 25-60 orders a day out of stock for a day whose category ran two or more promotions in
    the zero-day odds' lookback (8 to 35 days before), found from the generated demand."""
    quiet = generate_shop(PROMOTING, TODAY - dt.timedelta(days=60), TODAY, HISTORY_DAYS, seed, incidents=[])
    per_sku = quiet.expected.sum(axis=2)  # (day, sku)
    names = quiet.catalog["category"].to_numpy()
    by_category = {c: per_sku[:, names == c].sum(axis=1) for c in set(names)}
    promoted = {c: v > 1.8 * np.median(v) for c, v in by_category.items()}
    for day in range(HISTORY_DAYS, len(quiet.days)):
        for sku in (int(j) for j in np.argsort(-per_sku[day])):
            if (
                25 <= per_sku[day - 28 : day, sku].mean() <= 60
                and promoted[names[sku]][day - 35 : day - 7].sum() >= 2
            ):
                start = quiet.days[day]
                return ShapeIncident("s", "sku_stockout", "sku", start, start, 0.0, sku_index=(sku,)), sku
    raise AssertionError(f"seed {seed}: no SKU day after two promotions")


def test_a_busy_skus_stockout_after_its_categorys_promotions_is_caught_the_same_day() -> None:
    # Two 3x days of its category in 28 doubled the variance a SKU's zero-day odds read: a SKU of 40
    # orders a day selling nothing was a one-in-300 day, not one in 300,000, and the stock-out waited
    # for a second zero day (4 of these 6 before; few_categories' SKU stock-outs on time 0.57).
    for seed in range(3, 9):
        stockout, sku = _stockout_after_promotions(seed)
        frame, shop = _series(PROMOTING, [stockout], seed)
        found = detect_drops(frame, [stockout.start]).alerts.filter(level="sku", sku=shop.catalog["sku"][sku])
        assert found.height == 1, (seed, stockout.start)

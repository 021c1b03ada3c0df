"""The drop detectors on known shapes: small hand-built shops whose right answer is obvious."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import replace

import numpy as np
import polars as pl
import pytest
from anchor import anchor_day
from polars.testing import assert_frame_equal

from spd_assets.core.detect import HISTORY_DAYS, DetectionConfig, alert_id, detect_drops
from spd_assets.core.metrics import daily_series
from spd_assets.core.schema import ALERTS
from spd_assets.core.synthetic.shape_incidents import ShapeIncident
from spd_assets.core.synthetic.shapes import Shape, generate_shop

# Orders on an ordinary weekday per (sku, category, region); a weekend sells much less.
CELLS = (
    ("SKU-A", "home", "us-east", 60.0),
    ("SKU-A", "home", "eu-west", 40.0),
    ("SKU-B", "toys", "us-east", 50.0),
    ("SKU-B", "toys", "eu-west", 30.0),
    ("SKU-C", "toys", "us-east", 25.0),
    ("SKU-C", "toys", "eu-west", 25.0),
)
PRICE = {"SKU-A": 20.0, "SKU-B": 12.0, "SKU-C": 8.0}
WEEKDAY = (1.0, 1.0, 1.0, 1.05, 0.95, 0.6, 0.5)  # Monday..Sunday: a deep, normal weekend dip


def history(n: int, end: dt.date = dt.date(2025, 6, 30)) -> list[dt.date]:
    return [end - dt.timedelta(days=n - 1 - i) for i in range(n)]


def shop_agg(
    days: list[dt.date],
    drops: dict[tuple[str, dt.date], float] | None = None,
    noise: float = 0.04,
    shop=lambda day: 1.0,
    seed: int = 1,
    scale: float = 1.0,
) -> pl.DataFrame:
    """daily_agg rows for the small shop: weekday x shop-wide level x drops (share kept) x noise
    (``scale`` x the CELLS' orders: a busier shop of the same shape)."""
    rng = np.random.default_rng(seed)
    rows = []
    for day in days:
        for sku, category, region, base in CELLS:
            kept = (drops or {}).get((sku, day), 1.0)
            orders = round(
                base * scale * WEEKDAY[day.weekday()] * shop(day) * kept * (1 + noise * rng.standard_normal())
            )
            revenue = round(orders * PRICE[sku], 2)
            rows.append(
                (day, sku, category, region, orders, orders, revenue, revenue / orders if orders else 0.0)
            )
    schema = {"date": pl.Date, "sku": pl.String, "category": pl.String, "region": pl.String,
              "orders": pl.Int64, "units": pl.Int64, "revenue": pl.Float64, "aov": pl.Float64}  # fmt: skip
    return pl.DataFrame(rows, schema=schema, orient="row").filter(pl.col("orders") > 0)


def series(agg: pl.DataFrame) -> pl.DataFrame:
    return daily_series(agg, sorted(set(agg["date"].to_list())))


def alerts_on(frame: pl.DataFrame, day: dt.date, config: DetectionConfig | None = None) -> pl.DataFrame:
    return detect_drops(frame, [day], config=config).alerts


def test_a_50_percent_one_day_drop_is_caught() -> None:
    days = history(70)
    found = alerts_on(series(shop_agg(days, {("SKU-A", days[-1]): 0.5})), days[-1])
    sku = found.filter(level="sku")
    assert sku["sku"].to_list() == ["SKU-A"]
    row = sku.row(0, named=True)
    assert 0.42 <= row["pct_drop"] <= 0.58 and row["robust_z"] <= -3.5
    assert row["observed"] == pytest.approx(row["baseline"] * (1 - row["pct_drop"]), rel=1e-3)
    assert row["revenue_at_risk"] == pytest.approx(row["baseline"] - row["observed"], abs=0.02)
    assert row["robust_z"] == pytest.approx((row["observed"] - row["baseline"]) / row["spread"], rel=1e-3)
    assert (row["rule"], row["metric"], row["date"]) == ("weekday_mad", "revenue", days[-1])
    # Series without SKU-A did not drop, so nothing names them.
    assert found.filter(pl.col("sku").is_in(["SKU-B", "SKU-C"]) | (pl.col("category") == "toys")).is_empty()
    assert found.filter(level="total").is_empty()


def test_the_normal_weekend_dip_never_alerts() -> None:
    days = history(84)
    scored = detect_drops(series(shop_agg(days)), days[-28:])
    assert scored.alerts.is_empty()
    one_day = scored.scored.filter(rule="weekday_mad")
    sundays = one_day.filter((pl.col("date").dt.weekday() == 7) & (pl.col("level") == "total"))
    assert sundays.height == 4 and sundays["pct_drop"].abs().max() < 0.1  # a Sunday is compared with Sundays


def test_a_flat_series_with_zero_mad_does_not_divide_by_zero() -> None:
    days = history(70)
    flat = series(shop_agg(days, noise=0.0))
    quiet = detect_drops(flat, days[-14:])
    assert quiet.alerts.is_empty()
    z = quiet.scored.filter(pl.col("status") == "normal")["robust_z"]
    assert z.is_not_null().all() and all(math.isfinite(v) for v in z.to_list())
    assert quiet.scored.filter(level="total")["mad"].max() == 0.0  # the MAD really is zero

    dropped = alerts_on(series(shop_agg(days, {("SKU-B", days[-1]): 0.5}, noise=0.0)), days[-1])
    row = dropped.filter(level="sku").row(0, named=True)
    assert (
        row["sku"] == "SKU-B"
        and math.isfinite(row["robust_z"])
        and row["pct_drop"] == pytest.approx(0.5, abs=0.02)
    )


def test_a_short_history_raises_no_alert_and_says_why() -> None:
    days = history(20)
    result = detect_drops(series(shop_agg(days, {("SKU-A", days[-1]): 0.0})), [days[-1]])
    assert result.alerts.is_empty()
    assert result.reasons() == {"short_history": result.scored.filter(rule="weekday_mad").height}


def test_a_missing_row_on_a_day_that_was_read_is_zero_revenue() -> None:
    days = history(70)
    frame = series(shop_agg(days)).filter(~(pl.col("sku").eq_missing("SKU-A") & (pl.col("date") == days[-1])))
    row = alerts_on(frame, days[-1]).filter(level="sku").row(0, named=True)
    assert (row["sku"], row["observed"], row["pct_drop"]) == ("SKU-A", 0.0, 1.0)


def test_a_day_that_was_not_read_is_unknown_not_zero() -> None:
    days = history(70)
    gap = days[-8]  # the same weekday as the last day
    frame = series(shop_agg(days)).filter(pl.col("date") != gap)
    result = detect_drops(frame, [gap, days[-1]], available=[d for d in days if d != gap])
    assert result.alerts.is_empty()
    assert set(result.scored.filter(date=gap)["status"]) == {"no_data"}
    # The last day's baseline left the gap out instead of counting it as a day of zero revenue.
    assert set(result.scored.filter(date=days[-1])["comparable"]) == {7}


def test_a_tiny_series_stays_quiet() -> None:
    days = history(70)
    frame = series(shop_agg(days, {("SKU-C", days[-1]): 0.0}))
    one_day = ("weekday_mad",)  # the volume gate is the one-day rule's (zero_run would see this zero day)
    gated = detect_drops(frame, [days[-1]], config=DetectionConfig(rules=one_day, min_baseline_orders=30))
    sku_c = gated.scored.filter((pl.col("level") == "sku_region") & (pl.col("sku") == "SKU-C"))
    assert set(sku_c["status"]) == {"low_volume"}  # 25 orders on a Monday
    assert gated.alerts.filter(level="sku_region", sku="SKU-C").is_empty()
    ungated = detect_drops(frame, [days[-1]], config=DetectionConfig(rules=one_day, min_baseline_orders=0))
    assert ungated.alerts.filter(level="sku_region", sku="SKU-C").height == 2


def test_a_shop_wide_slump_is_not_a_drop_but_a_drop_inside_it_is() -> None:
    days = history(100)
    slump_start = days[70]

    def shop(day: dt.date) -> float:  # +40% for weeks, then down to -20% over three weeks (post-peak)
        return 1.4 - 0.6 * min(max((day - slump_start).days / 21, 0.0), 1.0)

    drop_day = days[84]
    frame = series(shop_agg(days, {("SKU-B", drop_day): 0.35}, shop=shop))
    found = detect_drops(frame, days[70:]).alerts
    assert found.filter(level="sku")["sku"].to_list() == ["SKU-B"]
    assert set(found["date"].to_list()) == {drop_day}
    # Measured raw (no shop level), the slump itself reads as drops of series that sold as usual.
    raw = detect_drops(frame, days[70:], config=DetectionConfig(level_adjust="none")).alerts
    assert raw.filter((pl.col("date") != drop_day) & (pl.col("sku").eq_missing("SKU-A"))).height > 0


def test_severity_grows_with_the_revenue_at_stake() -> None:
    days = history(70)
    found = alerts_on(series(shop_agg(days, {("SKU-A", days[-1]): 0.0})), days[-1])
    by_level = dict(found.select("level", "severity").iter_rows())
    assert by_level["sku"] == "critical"  # SKU-A is about half the shop's revenue
    assert found.filter(level="sku_region")["severity"].to_list() == ["critical", "critical"]


def test_alert_ids_are_stable_and_differ_by_rule_and_series() -> None:
    days = history(70)
    frame = series(shop_agg(days, {("SKU-A", days[-1]): 0.4}))
    config = DetectionConfig(rules=("weekday_mad", "seed_wow"))
    first, second = alerts_on(frame, days[-1], config), alerts_on(frame, days[-1], config)
    assert first["alert_id"].to_list() == second["alert_id"].to_list()
    assert first["alert_id"].n_unique() == first.height
    assert alert_id(days[-1], "sku", "SKU-A", "home", None, "weekday_mad") != alert_id(
        days[-1], "sku", "SKU-A", "home", None, "seed_wow"
    )
    assert set(first["rule"]) == {"weekday_mad", "seed_wow"}
    assert dict(first.schema) == ALERTS


def test_the_seed_rule_keeps_flagging_after_a_stockout_ends() -> None:
    days = history(70)
    stockout = {("SKU-A", d): 0.0 for d in days[-10:-7]}  # three days, over a week before the end
    frame = series(shop_agg(days, stockout))
    after = days[-7:]
    seed = detect_drops(frame, after, config=DetectionConfig(rules=("seed_wow",))).alerts
    assert seed.filter(level="sku", sku="SKU-A", metric="revenue_7d").height >= 3  # its 7-day window
    assert detect_drops(frame, after).alerts.is_empty()
    during = detect_drops(frame, days[-10:-7]).alerts.filter(level="sku", sku="SKU-A")
    assert during["date"].to_list() == days[-10:-7]


def test_invalid_config_is_refused_with_the_reason() -> None:
    with pytest.raises(ValueError, match="unknown detection rule"):
        DetectionConfig(rules=("nope",))
    with pytest.raises(ValueError, match="min_weeks"):
        DetectionConfig(weeks=3, min_weeks=4)


def test_a_day_without_orders_is_an_outage_even_on_a_noisy_series() -> None:
    days = history(70)
    frame = series(shop_agg(days, {("SKU-A", days[-1]): 0.0}, noise=0.5))  # +-50% day to day
    z_only_config = DetectionConfig(rules=("weekday_mad",), zero_is_outage=False)
    z_only = alerts_on(frame, days[-1], z_only_config).filter(level="sku")
    found = alerts_on(frame, days[-1]).filter(level="sku").row(0, named=True)
    assert z_only.is_empty() and found["robust_z"] > -3.5  # too noisy for the z test alone
    assert (found["sku"], found["observed"], found["pct_drop"]) == ("SKU-A", 0.0, 1.0)


# Known shapes from the shape family (core/synthetic/shapes.py), dated from today so they hold on any date.
TODAY = anchor_day()  # the same generated shops on any date (tests/anchor.py)
SHAPE_FIRST = TODAY - dt.timedelta(days=40)
STEADY = Shape("steady", orders_per_day=3_000, n_skus=40, demo_season=False)
ONE_DAY = DetectionConfig(rules=("weekday_mad",))  # the rule before multi-day and zero-run tests
SEED_RULE = DetectionConfig(rules=("seed_wow",))  # the seed project's rule, which each known shape defeats


def shape_series(shape: Shape, incidents: list[ShapeIncident], seed: int = 3) -> tuple[pl.DataFrame, list]:
    shop = generate_shop(shape, SHAPE_FIRST, TODAY, HISTORY_DAYS, seed, incidents=incidents)
    return daily_series(shop.daily_agg, shop.days), shop


def test_a_ten_day_decline_to_half_is_caught_by_its_fifth_day() -> None:
    start = TODAY - dt.timedelta(days=12)
    decline = ShapeIncident(
        "d", "slow_decline", "category", start, start + dt.timedelta(days=9), 0.5, category="home",
        sku_index=tuple(range(1, 40, 8)),
    )  # fmt: skip
    frame, _ = shape_series(STEADY, [decline])
    first_five = [start + dt.timedelta(days=k) for k in range(5)]
    found = detect_drops(frame, first_five).alerts.filter(level="category", category="home")
    assert found.height >= 1 and set(found["rule"]) <= {"window_mad", "cusum"}
    assert detect_drops(frame, first_five, config=ONE_DAY).alerts.filter(level="category").is_empty()
    # Found by day 5 and still there on day 10: one episode, not one per day or per rule.
    all_ten = [start + dt.timedelta(days=k) for k in range(10)]
    later = detect_drops(frame, all_ten).alerts.filter(level="category", category="home")
    assert later["date"].max() >= all_ten[7] and later["episode_id"].n_unique() == 1


def test_a_five_orders_a_day_sku_with_four_zero_days_is_caught() -> None:
    start = TODAY - dt.timedelta(days=5)
    stop = ShapeIncident(
        "z", "low_volume_stop", "sku", start, start + dt.timedelta(days=3), 0.0, sku_index=(1,)
    )
    frame, shop = shape_series(STEADY, [stop])
    sku = shop.catalog["sku"][1]
    days = [start + dt.timedelta(days=k) for k in range(4)]
    found = detect_drops(frame, days).alerts.filter(level="sku", sku=sku)
    assert found["rule"].to_list()[:1] == ["zero_run"] and found["window_days"].max() <= 4
    assert detect_drops(frame, days, config=ONE_DAY).alerts.filter(level="sku", sku=sku).is_empty()
    assert detect_drops(frame, days, config=SEED_RULE).alerts.filter(level="sku", sku=sku).is_empty()


def test_the_day_after_a_one_day_promotion_is_not_an_alert() -> None:
    promo = replace(STEADY, promo_rate=0.3)
    frame, _ = shape_series(promo, [])
    days = [TODAY - dt.timedelta(days=k) for k in range(30)]
    assert detect_drops(frame, days).alerts.is_empty()
    # The seed rule measures each day against the last 28, promotions included: the days after one page.
    assert detect_drops(frame, days, config=SEED_RULE).alerts.height > 0


def test_a_shop_that_doubles_over_a_year_raises_nothing_false() -> None:
    growing = replace(STEADY, growth=2.0, step_up=(60, 1.3))
    frame, _ = shape_series(growing, [])
    days = [TODAY - dt.timedelta(days=k) for k in range(35)]
    assert detect_drops(frame, days).alerts.is_empty()
    assert detect_drops(frame, days, config=SEED_RULE).alerts.height > 0  # weekend dips vs any weekday


def test_a_region_that_is_half_the_shop_dropping_40_percent_for_one_day_is_caught() -> None:
    # Weekend peaks: the region's Saturday, down 40%, still sells about what its median day does.
    half = replace(
        STEADY,
        region_share=(0.5, 0.12, 0.12, 0.1, 0.1, 0.06),
        weekday=(0.8, 0.8, 0.85, 0.9, 1.1, 1.5, 1.4),
    )
    saturday = TODAY - dt.timedelta(days=1 + (TODAY.weekday() - 6) % 7)
    big = half.regions[0]
    drop = ShapeIncident("r", "region_partial", "region", saturday, saturday, 0.6, region=big, region_index=0)
    frame, _ = shape_series(half, [drop])
    found = detect_drops(frame, [saturday]).alerts.filter(level="region")
    assert found["region"].to_list() == [big] and found["rule"].to_list() == ["weekday_mad"]
    assert 0.3 <= found["pct_drop"][0] <= 0.5
    assert detect_drops(frame, [saturday], config=SEED_RULE).alerts.filter(level="region").is_empty()


def test_a_shop_of_one_category_is_still_scored() -> None:
    days = history(70)
    frame = series(shop_agg(days, {("SKU-A", days[-1]): 0.0})).with_columns(
        category=pl.when(pl.col("category").is_not_null()).then(pl.lit("home"))
    )
    assert alerts_on(frame, days[-1]).filter(level="sku")["sku"].to_list() == ["SKU-A"]


def test_six_weeks_after_a_lasting_step_up_a_region_drop_is_still_caught() -> None:
    # A campaign lifts the shop 50% for good; comparable days before it must be scaled to today,
    # or the baseline lags for weeks and its misses inflate the spread until a 40% drop reads as noise.
    stepped = replace(STEADY, step_up=(HISTORY_DAYS + (TODAY - SHAPE_FIRST).days - 42, 1.5))
    day = TODAY - dt.timedelta(days=2)
    region = STEADY.regions[0]
    drop = ShapeIncident("r", "region_partial", "region", day, day, 0.6, region=region, region_index=0)
    frame, _ = shape_series(stepped, [drop])
    scored = detect_drops(frame, [day]).scored.filter(level="region", region=region, rule="weekday_mad")
    row = scored.row(0, named=True)
    assert row["status"] == "alert" and 0.3 <= row["pct_drop"] <= 0.5
    assert row["spread"] < 0.1 * row["baseline"]


NOISY = replace(STEADY, orders_per_day=5_000, n_skus=200, dispersion=3.0, day_shock=0.06)  # negative binomial
BEFORE_CUSUM = DetectionConfig(rules=("weekday_mad", "zero_run", "window_mad"))


def noisy_region_drop(start: dt.date) -> pl.DataFrame:
    """The over-dispersed shop's biggest region down 40% for three days from ``start``."""
    region = NOISY.regions[0]
    end = start + dt.timedelta(days=2)
    drop = ShapeIncident("r", "region_partial", "region", start, end, 0.6, region=region, region_index=0)
    return shape_series(NOISY, [drop], seed=3)[0]


def test_a_three_day_40_percent_region_drop_on_an_overdispersed_shop_is_caught_by_the_cusum() -> None:
    # Each day is a one-day z of -1.4 to -2.7 here: only the cell-pooled orders miss shows it, on its
    # first day through the pooled one-day limit, then through the accumulated shortfall.
    start, region = TODAY - dt.timedelta(days=4), NOISY.regions[0]
    frame = noisy_region_drop(start)
    days = [start + dt.timedelta(days=k) for k in range(3)]
    alerts = detect_drops(frame, days).alerts
    assert alerts.filter(pl.col("region").is_in(NOISY.regions[1:])).is_empty()  # the other regions: quiet
    found = alerts.filter(level="region")
    assert found["region"].to_list() == [region] * 3 and set(found["rule"]) == {"cusum"}
    first, second = found.row(0, named=True), found.row(1, named=True)
    assert first["date"] == days[0] and first["window_days"] == 1 and first["metric"] == "orders"
    assert first["robust_z"] <= -DetectionConfig().z_threshold and 0.3 <= first["pct_drop"] <= 0.6
    assert second["window_days"] == 2 and second["robust_z"] <= -DetectionConfig().cusum_h
    assert second["alert_id"] == alert_id(days[1], "region", None, None, region, "cusum")
    assert found["episode_id"].n_unique() == 1  # the later days continue the first day's episode
    assert detect_drops(frame, days, config=BEFORE_CUSUM).alerts.filter(level="region").is_empty()


def test_an_overdispersed_shop_without_incidents_raises_no_cell_outage_and_no_window_alert() -> None:
    # Negative binomial r = 3 per cell: a cell of 20+ orders a day sells nothing one day in a few
    # hundred, and a heavy-tailed SKU's week runs 30% short now and then. Neither is an incident.
    frame, _ = shape_series(NOISY, [], seed=3)
    days = [TODAY - dt.timedelta(days=k) for k in range(30)]
    found = detect_drops(frame, days)
    cells = found.scored.filter(rule="weekday_mad", level="sku_region")
    assert cells.filter(pl.col("observed") == 0, pl.col("baseline_orders") >= 20).height >= 1
    assert found.alerts.filter(
        (pl.col("level") == "sku_region") | (pl.col("rule") == "window_mad")
    ).is_empty()


def test_the_cusum_stops_alerting_the_day_a_drop_ends() -> None:
    start = TODAY - dt.timedelta(days=6)
    frame = noisy_region_drop(start)
    after = [start + dt.timedelta(days=k) for k in range(3, 7)]
    assert detect_drops(frame, after).alerts.is_empty()


def test_a_five_orders_a_day_sku_stopping_on_an_overdispersed_shop_is_caught_within_four_days() -> None:
    # Its own 28 days understate its variance, the level's median over-dispersion does not: a week
    # of zeros from day 1 is found on day 4 (it took five days with the series' own estimate alone).
    start = TODAY - dt.timedelta(days=8)
    stop = ShapeIncident(
        "z", "low_volume_stop", "sku", start, start + dt.timedelta(days=6), 0.0, sku_index=(1,)
    )
    frame, shop = shape_series(NOISY, [stop], seed=4)
    days = [start + dt.timedelta(days=k) for k in range(7)]
    alerts = detect_drops(frame, days).alerts
    found = alerts.filter(level="sku", sku=shop.catalog["sku"][1])
    assert found["date"].min() <= days[3] and found["rule"][0] == "zero_run"
    assert alerts.filter(rule="zero_run").height == found.height  # no other series' zero run


def test_the_dashboards_category_region_roll_up_is_not_checked() -> None:
    """daily_metrics' category-in-a-region rows are for the dashboard: detection scores the same series
    and finds the same alerts with or without them, and none at that level."""
    days = history(100)
    drop_day = days[90]
    frame = series(shop_agg(days, {("SKU-B", drop_day): 0.3, ("SKU-A", drop_day): 0.5}))
    assert frame.filter(level="category_region").height > 0
    found = detect_drops(frame, days[85:])
    without = detect_drops(frame.filter(pl.col("level") != "category_region"), days[85:])
    assert found.alerts.height > 0
    assert found.alerts.equals(without.alerts)
    assert_frame_equal(found.scored, without.scored, check_exact=False, rtol=1e-9)  # the last bit may move
    assert "category_region" not in found.scored["level"].to_list()

"""A family of shop shapes far apart from each other, generated as daily counts per (sku, region) cell.

The demo shop (``orders.py``) draws order lines; an evaluation over many shops and years needs only
the daily counts, so each shape draws them directly: expected orders per cell and day (size x growth
x weekday x season x promotions x incidents), then Poisson or negative-binomial counts. The demo's
own shape (its weekday factors, seasonality and region mix) is one member of the family.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace

import numpy as np
import polars as pl

from ..schema import DAILY_AGG, REGIONS, conform
from .catalog import CATEGORIES, REGION_SHARE, generate_catalog
from .seasonality import WEEKDAY_FACTOR, black_friday, yearly_factor
from .shape_incidents import ShapeIncident, plan_incidents

TAIL_ORDERS = (4.0, 5.0, 6.0)  # expected orders a day of the long-tail SKUs every shape carries


@dataclass(frozen=True)
class Shape:
    """The parameters of one shop; every field far from the demo in at least one member."""

    name: str
    orders_per_day: float = 20_000
    n_skus: int = 200
    regions: tuple[str, ...] = REGIONS
    region_share: tuple[float, ...] = tuple(REGION_SHARE)
    weekday: tuple[float, ...] = WEEKDAY_FACTOR
    demo_season: bool = True  # the demo's holiday peak and January slump
    growth: float = 1.0  # orders after a year relative to the start (compounded daily)
    step_up: tuple[int, float] | None = None  # (day index, factor): a campaign that lifts sales for good
    dispersion: float | None = None  # negative-binomial shape r (None: Poisson); smaller is noisier
    day_shock: float = 0.0  # sd of a shop-wide log-normal shock per day
    promo_rate: float = 0.0  # chance per day that one category runs a one-day promotion
    bf_cm: float = 0.0  # extra demand on Black Friday and Cyber Monday (0.8 = +80%)
    zipf: float = 1.05
    n_categories: int = len(CATEGORIES)  # the first n of the demo's eight
    tags: tuple[str, ...] = field(default=())


FAMILY: dict[str, Shape] = {
    s.name: s
    for s in (
        Shape("demo"),
        Shape("small", orders_per_day=500, n_skus=75, regions=REGIONS[:3], region_share=(0.45, 0.35, 0.2)),
        Shape("weekend_peak", weekday=(0.8, 0.8, 0.85, 0.9, 1.1, 1.5, 1.4), demo_season=False),
        Shape("fast_growth", orders_per_day=3_000, growth=2.0, step_up=(200, 1.3), demo_season=False),
        Shape("overdispersed", orders_per_day=5_000, dispersion=3.0, day_shock=0.06, demo_season=False),
        Shape("dominant_region", orders_per_day=8_000, region_share=(0.5, 0.12, 0.12, 0.1, 0.1, 0.06)),
        Shape("promotions", orders_per_day=10_000, promo_rate=0.25, bf_cm=1.5, demo_season=False),
        Shape("huge", orders_per_day=1_000_000, n_skus=300),
    )
}
# Shapes added after every default was chosen, and never used to choose one: what the README reports
# as shops the detector has not seen. Each is far from every FAMILY member in some way a real shop is.
FRESH_FAMILY: dict[str, Shape] = {
    s.name: s
    for s in (
        # 1,500 SKUs on a flat curve: most sell one or two orders a day, the top ones a few dozen.
        Shape("long_tail", orders_per_day=3_000, n_skus=1_500, zipf=0.7, demo_season=False),
        # Twelve regions, the biggest a quarter of the shop, the smallest 2%.
        Shape("many_regions", orders_per_day=6_000, regions=tuple(f"region-{i:02d}" for i in range(1, 13)),
              region_share=(0.25, 0.15, 0.12, 0.1, 0.08, 0.07, 0.06, 0.05, 0.04, 0.03, 0.03, 0.02)),
        # A business supplier: weekends sell a fifth of a weekday, and it grows 30% in the year.
        Shape("weekday_b2b", orders_per_day=4_000, weekday=(1.3, 1.3, 1.25, 1.25, 1.1, 0.25, 0.15),
              growth=1.3, demo_season=False),
        # Three categories (the rest of the shop is two others), over-dispersed, shocks and promotions.
        Shape("few_categories", orders_per_day=2_500, n_skus=120, n_categories=3, dispersion=6.0,
              day_shock=0.08, promo_rate=0.08),
        # Added 2026-12-06, after that day's change to the zero-day odds, and never run before it:
        # a tiny shop of two regions, weekend peaks and noisy counts;
        Shape("tiny_two_regions", orders_per_day=400, n_skus=40, regions=("north", "south"),
              region_share=(0.7, 0.3), weekday=(0.8, 0.8, 0.85, 0.9, 1.1, 1.5, 1.4), dispersion=4.0,
              demo_season=False),
        # a shop shrinking by 40% over the year through the demo's holiday season;
        Shape("shrinking", orders_per_day=6_000, growth=0.6, dispersion=8.0),
        # eight regions, 400 SKUs, noisy counts, daily shocks and promotions together.
        Shape("noisy_wide", orders_per_day=8_000, n_skus=400,
              regions=tuple(f"zone-{i}" for i in range(1, 9)),
              region_share=(0.3, 0.2, 0.15, 0.1, 0.1, 0.06, 0.05, 0.04), dispersion=4.0, day_shock=0.05,
              promo_rate=0.1, demo_season=False),
    )
}  # fmt: skip
QUICK_FAMILY: dict[str, Shape] = {  # small stand-ins for tests: same spirit, a fraction of the cells
    name: replace(s, n_skus=min(s.n_skus, 30), orders_per_day=min(s.orders_per_day, 4_000))
    for name, s in FAMILY.items()
    if name in ("small", "overdispersed", "promotions")
}


@dataclass(frozen=True)
class ShopYear:
    """One shape's generated days: daily_agg cells, the incidents, and the expected orders behind them."""

    shape: Shape
    seed: int
    days: list[dt.date]
    daily_agg: pl.DataFrame
    incidents: list[ShapeIncident]
    expected: np.ndarray  # (day, sku, region) expected orders without incidents
    kept: np.ndarray  # (day, sku, region) share of demand the incidents kept
    catalog: pl.DataFrame


def _season(shape: Shape, days: list[dt.date], rng: np.random.Generator, cats: int) -> tuple:
    """Shop-wide factor per day and category uplift per (day, category)."""
    n = len(days)
    shop = np.array([shape.weekday[d.weekday()] for d in days])
    shop *= shape.growth ** (np.arange(n) / 365.0)
    if shape.demo_season:
        shop *= np.array([yearly_factor(d) for d in days])
    if shape.step_up:
        shop[shape.step_up[0] :] *= shape.step_up[1]
    if shape.bf_cm:
        for i, d in enumerate(days):
            bf = black_friday(d.year)
            if d in (bf, bf + dt.timedelta(days=3)):
                shop[i] *= 1 + shape.bf_cm
    if shape.day_shock:
        shop *= rng.lognormal(0.0, shape.day_shock, n)
    uplift = np.ones((n, cats))
    promo_days = np.flatnonzero(rng.random(n) < shape.promo_rate)
    uplift[promo_days, rng.integers(0, cats, promo_days.size)] = rng.uniform(2.0, 4.0, promo_days.size)
    return shop, uplift


def _cell_shares(shape: Shape, n_skus: int, rng: np.random.Generator) -> np.ndarray:
    """Share of the shop's orders per (sku, region): Zipf SKUs, then the long tail at TAIL_ORDERS."""
    ranks = rng.permutation(n_skus) + 1
    sku = 1.0 / ranks.astype(float) ** shape.zipf
    sku /= sku.sum()
    tail = np.array(TAIL_ORDERS) / shape.orders_per_day
    sku[: len(tail)] = tail
    sku[len(tail) :] *= (1 - tail.sum()) / sku[len(tail) :].sum()
    region = np.array(shape.region_share) / np.sum(shape.region_share)
    return sku[:, None] * region[None, :]


def generate_shop(
    shape: Shape,
    first: dt.date,
    last: dt.date,
    history_days: int,
    seed: int,
    incidents: list[ShapeIncident] | None = None,
) -> ShopYear:
    """Daily counts per cell from ``first - history_days`` to ``last``; incidents only within first..last.

    ``incidents`` replaces the planned ones (a test injecting exactly the drop it checks).
    """
    rng = np.random.default_rng([seed, 101, sum(shape.name.encode())])
    start = first - dt.timedelta(days=history_days)
    days = [start + dt.timedelta(days=i) for i in range((last - start).days + 1)]
    catalog = generate_catalog(shape.n_skus, seed)
    names = CATEGORIES[: shape.n_categories]
    catalog = catalog.with_columns(category=pl.Series([names[i % len(names)] for i in range(shape.n_skus)]))
    cat_index = np.array([names.index(c) for c in catalog["category"]])
    shares = _cell_shares(shape, shape.n_skus, rng)
    shop, uplift = _season(shape, days, rng, len(names))
    expected = shape.orders_per_day * shop[:, None, None] * shares[None] * uplift[:, cat_index][:, :, None]
    if incidents is None:
        incidents = plan_incidents(days, history_days, expected, catalog, shape.regions, rng)
    kept = np.ones_like(expected)
    for incident in incidents:
        incident.apply(kept, days)
    mean = expected * kept
    if shape.dispersion:
        mean = mean * rng.gamma(shape.dispersion, 1.0 / shape.dispersion, mean.shape)
    orders = rng.poisson(mean)
    units = orders + rng.binomial(orders, 0.3)
    prices = catalog["base_price"].to_numpy()
    revenue = units * prices[None, :, None]
    n_days, n_skus, n_regions = orders.shape
    frame = pl.DataFrame(
        {
            "date": np.repeat(np.array(days, dtype="datetime64[D]"), n_skus * n_regions),
            "sku": np.tile(np.repeat(catalog["sku"].to_numpy(), n_regions), n_days),
            "category": np.tile(np.repeat(catalog["category"].to_numpy(), n_regions), n_days),
            "region": np.tile(np.array(shape.regions), n_days * n_skus),
            "orders": orders.ravel(),
            "units": units.ravel(),
            "revenue": revenue.ravel().astype(float),
        }
    ).filter(pl.col("orders") > 0)
    frame = frame.with_columns(aov=pl.col("revenue") / pl.col("orders"))
    # Columns of daily_agg this generator has no model for (cancellations, ...) are zero.
    frame = frame.with_columns(
        pl.lit(0).cast(t).alias(c) for c, t in DAILY_AGG.items() if c not in frame.columns
    )
    return ShopYear(shape, seed, days, conform(frame, DAILY_AGG), incidents, expected, kept, catalog)

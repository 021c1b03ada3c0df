"""The odds of a zero day and of a run of them, at what each series sells on such a day.

``zero_run``: a series that sold nothing for ``k`` days in a row, where its own history makes
that unlikely: P = the product of each day's chance of a zero day, negative binomial at what the
series sells on such a day (its share of the shop's orders that day, ``dispersion``) with the
over-dispersion left around that (its own, or its level's median that day when higher: 28 days
of a heavy-tailed series often show too little variance), Poisson when there is none. A SKU
with 5 orders a day that sells nothing for 3 days is an outage, though the volume gate keeps it
quiet on ordinary days; a business supplier's weekend without sales is not. ``robust_z`` of such
an alert is the normal quantile of P.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from .detect_grid import trailing_median
from .detect_level import UNUSUAL

if TYPE_CHECKING:
    from .detect import DetectionConfig

SID = "_sid"  # the integer series id of the dense grid (detect_grid.dense_series), sorted by date within
ZERO_LOOKBACK = 28  # days whose orders set the expected zero-day chance ...
ZERO_GAP = 8  # ... ending this many days before the checked day, so a run up to a week is not in it
PATTERN_WEEKS = 4  # same weekdays whose median orders are the shop's usual day
MAD_SCALE = 1.4826


def shop_orders(frame: pl.DataFrame) -> pl.DataFrame:
    """(date, orders) of the shop's total in a dense grid (``dispersion``'s ``shop``); empty without one."""
    return frame.filter(pl.col("level") == "total").select("date", "orders")


def _usual_day() -> pl.Expr:
    """The shop's usual orders on a day: the median of its same weekday over PATTERN_WEEKS weeks."""
    same = pl.concat_list([pl.col("orders").shift(7 * k) for k in range(1, PATTERN_WEEKS + 1)])
    return same.list.drop_nulls().list.median()


def _pattern(shop: pl.DataFrame) -> pl.DataFrame:
    """(date, _f): the shop's usual orders on that day (``_usual_day``) against its mean of the
    ZERO_LOOKBACK days before. Its weekday shape, a season's slope, a campaign: what every series
    shares and is known before the day."""
    shop = shop.sort("date").with_columns(pl.col("orders").cast(pl.Float64))
    mean = pl.col("orders").shift(1).rolling_mean(ZERO_LOOKBACK, min_samples=ZERO_LOOKBACK // 2)
    factor = _usual_day() / mean
    return shop.select("date", _f=pl.when(factor > 0).then(factor))


def _quiet_shop(shop: pl.DataFrame) -> pl.DataFrame:
    """(date, orders): the shop's orders, but no more than its usual day (``_usual_day``). A quiet
    day (a weekend of a business supplier, a January after the peak, an outage) makes a series' zero
    day likelier; one category's promotion filling the shop makes no other series' zero day rarer."""
    shop = shop.sort("date").with_columns(pl.col("orders").cast(pl.Float64))
    return shop.select("date", orders=pl.min_horizontal("orders", _usual_day()).fill_null(pl.col("orders")))


def _per_row(frame: pl.DataFrame, table: pl.DataFrame, column: str) -> pl.Series:
    """``table``'s (date, column) placed on every row of ``frame`` by its date (null where absent)."""
    first = frame.get_column("date").min()
    day = (frame.get_column("date") - first).dt.total_days().to_numpy()
    offset = (table.get_column("date") - first).dt.total_days().to_numpy()
    inside = (offset >= 0) & (offset <= day.max())
    values = np.full(int(day.max()) + 1, np.nan)
    values[offset[inside]] = table.get_column(column).cast(pl.Float64).fill_null(np.nan).to_numpy()[inside]
    return pl.Series(column, values[day], nan_to_null=True)


def _lookback_sums(n_days: int, arrays: list[np.ndarray]) -> tuple[list[np.ndarray], np.ndarray]:
    """Per row of a dense grid (``n_days`` rows a series), each array's sum over the ZERO_LOOKBACK
    days ending ZERO_GAP days back in its series, days where any array is NaN (unknown) left out,
    and how many days were known. Cumulative sums per series, not rolling windows over a group-by:
    the same sums, a few times faster."""
    day = np.arange(n_days)
    hi = np.clip(day - ZERO_GAP + 1, 0, n_days)
    lo = np.clip(day - ZERO_GAP - ZERO_LOOKBACK + 1, 0, n_days)

    def window(a: np.ndarray) -> np.ndarray:
        grid = a.reshape(-1, n_days)
        total = np.zeros((grid.shape[0], n_days + 1))
        np.cumsum(grid, axis=1, out=total[:, 1:])
        return (total[:, hi] - total[:, lo]).ravel()

    known = ~np.any([np.isnan(a) for a in arrays], axis=0)
    return [window(np.where(known, a, 0.0)) for a in arrays], window(known.astype(float))


def _usual_lookback_sums(
    frame: pl.DataFrame, n_days: int, arrays: list[np.ndarray]
) -> tuple[list[np.ndarray], np.ndarray]:
    """``_lookback_sums`` leaving out the days the row's category was unusual (``UNUSUAL``: a
    promotion, its own outage), where ZERO_LOOKBACK // 2 usual days remain. Two 3x promotion days
    of a category in 28 doubled the variance of its SKUs' orders: a SKU of 40 orders a day selling
    nothing read as over-dispersed noise (a 1-in-300 day, not 1 in 300,000), and its stock-out
    waited a day for the run."""
    sums, count = _lookback_sums(n_days, arrays)
    if UNUSUAL not in frame.columns:
        return sums, count
    far = frame.get_column(UNUSUAL).fill_null(False).to_numpy()
    if not far.any():
        return sums, count
    usual, kept = _lookback_sums(n_days, [np.where(far, np.nan, a) for a in arrays])
    enough = kept >= ZERO_LOOKBACK // 2
    return [np.where(enough, u, a) for u, a in zip(usual, sums, strict=True)], np.where(enough, kept, count)


def dispersion(frame: pl.DataFrame, shop: pl.DataFrame | None = None, robust: bool = True) -> pl.DataFrame:
    """``frame`` (a dense grid) with the series' daily orders over the ZERO_LOOKBACK days ending
    ZERO_GAP days back: ``_lam`` and ``_var``, their mean and variance; ``_share``, its orders per
    order of the whole shop on those days; ``_shop``, the shop's orders on the row's day in units of
    its median day, no more than its usual day (``_quiet_shop``; ``shop``: ``shop_orders`` of the
    whole shop, default: of ``frame``), so that ``_share`` x ``_shop`` is what the series sells on
    such a day; ``_phi``, the over-dispersion left around that (variance = mu + phi mu^2); with
    ``robust``, ``_phi_noise`` (``_with_noise``).

    ``_phi`` (moments, not robust: an outage in the lookback widens it, the safe side for the
    zero-day odds) judges a zero day against what the shop sold that day: a business supplier's SKU
    of 5 orders a day sells 1 on a Sunday, and a January after the holiday peak sells less on every
    day, so a weekend or a January week without sales is less unlikely than a weekday in December.
    ``_lam`` and ``_var`` keep the shop's swings in (the cusum's cell weights); ``_share`` and
    ``_phi`` leave out the days the series' category was unusual (``_usual_lookback_sums``).
    """
    shop = shop_orders(frame) if shop is None else shop
    n_days = int(frame.get_column("_pos").max()) + 1 if frame.height else 1
    y = frame.get_column("orders").cast(pl.Float64).fill_null(np.nan).to_numpy()
    g = np.full(frame.height, np.nan)
    if not (shop.is_empty() or frame.is_empty()):
        g = _per_row(frame, _quiet_shop(shop), "orders").to_numpy()
        g = g / max(float(np.nanmedian(g)), 1.0) if not np.isnan(g).all() else g  # small squares
    (sy, syy), count = _lookback_sums(n_days, [y, y * y])
    (ty, tyy, sg, syg, sgg), both = _usual_lookback_sums(frame, n_days, [y, y * y, g, y * g, g * g])
    with np.errstate(all="ignore"):
        enough = count >= ZERO_LOOKBACK // 2
        lam = np.where(enough, sy / count, np.nan)
        var = np.where(enough, np.maximum(syy - sy * sy / count, 0.0) / (count - 1.0), np.nan)
        share = np.where((both >= ZERO_LOOKBACK // 2) & (sg > 0), ty / sg, np.nan)
        # The squared misses around share x the shop's orders of each day (one degree of freedom spent
        # on the share), less what Poisson explains, over what negative-binomial noise would add.
        misses = (tyy - 2.0 * share * syg + share**2 * sgg) * both / np.maximum(both - 1.0, 1.0)
        phi = np.maximum((misses - ty) / (share**2 * sgg), 0.0)
    scored = frame.with_columns(
        pl.Series("_lam", lam, nan_to_null=True),
        pl.Series("_var", var, nan_to_null=True),
        pl.Series("_share", share, nan_to_null=True),
        pl.Series("_shop", g, nan_to_null=True),
        pl.Series("_phi", phi, nan_to_null=True),
    )
    return _with_noise(scored, shop) if robust else scored


def _with_noise(scored: pl.DataFrame, shop: pl.DataFrame) -> pl.DataFrame:
    """``_phi_noise``: over-dispersion from a robust (1.4826 x MAD) variance of the lookback's orders
    over the shop's usual weekday pattern (``_pattern``): a stock-out or an outage in the lookback
    must not read as noise, or the series could not alert again for a month."""
    if shop.is_empty() or scored.is_empty():
        scored = scored.with_columns(_f=pl.lit(1.0))
    else:
        scored = scored.with_columns(_per_row(scored, _pattern(shop), "_f").fill_null(1.0))
    usual = pl.col("orders") / pl.col("_f")
    n = ZERO_LOOKBACK // 2
    level = trailing_median(scored, usual, ZERO_LOOKBACK, n, lag=ZERO_GAP)
    before = pl.when(pl.col("_pos") >= ZERO_GAP).then(usual.shift(ZERO_GAP))  # in the series' own rows
    scored = scored.with_columns(_gap=(before - level).abs())
    noise = (MAD_SCALE * trailing_median(scored, pl.col("_gap"), ZERO_LOOKBACK, n)).pow(2)
    return scored.with_columns(
        _phi_noise=((noise - pl.col("_lam")) / pl.col("_lam") ** 2).clip(lower_bound=0.0)
    ).drop("_f", "_gap")


def busy_dispersion(scored: pl.DataFrame) -> pl.DataFrame:
    """The (level, date, _phi) of series-days selling at least an order a day: what ``level_dispersion``
    takes the median of (a shop scored in shards concatenates its shards' rows)."""
    return scored.filter(pl.col("_lam") >= 1.0).select("level", "date", "_phi")


def level_dispersion(busy: pl.DataFrame) -> pl.DataFrame:
    """(level, date) -> ``_phi_level``, the median over-dispersion of the level's busy series that day."""
    return busy.group_by("level", "date").agg(_phi_level=pl.col("_phi").median())


def zero_day_odds(
    base: pl.DataFrame, levels: pl.DataFrame | None = None, shop: pl.DataFrame | None = None
) -> pl.DataFrame:
    """``base`` with ``dispersion``'s ``_lam`` and ``_var`` and ``_log_p0``: the log chance of a zero
    day, negative binomial when the series varies more than Poisson, Poisson otherwise, at what the
    series sells on such a day (its ``_share`` of the shop's orders that day). One estimate for the
    one-day outage test and for zero runs. ``levels``: ``level_dispersion`` of the whole shop when
    ``base`` is one shard of it (default: of ``base``), ``shop`` its ``shop_orders``."""
    # Over-dispersion phi: the series' own, or the median of its level's series that day when
    # higher. 28 days of a heavy-tailed series often show too little variance, which would make its
    # zero runs look rarer than they are.
    scored = dispersion(base, shop)
    levels = level_dispersion(busy_dispersion(scored)) if levels is None else levels
    scored = scored.join(levels, on=["level", "date"], how="left", maintain_order="left")
    phi = pl.max_horizontal("_phi", "_phi_level")
    # Where the shop's orders are unknown (a frame without its total), the series' own mean.
    mu = pl.coalesce(pl.col("_share") * pl.col("_shop"), pl.col("_lam"))
    return scored.with_columns(_log_p0=_log_p0(mu, phi), _phi_run=phi).drop("_phi", "_phi_level")


def _log_p0(mu: pl.Expr | np.ndarray, phi: pl.Expr | np.ndarray) -> pl.Expr | np.ndarray:
    """The log chance of a zero day at mean ``mu``: negative binomial (phi > 0), else Poisson."""
    if isinstance(mu, np.ndarray):
        with np.errstate(all="ignore"):
            return np.where(phi * mu > 0.05, -np.log1p(mu * phi) / phi, -mu)
    return pl.when(phi * mu > 0.05).then(-(mu * phi).log1p() / phi).otherwise(-mu)


def zero_runs(dense: pl.DataFrame) -> pl.Series:
    """Per row, the zero-order days in a row ending that day in its series (0 on a day that sold or
    was not read). Rows are one per calendar day, series after series, each from ``_pos`` 0: the runs
    are found on the whole column at once, not per series."""
    zero = (dense.get_column("orders") == 0).fill_null(False).to_numpy()
    row = np.arange(len(zero))
    starts = dense.get_column("_pos").to_numpy() == 0
    # The last row before each run that was no zero day (a series' first zero counts from before it).
    breaks = np.where(~zero, row, np.where(starts, row - 1, -1))
    last = np.maximum.accumulate(breaks) if len(zero) else breaks
    return pl.Series("run", np.where(zero, row - last, 0), dtype=pl.Int32)


def run_log_odds(base: pl.DataFrame, run: pl.Series) -> pl.Series:
    """Per row, the log chance of its run of zero days: each day of the run at the row's share of the
    shop and over-dispersion (``zero_day_odds``) times the shop's orders on that day; null where the
    share is unknown. The share is the row's own, from the days before the run while it is shorter
    than ZERO_GAP + 1 days: a longer run enters the share and lowers it, so a long quiet spell of a
    series that sold a few orders a month is not a rarer event every day it lasts."""
    share = base.get_column("_share").fill_null(np.nan).to_numpy()
    shop = base.get_column("_shop").fill_null(np.nan).to_numpy()
    phi = base.get_column("_phi_run").fill_null(0.0).to_numpy()
    run = run.to_numpy()
    fallback = base.get_column("_log_p0").fill_null(np.nan).to_numpy()  # no shop: its own mean's odds
    out = np.where(run > 0, 0.0, np.nan)
    rows = np.flatnonzero(run > 0)
    longest = int(run.max()) if len(run) else 0
    no_shop = bool(np.isnan(shop).all())
    for lag in range(min(longest, ZERO_GAP + ZERO_LOOKBACK)):  # past that, the share is 0
        rows = rows[run[rows] > lag]
        odds = _log_p0(share[rows] * shop[rows - lag], phi[rows])
        out[rows] += np.where(no_shop | np.isnan(share[rows]), fallback[rows], odds)
    return pl.Series("_log_p", np.where(run > 0, out, 0.0), nan_to_null=True)


def score_zero_run(base: pl.DataFrame, config: DetectionConfig) -> pl.DataFrame:
    """Runs of zero-order days whose probability under the series' own history is below zero_run_p.

    ``base`` carries ``zero_day_odds``' columns (score_weekday_mad adds them)."""
    run = zero_runs(base)
    scored = base.with_columns(
        _rev=pl.col("revenue").shift(ZERO_GAP).rolling_mean(ZERO_LOOKBACK, min_samples=1).over(SID),
        run=run,
        _log_p=run_log_odds(base, run),
    )
    limit = math.log(config.zero_run_p)
    z = -(-2.0 * pl.col("_log_p")).clip(lower_bound=0.0).sqrt()
    baseline = pl.coalesce(pl.col("baseline"), pl.col("_rev"))
    status = (
        pl.when(pl.col("revenue").is_null())
        .then(pl.lit("no_data"))
        .when(pl.col("_lam").is_null())
        .then(pl.lit("short_history"))
        .when((pl.col("run") >= 1) & (pl.col("_log_p") <= limit) & (baseline > 0))
        .then(pl.lit("alert"))
        .otherwise(pl.lit("normal"))
    )
    return scored.with_columns(
        observed=pl.col("revenue"),
        baseline=baseline,
        mad=pl.lit(None, dtype=pl.Float64),
        spread=pl.lit(None, dtype=pl.Float64),
        robust_z=z,
        pct_drop=pl.when(baseline > 0).then(1.0 - pl.col("revenue") / baseline),
        metric=pl.lit("orders"),
        window_days=pl.col("run").clip(lower_bound=1),
        status=status,
        rule=pl.lit("zero_run"),
    )

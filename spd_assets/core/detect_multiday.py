"""The test no single day shows: multi-day windows against their own baselines (zero runs: ``detect_zero``).

- ``window_mad``: revenue summed over the last ``w`` days (``windows``, 3 and 7) against the sum of
  the one-day rule's baselines over the same days. The spread is the series' own history of w-day
  misses (1.4826 x their median absolute size over the 28 days before the window), so it carries
  whatever day-to-day correlation the series has, floored by the one-day rule's spreads of the
  window's days added as independent days (the series' own over-dispersion, which 28 days of
  overlapping windows estimate poorly) and by Poisson noise of the window's orders. A slow decline
  or a sustained partial drop that no single day shows accumulates here. The checked day and the
  window's median day must be down too, so the window neither repeats a one-day drop on the days
  after it nor keeps alerting once a drop ends.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import polars as pl

from .detect_grid import trailing_median
from .detect_zero import score_zero_run

if TYPE_CHECKING:
    from .detect import DetectionConfig

WINDOW_RESIDUAL_DAYS = 28
MAD_SCALE = 1.4826


def _rolling_sum(values: pl.Expr, w: int) -> pl.Expr:
    """The sum of the last ``w`` days of the series (null if one is unknown). Rows are one per
    calendar day, series after series (``_pos``: the day's index in it), so the ``w`` values are the
    row's and the ``w - 1`` before it: no group-by over the series. Added up, not a running sum over
    the whole column: that one carried the rounding of the series before into the next (a cell that
    never sold summed to 3e-12, not 0) and differed from run to run with Polars' chunks."""
    total = values
    for lag in range(1, w):
        total = total + values.shift(lag)
    return pl.when(pl.col("_pos") >= w - 1).then(total)


def _window(base: pl.DataFrame, w: int, config: DetectionConfig) -> pl.DataFrame:
    """One window length: observed and baseline sums, the z from the series' own w-day misses."""
    # Days a one-day test already explains count at their baseline: the window looks for what no
    # single day shows, and does not re-find a drop on the days after it.
    kept = pl.when(pl.col("_explained")).then(pl.col("baseline")).otherwise(pl.col("revenue"))
    scored = base.with_columns(
        _obs=_rolling_sum(kept, w),
        _base=_rolling_sum(pl.col("baseline"), w),
        _orders=_rolling_sum(pl.col("baseline_orders"), w),
        # The one-day spreads over the window, added as independent days: the over-dispersion the
        # series' daily misses show, which a 28-day history of overlapping windows (a handful of
        # independent values) can miss by half.
        _daily=_rolling_sum(pl.col("spread").pow(2), w).sqrt(),
    ).with_columns(_miss=pl.when(pl.col("_base") > 0).then(pl.col("_obs") / pl.col("_base") - 1.0))
    history = trailing_median(scored, pl.col("_miss").abs(), WINDOW_RESIDUAL_DAYS, 14, lag=w)
    scored = scored.with_columns(_rel=MAD_SCALE * history)
    rel = pl.max_horizontal(
        "_rel",
        pl.when(pl.col("_base") > 0).then(pl.col("_daily") / pl.col("_base")),
        (
            (1.0 + math.pi / (2.0 * pl.col("comparable").clip(lower_bound=1)))
            / pl.col("_orders").clip(lower_bound=1.0)
        ).sqrt(),
        pl.lit(config.min_rel_spread_window),
    )
    return scored.with_columns(
        _z=pl.col("_miss") / rel, _spread=rel * pl.col("_base"), window_days=pl.lit(w, dtype=pl.Int32)
    )


WINDOW_COLUMNS = ("_obs", "_base", "_orders", "_miss", "_rel", "_z", "_spread", "window_days", "_flag")


def _more_significant(best: pl.DataFrame, other: pl.DataFrame) -> pl.DataFrame:
    """Per row, the window that alerts, else the lower z (a known z beats none; a tie keeps ``best``)."""
    new = other.select(pl.col(c).alias(f"{c}_new") for c in WINDOW_COLUMNS)
    flag, z = pl.col("_flag"), pl.col("_z")
    flag_new, z_new = pl.col("_flag_new"), pl.col("_z_new")
    lower = (z_new < z) | (z.is_null() & z_new.is_not_null())
    take = (flag_new & ~flag) | ((flag_new == flag) & lower.fill_null(False))
    return (
        pl.concat([best, new], how="horizontal")
        .with_columns(pl.when(take).then(f"{c}_new").otherwise(c).alias(c) for c in WINDOW_COLUMNS)
        .drop(new.columns)
    )


def score_window_mad(
    base: pl.DataFrame, config: DetectionConfig, zero: pl.DataFrame | None = None
) -> pl.DataFrame:
    """The 3- and 7-day windows on the one-day rule's baselines; per series-day the most significant.

    ``zero`` is ``score_zero_run(base, config)`` when the caller has it already (it is not cheap).
    """
    zero = score_zero_run(base, config) if zero is None else zero
    base = base.with_columns(
        _explained=(pl.col("status") == "alert") | (zero.get_column("status") == "alert")
    )
    best: pl.DataFrame | None = None
    for w, pct in zip(config.windows, config.window_pct_thresholds, strict=True):
        flag = (
            (pl.col("_z") <= -config.window_z_threshold)
            & (-pl.col("_miss") >= pct)
            & (pl.col("pct_drop") >= pct)
            & (pl.col("robust_z") <= -config.window_today_z)
            & (pl.col("_days_drop") >= config.window_today_drop)
        )
        scored = _window(base, w, config)
        scored = scored.with_columns(_days_drop=trailing_median(scored, pl.col("pct_drop"), w, w))
        scored = scored.with_columns(_flag=flag.fill_null(False)).drop("_days_drop")
        best = scored if best is None else _more_significant(best, scored)
    assert best is not None  # DetectionConfig refuses an empty windows tuple
    gate = pl.col("baseline_orders") < config.min_window_orders
    status = (
        pl.when(pl.col("revenue").is_null())
        .then(pl.lit("no_data"))
        .when(pl.col("_z").is_null() | (pl.col("comparable") < config.min_weeks))
        .then(pl.lit("short_history"))
        .when(gate)
        .then(pl.lit("low_volume"))
        .when("_flag")
        .then(pl.lit("alert"))
        .otherwise(pl.lit("normal"))
    )
    return best.with_columns(
        observed=pl.col("_obs"),
        baseline=pl.col("_base"),
        mad=pl.col("_rel") * pl.col("_base"),
        spread=pl.col("_spread"),
        robust_z=pl.col("_z"),
        pct_drop=-pl.col("_miss"),
        metric=pl.format("revenue_{}d", pl.col("window_days")),
        status=status,
        rule=pl.lit("window_mad"),
    )

"""``cusum``: a one-sided CUSUM of each series' standardized daily misses, for what builds up over days.

A slow decline (a category losing half its revenue over ten days) or a partial drop lasting a few
days moves no single day far enough for the one-day test, on a noisy shop least of all. The CUSUM
adds up each day's shortfall in units of the series' own spread, less an allowance ``cusum_k``,
and alerts once the sum reaches ``cusum_h`` (S_t = max(0, S_{t-1} - e_t - k); ``cusum_h_items`` on SKUs
and cells, which are many more series, so each must be stricter for the same false alerts a day).

- It runs on **orders**, not revenue: an incident cuts demand, and the price mix of a few dear SKUs
  only adds noise to the revenue of a region or a category. The baseline is the one-day rule's:
  the same weekday of the last weeks, each scaled by the rest of the shop's change since.
- Above the (sku, region) cells, a series' daily miss pools its cells: sum(w (orders - expected)) /
  sum(w expected), each cell weighted by 1 / (1 + phi x expected), phi the cell's own
  over-dispersion (variance over Poisson, from its last 28 days; the weights that estimate one
  factor shared by every cell best). A region's plain sum is as noisy as its few biggest cells; a
  drop of the whole region moves every cell. Expected is the mean of the cell's scaled comparable
  days (a median of a few orders is biased), leaving out any day its category was unusual (a
  promotion, its own outage: ``detect_level.unusual_days``); phi and the weights read the cell's
  28-day mean, which carries none of the comparable days' noise.
- The spread of each miss comes from its own history: 1.4826 x the median absolute miss of the 28
  days before, floored by Poisson noise (or 1 / sqrt of the pooled weight), so an over-dispersed
  shop has a wider spread and the same threshold holds on it.
- Days a one-day test already explains (``weekday_mad``, ``zero_run``) add nothing, and the checked
  day itself must be down (``cusum_today_z``) with the run's revenue down ``cusum_pct``, so one
  drop is not re-found on the days after it. ``window_days`` is the run: the days since the sum
  last was zero; ``robust_z`` is -S, the accumulated shortfall in days' spreads (or the day's own
  miss, when lower). S is held at
  ``cusum_h`` once reached, so an alert ends when the days stop falling short. Series that never
  reach ``min_baseline_orders`` are not accumulated and get no ``cusum`` rows in the scored days.
- A Shewhart limit beside the sum (the combined Shewhart-CUSUM scheme, Lucas 1982): a day whose
  pooled miss alone is ``z_threshold`` spreads and ``cusum_day_pct`` down alerts that day, so a
  large partial drop of a noisy region or a small shop's category is not a day late. The total's
  limit reads its own orders too: every cell's expected moves with the rest of the shop, so the
  pooled miss of the whole shop cannot show a site-wide drop, and a small shop's revenue (the
  one-day rule's) varies too much to.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from .detect_grid import trailing_median
from .detect_level import UNUSUAL, change_column, row_median

if TYPE_CHECKING:
    from .detect import DetectionConfig

SERIES = ("level", "sku", "category", "region")
SID = "_sid"  # the integer series id of the dense grid (detect_grid.dense_series), sorted by date within
RESIDUAL_DAYS = 28
MAD_SCALE = 1.4826
MAX_RUN = 28  # the run reported (and summed in revenue) is at most this many days
USED = (SID, "date", *SERIES, "orders", "revenue", "baseline", "baseline_orders", "comparable")
OUT_COLUMNS = ("date", *SERIES, "rule", "status", "metric", "observed", "baseline", "mad", "spread",
               "robust_z", "pct_drop", "baseline_orders", "comparable", "window_days")  # fmt: skip


def _comparable_orders(base: pl.DataFrame, weeks: int) -> pl.DataFrame:
    """The one-day rule's comparable days on orders: the same weekday k weeks back, scaled by the shop,
    leaving out a day its category was unusual (``detect_level.unusual_days``: a promotion k weeks back
    lifted the mean of a cell's comparable days by a third, and read as a drop the weeks after)."""

    def usual(k: int) -> pl.Expr:
        return ~pl.col(UNUSUAL).shift(7 * k) if UNUSUAL in base.columns else pl.lit(True)

    return base.select(
        pl.when((pl.col("_pos") >= 7 * k) & usual(k))
        .then(pl.col("orders").shift(7 * k) * pl.col(change_column(k)))
        .alias(str(k))
        for k in range(1, weeks + 1)
    )


def _grid(sid: np.ndarray) -> tuple[np.ndarray, np.ndarray, tuple[int, int]]:
    """Each row's (series, day) cell in a padded 2-D grid, for rows sorted by series then day."""
    if not len(sid):
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), (0, 0)
    new = np.r_[True, sid[1:] != sid[:-1]]
    group = np.cumsum(new) - 1
    pos = np.arange(len(sid)) - np.flatnonzero(new)[group]
    return group, pos, (int(group[-1]) + 1, int(pos.max()) + 1)


def _accumulate(x: np.ndarray, sid: np.ndarray, cap: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """S_t = min(max(0, S_{t-1} + x_t), cap) per series (rows by series, then day) and the run length
    behind S. Held at ``cap`` (the alert threshold, per row, the same within a series), an alert ends
    as soon as the days stop falling short, instead of the sum of a big drop keeping the days after
    it alerting."""
    group, pos, shape = _grid(sid)
    steps = np.full(shape, np.nan)
    steps[group, pos] = x
    cap = np.zeros(shape[0]) if not len(sid) else np.bincount(group, weights=cap) / np.bincount(group)
    total, run = np.zeros(shape), np.zeros(shape, dtype=np.int64)
    s, r = np.zeros(shape[0]), np.zeros(shape[0], dtype=np.int64)
    for t in range(shape[1]):
        step = steps[:, t]
        s = np.where(np.isnan(step), s, np.clip(s + np.nan_to_num(step), 0.0, cap))
        r = np.where(s > 0, r + 1, 0)
        total[:, t], run[:, t] = s, r
    return total[group, pos], run[group, pos]


def _with_spread(scored: pl.DataFrame, config: DetectionConfig, weight: str | None = None) -> pl.DataFrame:
    """``_orel``: the relative spread of ``_omiss`` from its own history, floored by Poisson noise of
    the baseline (or by 1 / sqrt of the pooled ``weight``, the same floor for a pooled miss)."""
    history = MAD_SCALE * trailing_median(scored, pl.col("_omiss").abs(), RESIDUAL_DAYS, 7, lag=1)
    error = 1.0 + math.pi / (2.0 * pl.col("comparable").clip(lower_bound=1))
    floor = (error / pl.col("_ob")).sqrt()
    if weight is not None:
        floor = pl.when(pl.col(weight) > 0).then((1.0 / pl.col(weight)).sqrt()).otherwise(floor)
    return scored.with_columns(_orel=history).with_columns(
        _orel=pl.max_horizontal("_orel", floor, pl.lit(config.min_rel_spread_window))
    )


def _pooled(scored: pl.DataFrame, blocks: pl.DataFrame | None) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Per (date, series) above the cells: its cells' orders against their expected orders, each cell
    weighted by 1 / (1 + phi x expected), phi its own over-dispersion (the optimal weights for one
    factor common to every cell: noise of a few big, over-dispersed cells weighs less).

    Also the (date, region, category) sums of this frame's cells, which total, region and category
    add up: ``blocks`` replaces them when the frame is one shard of the shop (the sums of every shard).
    """
    # The weights read the cell's 28-day mean, not its expected orders: a weight falling as the noisy
    # mean of 8 comparable days rises weighed the cells whose expected came out low by chance more, and
    # an over-dispersed shop's pooled miss ran 3-5% above zero (a third of a spread: its slow declines
    # and partial drops had that much to make up before the cusum moved).
    # A cell that sold nothing in its lookback (a long tail's) has no over-dispersion to measure: 0,
    # not 0 / 0, whose NaN summed into every aggregate above it and silenced their cusum.
    phi = pl.when(pl.col("_lam") > 0).then(
        (pl.col("_var") - pl.col("_lam")).clip(lower_bound=0.0) / pl.col("_lam") ** 2
    )
    phi = phi.fill_null(0.0)
    far = pl.col(UNUSUAL) if UNUSUAL in scored.columns else pl.lit(False)
    cells = scored.filter(pl.col("level") == "sku_region", pl.col("_obmean").is_not_null()).select(
        "date", "sku", "category", "region", _o=pl.col("orders"), _x=pl.col("_obmean"),
        _w=1.0 / (1.0 + phi * pl.coalesce("_lam", "_obmean")), _far=far,
    )  # fmt: skip
    sums = {
        "_num": (pl.col("_w") * (pl.col("_o") - pl.col("_x"))).sum(),
        "_pw": (pl.col("_w") * pl.col("_x")).sum(),
    }
    # The region x category sums once; total, region and category add them up.
    own = cells.group_by("date", "region", "category").agg(**sums, _far=pl.col("_far").any())
    parts = [cells.group_by("date", "sku", "category").agg(**sums).with_columns(level=pl.lit("sku"))]
    # The total and a region leave out a category on its unusual day (a promotion, its own outage,
    # ``detect_level.unusual_days``): its cells' misses are the category's news, not theirs, and a
    # promotion's cells far above their expected hid half of a region's drop the same day.
    table = own if blocks is None else blocks
    for level, keys in (("total", ()), ("region", ("region",)), ("category", ("category",))):
        usual = table if level == "category" else table.filter(~pl.col("_far"))
        part = usual.group_by("date", *keys).agg(pl.col("_num", "_pw").sum())
        parts.append(part.with_columns(level=pl.lit(level)))
    parts = [
        p.with_columns(_pm=pl.when(pl.col("_pw") > 0).then(pl.col("_num") / pl.col("_pw"))) for p in parts
    ]
    pooled = pl.concat(parts, how="diagonal_relaxed")
    return pooled.select("date", *(pl.col(c).cast(pl.String) for c in SERIES), "_pm", "_pw"), own


def _total_alone(scored: pl.DataFrame, config: DetectionConfig) -> pl.Series:
    """The total's own orders miss in its own spreads (null on every other row). Every cell's expected
    orders move with the rest of the shop, so the total's pooled miss cannot see a site-wide drop;
    its own baseline is scaled by its trailing level instead. Only the total's rows are scored: a
    shard of SKUs has none."""
    total = (scored.get_column("level") == "total").to_numpy()
    out = np.full(scored.height, np.nan)
    if total.any():
        alone = _with_spread(scored.filter(total).select(SID, "_omiss", "_ob", "comparable"), config)
        out[total] = (alone["_omiss"] / alone["_orel"]).cast(pl.Float64).fill_null(np.nan).to_numpy()
    return pl.Series("_own_e", out, nan_to_null=True)


def add_blocks(blocks: list[pl.DataFrame]) -> pl.DataFrame:
    """The shards' (date, region, category) cell sums as the whole shop's (``score_cusum``'s ``blocks``)."""
    return (
        pl.concat(blocks)
        .group_by("date", "region", "category")
        .agg(pl.col("_num", "_pw").sum(), pl.col("_far").any())
    )


def score_cusum(
    base: pl.DataFrame, config: DetectionConfig, zero: pl.DataFrame, blocks: pl.DataFrame | None = None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The CUSUM of orders shortfalls per series-day, and the cell sums its aggregates pooled.

    ``base`` is score_weekday_mad's frame, ``zero`` score_zero_run's (their alerts explain a day);
    ``blocks``: ``add_blocks`` of every shard's cell sums when ``base`` is the shard of the shop's
    total, regions and categories (default: its own cells)."""
    explained = (base.get_column("status") == "alert") | (zero.get_column("status") == "alert")
    comparable = _comparable_orders(base, config.weeks)
    mean = comparable.mean_horizontal().alias("_obmean")
    every = base.select(
        *USED,
        *([UNUSUAL] if UNUSUAL in base.columns else []),
        mean,
        zero["_lam"],
        zero["_var"],
        _explained=explained,
        _day_pct=pl.col("pct_drop"),
    )
    # An aggregate's miss is its cells' misses pooled with optimal weights: noise concentrated in a
    # few big, over-dispersed cells weighs less than a drop every cell shares.
    pooled, own = _pooled(every, blocks)
    # Series that never reach the volume gate are not accumulated at all (and have no cusum rows).
    busy = every.filter(pl.col("baseline_orders") >= config.min_baseline_orders)[SID].unique()
    keep = every.get_column(SID).is_in(busy.implode())
    scored = every.filter(keep).with_columns(row_median(comparable.filter(keep))[0].alias("_ob"))
    ids = scored.filter(pl.col("level") != "sku_region").select(SID, *SERIES).unique()
    pooled = pooled.join(ids, on=list(SERIES), nulls_equal=True).select("date", SID, "_pm", "_pw")
    miss = pl.when(pl.col("_ob") > 0).then(pl.col("orders") / pl.col("_ob") - 1.0)
    scored = scored.with_columns(_omiss=miss).join(
        pooled, on=[SID, "date"], how="left", maintain_order="left"
    )
    scored = scored.with_columns(_own=pl.col("_omiss"), _own_e=_total_alone(scored, config))
    scored = _with_spread(scored.with_columns(_omiss=pl.coalesce("_pm", "_omiss")), config, "_pw")
    scored = scored.with_columns(_e=pl.when(pl.col("_ob") > 0).then(pl.col("_omiss") / pl.col("_orel")))
    step = pl.when(pl.col("_explained")).then(0.0).otherwise(-pl.col("_e") - config.cusum_k)
    steps = scored.select(step.cast(pl.Float64)).to_series().to_numpy()
    # SKUs and their cells are far more series than the aggregates: each needs a stricter threshold.
    h = pl.when(pl.col("level").is_in(["sku", "sku_region"])).then(config.cusum_h_items)
    scored = scored.with_columns(_h=h.otherwise(config.cusum_h))
    cap = scored.get_column("_h").to_numpy()
    total, run = _accumulate(steps, scored.get_column(SID).to_numpy(), cap)
    scored = scored.with_columns(_s=pl.Series(total), _run=pl.Series(run).clip(1, MAX_RUN).cast(pl.Int32))
    # Revenue over the run, for the severity: the run's observed and baseline sums.
    # A day not read counts at its baseline.
    scored = scored.with_columns(_kept=pl.coalesce("revenue", "baseline"))
    scored = scored.with_columns(_obs=_run_sums(scored, "_kept"), _base=_run_sums(scored, "baseline"))
    pct = pl.when(pl.col("_base") > 0).then(1.0 - pl.col("_obs") / pl.col("_base"))
    # A Shewhart limit beside the CUSUM (Lucas 1982): a large shift is found the day it happens, on the
    # same pooled, self-scaled miss, instead of waiting for the sum to reach h.
    # The day's orders against the median of its comparable orders must be down too: a SKU's
    # promotion among the comparable days lifts the mean behind the pooled miss, not the median.
    # Orders, not the one-day rule's revenue: a noisy region's 40% drop on a day a few dear items
    # sold was 15% down in revenue, and waited a day for the sum.
    day = (pl.col("_e") <= -config.z_threshold) & (
        pl.min_horizontal(-pl.col("_omiss"), -pl.col("_own")) >= config.cusum_day_pct
    )
    day = day | (
        (pl.col("_own_e") <= -config.z_threshold)
        & (pl.min_horizontal(-pl.col("_own"), "_day_pct") >= config.cusum_day_pct)
    ).fill_null(False)
    flag = (
        ((pl.col("_s") >= pl.col("_h")) & (pl.col("_e") <= -config.cusum_today_z) & (pct >= config.cusum_pct))
        | day
    ) & ~pl.col("_explained")
    status = (
        pl.when(pl.col("revenue").is_null())
        .then(pl.lit("no_data"))
        .when(pl.col("_e").is_null() | (pl.col("comparable") < config.min_weeks))
        .then(pl.lit("short_history"))
        .when(pl.col("baseline_orders") < config.min_baseline_orders)
        .then(pl.lit("low_volume"))
        .when(flag.fill_null(False))
        .then(pl.lit("alert"))
        .otherwise(pl.lit("normal"))
    )
    out = scored.with_columns(
        observed=pl.col("_obs"),
        baseline=pl.col("_base"),
        robust_z=pl.min_horizontal(-pl.col("_s"), "_e"),
        pct_drop=pct,
        window_days=pl.col("_run"),
        status=status,
    )
    fixed = {"mad": pl.lit(None, dtype=pl.Float64), "spread": pl.lit(None, dtype=pl.Float64),
             "metric": pl.lit("orders"), "rule": pl.lit("cusum")}  # fmt: skip
    return out.with_columns(**fixed).select(SID, *OUT_COLUMNS), own


def _run_sums(scored: pl.DataFrame, column: str) -> pl.Series:
    """Per row, ``column`` summed over the run's days (the last ``_run`` days of the series)."""
    group, pos, shape = _grid(scored.get_column(SID).to_numpy())
    per = np.zeros(shape)
    per[group, pos] = scored.get_column(column).fill_null(0.0).to_numpy()
    cum = np.concatenate([np.zeros((shape[0], 1)), np.cumsum(per, axis=1)], axis=1)
    run = scored.get_column("_run").to_numpy()
    return pl.Series(column, cum[group, pos + 1] - cum[group, np.maximum(pos + 1 - run, 0)])

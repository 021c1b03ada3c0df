"""Revenue-drop detectors: pure polars functions from daily series to alerts.

Named rules score every series (total, region, category, sku, sku x region) on every day; the
default runs the first four, and a series-day alerts once (the first rule that fires, in RULES
order), its ``rule`` and ``window_days`` saying which test it was:

- ``weekday_mad`` (one day). Baseline: the median of the series' same weekday over the last
  ``weeks`` weeks, each scaled by how much the rest of the shop changed since (``detect_level``:
  the median over the other categories of their revenue today against that day), so a shop-wide
  swing such as the slide after the holiday peak, a campaign's step-up or growth moves every
  baseline with it while one category's promotion moves none. Spread: 1.4826 x the median
  absolute miss of the baseline over the last 28 days (the MAD of its own forecast errors), floored
  by ``min_rel_spread`` (a flat series has MAD 0) and by Poisson noise (a series of n orders cannot
  be steadier than 1/sqrt(n)). Alert when robust z and percent drop both pass their thresholds and
  the comparable days averaged ``min_baseline_orders`` orders; a day with no orders at all on such a
  series alerts whatever its z when its own history (negative binomial or Poisson, ``zero_day_odds``)
  makes a zero day as unlikely as ``zero_run_p``: an outage, not an over-dispersed cell's quiet day.
- ``zero_run`` (``detect_zero``): runs of zero days unlikely at what the series sells on such days;
  ``window_mad`` (``detect_multiday``): 3- and 7-day windows for slow declines and sustained partial
  drops.
- ``cusum`` (``detect_cusum``): a one-sided CUSUM of the series' standardized daily orders misses,
  for declines and partial drops that build up over days on noisy shops.
- ``seed_wow``: the seed project's rule, kept to compare against: 7-day revenue down more than a
  percent against the prior 7 days, or the day's revenue a robust z below the median/MAD of the
  previous 28 days (any weekday).

Alerts carry episode columns (``episodes``): consecutive alert days of one series are one episode.
In the alerts, ``spread`` is what the robust z was divided by: robust_z = (observed - baseline) / spread.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import os
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import polars as pl
import polars.selectors as cs

from .detect_cusum import add_blocks, score_cusum
from .detect_grid import SERIES, SID, dense_rows, row_series, trailing_median
from .detect_level import (
    LEVEL_DAYS,
    ShopLevels,
    category_orders,
    cell_orders,
    change_column,
    row_median,
    shop_change,
    shop_levels,
    unusual_days,
    with_unusual,
)
from .detect_multiday import score_window_mad
from .detect_zero import (
    busy_dispersion,
    dispersion,
    level_dispersion,
    score_zero_run,
    shop_orders,
    zero_day_odds,
)
from .episodes import assign_episodes
from .metrics import WINDOW, rolling_7d, window_days
from .read_ahead import read_ahead
from .schema import ALERTS, LEVELS, conform, empty

MAX_WEEKS = 8
SEED_DAYS = 28
RESIDUAL_DAYS = 28  # days of past baseline misses that set the spread
# Days before a checked day that the default rule reads: the same-weekday weeks behind each of the
# RESIDUAL_DAYS past baselines, and the LEVEL_DAYS before the oldest of them for the shop's level.
HISTORY_DAYS = 7 * MAX_WEEKS + RESIDUAL_DAYS + LEVEL_DAYS
MAD_SCALE = 1.4826
RULES = ("weekday_mad", "zero_run", "window_mad", "cusum", "seed_wow")  # a series-day alerts once: first wins
DEFAULT_RULES = ("weekday_mad", "zero_run", "window_mad", "cusum")


def _knob(default: object, doc: str) -> Any:
    """A threshold with the sentence the Dagster launchpad shows for it."""
    return field(default=default, metadata={"doc": doc})


@dataclass(frozen=True)
class DetectionConfig:
    """Thresholds of the detectors; the `alerts` asset's run config is generated from these fields."""

    rules: tuple[str, ...] = _knob(DEFAULT_RULES, f"Rules to run, of {list(RULES)}.")
    weeks: int = _knob(8, "Same-weekday days in the baseline (at most 8).")
    min_weeks: int = _knob(4, "Fewer comparable days: short history, no alert.")
    z_threshold: float = _knob(3.5, "Alert when robust z <= -z_threshold ...")
    pct_threshold: float = _knob(0.35, "... and revenue is down this share of the baseline.")
    min_baseline_orders: float = _knob(
        20.0, "Median orders on comparable days below which a series stays quiet."
    )
    min_rel_spread: float = _knob(0.05, "Spread floor, share of the baseline (a flat series has MAD 0).")
    zero_is_outage: bool = _knob(True, "A day with no orders alerts whatever its z (enough volume).")
    level_adjust: str = _knob("shop", "'shop': measure series against the rest of the shop; 'none': raw.")
    windows: tuple[int, ...] = _knob((3, 7), "window_mad: window lengths in days.")
    window_pct_thresholds: tuple[float, ...] = _knob(
        (0.2, 0.15), "window_mad: revenue down this share over each window ..."
    )
    window_z_threshold: float = _knob(4.0, "... and robust z of the window <= -this ...")
    window_today_z: float = _knob(
        1.0, "... and the checked day itself down that share, one-day z <= -this ..."
    )
    window_today_drop: float = _knob(0.1, "... and the window's median day down this share.")
    min_window_orders: float = _knob(5.0, "window_mad: median orders a day below which it stays quiet.")
    min_rel_spread_window: float = _knob(0.03, "window_mad: spread floor, share of the window's baseline.")
    zero_run_p: float = _knob(3e-6, "zero_run: alert when a run of zero days is this unlikely.")
    cusum_k: float = _knob(0.75, "cusum: allowance, in days' spreads, subtracted from each day's shortfall.")
    cusum_h: float = _knob(4.0, "cusum: alert when the accumulated shortfall reaches this many spreads ...")
    cusum_h_items: float = _knob(5.0, "cusum: the same threshold on SKUs and SKU x region cells.")
    cusum_today_z: float = _knob(1.0, "... and the checked day's orders are down this many spreads ...")
    cusum_pct: float = _knob(0.1, "... and the run's revenue is down this share of its baseline.")
    cusum_day_pct: float = _knob(
        0.2, "cusum: one day's pooled orders z_threshold spreads and this share down alert at once."
    )
    episode_gap_days: int = _knob(1, "Quiet days inside one episode; one more and it has recovered.")
    seed_pct_threshold: float = _knob(0.2, "seed_wow: 7-day revenue down this share vs the prior 7 days.")
    seed_z_threshold: float = _knob(3.5, "seed_wow: daily robust z vs the previous 28 days.")
    critical_share: float = _knob(0.05, "Revenue at risk >= this share of the shop's day: critical.")
    warning_share: float = _knob(0.01, "Revenue at risk >= this share, or a deep drop: warning.")
    warning_drop: float = _knob(0.8, "A drop at least this deep is at least a warning.")

    def __post_init__(self) -> None:
        unknown = [r for r in self.rules if r not in RULES]
        if unknown:
            raise ValueError(f"unknown detection rule(s) {unknown}: expected some of {list(RULES)}")
        if not 1 <= self.min_weeks <= self.weeks <= MAX_WEEKS:
            raise ValueError(
                f"need 1 <= min_weeks <= weeks <= {MAX_WEEKS}, got {self.min_weeks}, {self.weeks}"
            )
        if len(self.windows) != len(self.window_pct_thresholds) or any(w < 2 for w in self.windows):
            raise ValueError("need one window_pct_threshold per window, and windows of 2 days or more")
        if self.level_adjust not in ("shop", "none"):
            raise ValueError(f"level_adjust={self.level_adjust!r}: expected shop or none")


@dataclass(frozen=True)
class Detection:
    """Alerts found, the scored series-days kept (every one by default) with the reason each could or
    could not alert, and the count of every scored series-day per reason."""

    alerts: pl.DataFrame
    scored: pl.DataFrame
    counts: dict[str, int] = field(default_factory=dict)

    def reasons(self) -> dict[str, int]:
        """Series-days per status (alert, normal, short_history, low_volume, no_data): alert if any rule
        alerts, otherwise the status of the first rule run (every series-day, whatever was kept)."""
        return dict(self.counts)


def _status_counts(scored: pl.DataFrame) -> Counter[str]:
    """``Detection.reasons`` of one shard's rows (rule after rule, so the first is the first rule's).

    Each series-day by one integer key, its first row's status, then "alert" for the few series-days
    any rule alerts on: a group-by over every rule's rows took 5-8% of detection's time."""
    days = pl.col("date").cast(pl.Int64)  # since 1970: below 2**20 until the year 4840
    key = (pl.col(SID).cast(pl.Int64) * 2**20 + days).alias("_key")
    keyed = scored.select(key, "status")
    firsts = keyed.filter(pl.col("_key").is_first_distinct())
    alerted = keyed.filter(pl.col("status") == "alert").get_column("_key").unique()
    status = pl.when(pl.col("_key").is_in(alerted.implode())).then(pl.lit("alert")).otherwise("status")
    counts = firsts.select(status.alias("status")).get_column("status").value_counts()
    return Counter(dict(zip(counts["status"].to_list(), counts["count"].to_list(), strict=True)))


def _lag(column: str, days: int) -> pl.Expr:
    """The value ``days`` rows earlier in the same series (rows are one per calendar day, by series)."""
    return pl.when(pl.col("_pos") >= days).then(pl.col(column).shift(days))


def _lags(column: str, step: int, count: int) -> pl.Expr:
    """The ``count`` earlier values ``step`` days apart, as a list without the missing ones."""
    return pl.concat_list([_lag(column, step * k) for k in range(1, count + 1)]).list.drop_nulls()


def _mad(values: pl.Expr) -> pl.Expr:
    return values.list.eval((pl.element() - pl.element().median()).abs().median()).list.first()


def _status(flag: pl.Expr, comparable: pl.Expr, min_comparable: int, config: DetectionConfig) -> pl.Expr:
    return (
        pl.when(pl.col("revenue").is_null())
        .then(pl.lit("no_data"))
        .when(comparable.fill_null(0) < min_comparable)
        .then(pl.lit("short_history"))
        .when(pl.col("baseline_orders") < config.min_baseline_orders)
        .then(pl.lit("low_volume"))
        .when(flag)
        .then(pl.lit("alert"))
        .otherwise(pl.lit("normal"))
    )


@dataclass(frozen=True)
class ShopContext:
    """What scoring one shard of a shop needs from the whole shop (``detect_drops`` in shards)."""

    levels: ShopLevels  # the rest of the shop's change (detect_level)
    dispersion: pl.DataFrame  # (level, date) -> _phi_level (detect_zero.level_dispersion)
    orders: pl.DataFrame  # (date, orders) of the shop's total (detect_zero.shop_orders)
    blocks: pl.DataFrame | None = None  # every cell's pooled sums, for the aggregates' shard (cusum)


def score_weekday_mad(
    dense: pl.DataFrame, config: DetectionConfig, shop: ShopContext | None = None
) -> pl.DataFrame:
    """Same-weekday median baseline, level-adjusted, with a robust z and percent drop per series-day.

    ``shop``: the whole shop's tables when ``dense`` is one shard of it (default: from ``dense``)."""
    # The same weekday of each of the last `weeks` weeks, scaled by the shop's change since.
    leveled = shop_change(dense, config.level_adjust, config.weeks, shop.levels if shop else None)
    scaled = leveled.select(
        (_lag("revenue", 7 * k) * pl.col(change_column(k))).alias(str(k)) for k in range(1, config.weeks + 1)
    )
    baseline, comparable = row_median(scaled)
    # The median orders of the same weekdays, unscaled: the volume gate's (a rolling median over each
    # series' weekdays, from the same lag table: a group-by of 7 groups a series took 4x as long).
    same_days = leveled.select(_lag("orders", 7 * k).alias(str(k)) for k in range(1, config.weeks + 1))
    baseline_orders = row_median(same_days)[0].alias("baseline_orders")
    # The series' own odds of a zero day and its over-dispersion (detect_zero.zero_day_odds).
    leveled = zero_day_odds(leveled, *((shop.dispersion, shop.orders) if shop else ()))
    scored = leveled.with_columns(
        baseline=baseline, comparable=comparable, baseline_orders=baseline_orders
    ).with_columns(
        _miss=pl.when(pl.col("baseline") > 0).then((pl.col("revenue") / pl.col("baseline") - 1.0).abs())
    )
    scored = scored.with_columns(
        relative_mad=trailing_median(scored, pl.col("_miss"), RESIDUAL_DAYS, 7, lag=1)
    ).with_columns(mad=pl.col("relative_mad") * pl.col("baseline"))
    # Count noise of the day and of the baseline: a median of n comparable days misses by
    # sqrt(pi / 2n) of one day's noise (its efficiency), and a day of n orders varies by 1/n + phi
    # (negative binomial, phi a SKU's or a cell's own over-dispersion beyond the shop's pattern; 0 is
    # Poisson), so the floor is sqrt((1 + pi / 2n) (1 / orders + phi)). A heavy-tailed SKU's 50% day
    # is its noise, not a drop, however steady its last 28 days' misses looked. An aggregate sums
    # many cells: its own misses measure its noise, and phi would add the lag of any weekday baseline
    # behind a season's slope.
    median_error = 1.0 + math.pi / (2.0 * pl.col("comparable").clip(lower_bound=1))
    phi = pl.when(pl.col("level").is_in(ITEM_LEVELS)).then(pl.col("_phi_noise")).fill_null(0.0)
    count_noise = 1.0 / pl.col("baseline_orders").clip(lower_bound=1.0) + phi
    poisson = pl.col("baseline") * (median_error * count_noise).sqrt()
    spread = pl.max_horizontal(MAD_SCALE * pl.col("mad"), config.min_rel_spread * pl.col("baseline"), poisson)
    scored = scored.with_columns(spread=spread).with_columns(
        robust_z=pl.when(pl.col("spread") > 0).then(
            (pl.col("revenue") - pl.col("baseline")) / pl.col("spread")
        ),
        pct_drop=pl.when(pl.col("baseline") > 0).then(1.0 - pl.col("revenue") / pl.col("baseline")),
        metric=pl.lit("revenue"),
        observed=pl.col("revenue"),
    )
    # A day with no orders at all is an outage whatever the spread when the series' own history makes
    # it as unlikely as a zero run must be (Poisson: e^-20 at 20 orders a day; an over-dispersed cell
    # of 20 orders a day sells nothing one day in a few hundred, and that is no outage).
    unlikely = pl.coalesce("_log_p0", -pl.col("baseline_orders")) <= math.log(config.zero_run_p)
    outage = (pl.col("orders") == 0) & pl.lit(config.zero_is_outage) & unlikely
    flag = ((pl.col("robust_z") <= -config.z_threshold) | outage) & (
        pl.col("pct_drop") >= config.pct_threshold
    )
    return scored.with_columns(
        status=_status(flag, pl.col("comparable"), config.min_weeks, config),
        rule=pl.lit("weekday_mad"),
        window_days=pl.lit(1, dtype=pl.Int32),
    )


TRAILING_CHUNK = 200_000  # rows of the (rows x days) lag table built at once


def _trailing_median_mad(dense: pl.DataFrame, column: str, days: int) -> tuple[pl.Series, ...]:
    """Per row, the median of the ``days`` values before it in its series (those known), their median
    absolute deviation from it, and how many there were: the seed rule's history, from a numpy table
    of lags (a list column of 28 values a row took most of the seed rule's time)."""
    values = dense.get_column(column).cast(pl.Float64).fill_null(np.nan).to_numpy()
    pos = dense.get_column("_pos").to_numpy()
    padded = np.concatenate([np.full(days, np.nan), values])
    median, mad, count = (np.full(len(values), np.nan) for _ in range(3))
    lags = np.arange(1, days + 1)
    for start in range(0, len(values), TRAILING_CHUNK):
        rows = np.arange(start, min(start + TRAILING_CHUNK, len(values)))
        table = padded[rows[:, None] + days - lags[None, :]]
        table[lags[None, :] > pos[rows][:, None]] = np.nan  # before the series' first day
        known = (~np.isnan(table)).sum(axis=1)
        count[rows] = known
        some = known > 0
        with np.errstate(all="ignore"):
            mid = np.nanmedian(table[some], axis=1)
            median[rows[some]] = mid
            mad[rows[some]] = np.nanmedian(np.abs(table[some] - mid[:, None]), axis=1)
    return (
        pl.Series(f"_{column}_median", median, nan_to_null=True),
        pl.Series(f"_{column}_mad", mad, nan_to_null=True),
        pl.Series("comparable", count.astype(np.int64), dtype=pl.UInt32),
    )


def score_seed_wow(dense: pl.DataFrame, config: DetectionConfig) -> pl.DataFrame:
    """The seed's rule: week-over-week 7-day revenue, or median/MAD of the previous 28 days."""
    revenue_median, mad, comparable = _trailing_median_mad(dense, "revenue", SEED_DAYS)
    orders_median = _trailing_median_mad(dense, "orders", SEED_DAYS)[0]
    scored = dense.with_columns(
        revenue_7d=pl.when(window_days([SID]) == WINDOW).then(rolling_7d("revenue", [SID])),
        baseline_orders=orders_median,
        daily_median=revenue_median,
        mad=mad,
        comparable=comparable,
    ).with_columns(revenue_7d_prev=pl.col("revenue_7d").shift(7).over(SID))
    spread = pl.max_horizontal(MAD_SCALE * pl.col("mad"), config.min_rel_spread * pl.col("daily_median"))
    z = pl.when(spread > 0).then((pl.col("revenue") - pl.col("daily_median")) / spread)
    wow = pl.when(pl.col("revenue_7d_prev") > 0).then(1.0 - pl.col("revenue_7d") / pl.col("revenue_7d_prev"))
    scored = scored.with_columns(robust_z=z, wow_drop=wow)
    daily_flag = pl.col("robust_z") <= -config.seed_z_threshold
    weekly = pl.col("wow_drop") >= config.seed_pct_threshold
    scored = scored.with_columns(
        metric=pl.when(daily_flag).then(pl.lit("revenue")).otherwise(pl.lit("revenue_7d")),
        observed=pl.when(daily_flag | ~weekly).then(pl.col("revenue")).otherwise(pl.col("revenue_7d")),
        baseline=pl.when(daily_flag | ~weekly)
        .then(pl.col("daily_median"))
        .otherwise(pl.col("revenue_7d_prev")),
        spread=spread,
    ).with_columns(
        pct_drop=pl.when(pl.col("baseline") > 0).then(1.0 - pl.col("observed") / pl.col("baseline")),
    )
    return scored.with_columns(
        status=_status(daily_flag | weekly.fill_null(False), pl.col("comparable"), SEED_DAYS // 2, config),
        rule=pl.lit("seed_wow"),
        window_days=pl.when(pl.col("metric") == "revenue_7d").then(7).otherwise(1).cast(pl.Int32),
    )


def alert_id(
    day: dt.date, level: str, sku: str | None, category: str | None, region: str | None, rule: str
) -> str:
    """A stable id for one alert: the same day, series and rule always give the same id."""
    key = "|".join([day.isoformat(), level, sku or "", category or "", region or "", rule])
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def _to_alerts(scored: pl.DataFrame, config: DetectionConfig) -> pl.DataFrame:
    shop = scored.filter(pl.col("level") == "total").select("date", "rule", shop_baseline="baseline")
    family = pl.when(pl.col("rule") == "seed_wow").then(pl.lit("seed")).otherwise(pl.lit("default"))
    found = (
        scored.filter(pl.col("status") == "alert")
        .with_columns(_family=family, _rank=pl.col("rule").replace_strict(RULES, list(range(len(RULES)))))
        .sort("_rank")
        .unique(["date", *SERIES, "_family"], keep="first", maintain_order=True)
    )
    if found.is_empty():
        return empty(ALERTS)
    found = found.join(shop, on=["date", "rule"], how="left").with_columns(
        revenue_at_risk=(pl.col("baseline") - pl.col("observed")).clip(lower_bound=0.0),
    )
    share = pl.col("revenue_at_risk") / pl.coalesce("shop_baseline", "baseline")
    found = found.with_columns(
        severity=pl.when(share >= config.critical_share)
        .then(pl.lit("critical"))
        .when((share >= config.warning_share) | (pl.col("pct_drop") >= config.warning_drop))
        .then(pl.lit("warning"))
        .otherwise(pl.lit("info")),
        alert_id=pl.Series(
            [alert_id(*row) for row in found.select("date", *SERIES, "rule").iter_rows()], dtype=pl.String
        ),
    )
    rounded = found.with_columns(
        pl.col("observed", "baseline", "spread", "revenue_at_risk").round(2),
        pl.col("robust_z", "pct_drop").round(4),
    )
    # episodes are assigned below; incidents later, by core.incidents over the whole day
    episodes = {
        "episode_id": None,
        "first_seen": None,
        "episode_status": None,
        "incident_id": None,
        "is_root": None,
        "expected": None,  # labelled by the alerts step (core.events, core.feedback)
        "threshold_note": None,
    }
    return assign_episodes(
        conform(rounded.with_columns(**{k: pl.lit(v) for k, v in episodes.items()}), ALERTS),
        gap_days=config.episode_gap_days,
    )


SCORED = {  # what every rule reports per series-day (``mad``: unscaled, before floors)
    "date": pl.Date,
    **dict.fromkeys((*SERIES, "rule", "status", "metric"), pl.String),
    **dict.fromkeys(
        ("observed", "baseline", "mad", "spread", "robust_z", "pct_drop", "baseline_orders"), pl.Float64
    ),
    "comparable": pl.Int64,
    "window_days": pl.Int32,
}
ON_WEEKDAY_BASE = ("zero_run", "window_mad", "cusum")  # rules scored on the one-day rule's baselines


SHARD_ROWS = 250_000  # series-days scored at once: bounds detection's memory on a big catalog
# Shards scored at the same time, each in a thread (numpy and Polars release the GIL): one at a time
# kept 1.2 of 2 cores busy, two take 0.7 of the time. The second thread's working memory and
# allocator arenas cost a quarter of a GB at 5,000 x 20 whatever the shard size, so not every core.
SHARD_WORKERS = min(2, os.cpu_count() or 1)
# daily_metrics rows a range run's detection window may hold (the chunk's days and their HISTORY_DAYS):
# 42 days of a 5,000 SKU x 20 region shop and their history (133 days of 105,000 rows). Its alerts
# step over 86 days with history (benchmarks.alerts_step): 74 s at 2.3 GB; 31-day chunks, 96 s at 2.0.
WINDOW_ROWS = 14_000_000
# At most HISTORY_DAYS a chunk: a chunk then re-scores no more days than it checks, and a year's run
# at 500 x 6 peaks at about 1.5x a nightly run (a year in one call: 1.8x, for 5 s less detection).
MIN_CHUNK_DAYS, MAX_CHUNK_DAYS = 31, HISTORY_DAYS


def chunk_days(rows_per_day: int, history_days: int = HISTORY_DAYS) -> int:
    """Days a range run checks in one ``detect_drops`` call, for a shop of ``rows_per_day`` daily_metrics
    rows whose window holds ``history_days`` stored days before the first checked day. Every call
    scores its history again: a year in 31-day chunks scores 4 times the days it checks, in 91-day
    chunks twice. So as many days, up to 91, as keep the window under WINDOW_ROWS: a quarter on a
    catalog of hundreds of SKUs, six weeks at 5,000 x 20, a month at 20,000 x 20, and a quarter on a
    big one too where history starts (a backfill's first chunk reads no days before its own). The
    alerts are the same but for a borderline day whose spread reads lookbacks chained past
    HISTORY_DAYS (the rest of the shop's usual movement), which a day late in a longer chunk holds
    more of, as it already did in a month; where history starts, every chunk length reads the same
    days and finds the same alerts."""
    fits = WINDOW_ROWS // max(rows_per_day, 1) - history_days
    return max(MIN_CHUNK_DAYS, min(MAX_CHUNK_DAYS, fits))


ITEM_LEVELS = ("sku", "sku_region")  # the many series, sharded by SKU; the aggregates score last


def detect_drops(
    frame: pl.DataFrame,
    days: Sequence[dt.date],
    available: Sequence[dt.date] | None = None,
    config: DetectionConfig | None = None,
    keep: pl.Expr | None = None,
    columns: Sequence[str] = tuple(SCORED),
    shard_rows: int = SHARD_ROWS,
    compact: bool = False,
) -> Detection:
    """Alerts on ``days`` from daily revenue and orders per series (history included in ``frame``).

    ``available`` are the days whose data was read (default: the dates in ``frame``); a calendar day
    between them that is not available counts as unknown, not as zero revenue. ``keep`` selects the
    scored rows returned and ``columns`` their columns (default: every one; a big shop's are many,
    twelve million rows of SKU x region leaves in a month at 20,000 x 20). A shop of more than
    ``shard_rows`` series-days is scored a few SKUs at a time (``_score_in_shards``, the same result).
    ``compact``: the scored rows' text columns come back Categorical, kept so as each shard is scored
    (a quarter of a big shop's SKU x region leaves: 9 M rows in 40 bytes each, not 100).
    """
    config = config or DetectionConfig()
    available = sorted(set(frame["date"].to_list())) if available is None else available
    checked = pl.col("level").is_in(LEVELS)  # daily_metrics' dashboard-only roll-up is not checked
    if not frame.is_empty() and not frame.select(checked.all()).item():
        frame = frame.filter(checked)
    if frame.is_empty() or not available:
        return Detection(alerts=empty(ALERTS), scored=pl.DataFrame(schema=SCORED))
    wanted = sorted(set(days))
    ids, sid = row_series(frame)
    calendar_days = (max(available) - min(available)).days + 1
    items = ids.filter(pl.col("level").is_in(ITEM_LEVELS))
    if ids.height * calendar_days <= shard_rows or items.is_empty():
        shards = [_score(dense_rows(frame.with_columns(sid), available, ids), config, wanted)[0]]
    else:
        shards = _score_in_shards(frame, available, ids, sid, config, wanted, shard_rows // calendar_days)
    counts: Counter[str] = Counter()
    found, shop, kept = [], [], []
    ordered = [SID, "_rank", *dict.fromkeys(("date", *columns))]  # what _in_order sorts on, then columns
    for scored in shards:
        counts.update(_status_counts(scored))
        found.append(_own(scored.filter(pl.col("status") == "alert")))
        shop.append(_own(scored.filter(pl.col("level") == "total", pl.col("status") != "alert")))
        rows = (scored if keep is None else scored.filter(keep)).select(ordered)
        kept.append(rows.with_columns(cs.string().cast(pl.Categorical)) if compact else rows)
    alerts = _to_alerts(pl.concat([_in_order(pl.concat(found)), *shop]).select(list(SCORED)), config)
    scored = _in_order(pl.concat(kept)).select(*columns)
    return Detection(alerts=alerts, scored=scored, counts=dict(sorted(counts.items())))


def _own(rows: pl.DataFrame) -> pl.DataFrame:
    """``rows`` (a few of a shard's) in text of their own: a filter's strings keep the whole shard's
    string buffers alive, and every shard's few alerts held 10 MB each."""
    return rows.with_columns(cs.string().cast(pl.Categorical).cast(pl.String))


def _in_order(scored: pl.DataFrame) -> pl.DataFrame:
    """The rows in one call's order: rule after rule, series after series, day after day (shards
    that each hold one rule's rows of later series, the leaves, are in order already: no sort)."""
    days = pl.col("date").cast(pl.Int64)  # since 1970: below 2**20 until the year 4840
    key = pl.col("_rank").cast(pl.Int64) * 2**52 + pl.col(SID).cast(pl.Int64) * 2**20 + days
    at = scored.select(key).to_series()
    return scored if at.is_sorted() else scored[at.arg_sort()]


def _score(
    dense: pl.DataFrame, config: DetectionConfig, wanted: list[dt.date], shop: ShopContext | None = None
) -> tuple[pl.DataFrame, pl.DataFrame | None]:
    """Every rule's rows on the ``wanted`` days (series order, rule after rule; with the series id)
    and the cusum's cell sums (None when it does not run)."""
    rules = set(config.rules)
    base = score_weekday_mad(dense, config, shop) if rules & {"weekday_mad", *ON_WEEKDAY_BASE} else None
    zero = score_zero_run(base, config) if rules & set(ON_WEEKDAY_BASE) else None
    parts, blocks = [], None
    for rule in sorted(config.rules, key=RULES.index):
        if rule == "seed_wow":
            frame = score_seed_wow(dense, config)
        elif rule == "cusum":
            frame, blocks = score_cusum(base, config, zero, shop.blocks if shop else None)
        else:
            frame = {"weekday_mad": base, "zero_run": zero}.get(rule)
            frame = score_window_mad(base, config, zero) if frame is None else frame
        kept = frame.select(SID, *SCORED).filter(pl.col("date").is_in(wanted))  # the columns, then the rows
        parts.append(kept.cast(SCORED).with_columns(_rank=pl.lit(RULES.index(rule), dtype=pl.Int8)))
    empty_scored = pl.DataFrame(schema={SID: pl.UInt32, **SCORED, "_rank": pl.Int8})
    return (pl.concat(parts) if parts else empty_scored), blocks


def _score_in_shards(
    frame: pl.DataFrame,
    available: Sequence[dt.date],
    ids: pl.DataFrame,
    sid: pl.Series,
    config: DetectionConfig,
    wanted: list[dt.date],
    shard_series: int,
) -> Iterator[pl.DataFrame]:
    """``_score`` over the shop a few SKUs at a time, their (sku, region) cells with them, then the
    total, regions and categories: the same rows as one call, in the same order.

    What crosses series is summed or gathered from every shard first (a first pass over them): the
    cells' orders per category and region (the rest of the shop's change), each level's
    over-dispersion per day (a median, so every busy series' value), and, for the aggregates' pooled
    cusum, the cells' sums that scoring each shard yields.
    """
    # SKUs in order, as many to a shard as make shard_series series (ids is sorted by level, then sku).
    item = ids.get_column("level").is_in(ITEM_LEVELS)
    per_sku = ids.filter(item).group_by("sku").len().sort("sku")
    shards = per_sku.select(
        "sku", _shard=((pl.col("len").cum_sum() - 1) // max(shard_series, 1)).cast(pl.Int32)
    )
    of_id = ids.select(pl.when(item).then(pl.col("sku"))).to_series()
    of_id = of_id.replace_strict(
        shards["sku"], shards["_shard"], default=-1, return_dtype=pl.Int32
    ).fill_null(-1)
    row_shard = of_id.gather(sid)
    numbers = frame.select("date", "revenue", "orders")
    n_shards = int(shards["_shard"].max()) + 1

    def dense(i: int, keys: pl.DataFrame = ids) -> pl.DataFrame:
        mask = row_shard == i
        return dense_rows(numbers.filter(mask).with_columns(sid.filter(mask)), available, keys)

    top = dense(-1)
    orders = shop_orders(top)
    # A category's unusual days from its own rows: the over-dispersion leaves them out as one call does.
    unusual = unusual_days(category_orders(top)) if config.level_adjust != "none" else None

    def placed(part: pl.DataFrame) -> pl.DataFrame:
        return part if unusual is None else with_unusual(part, unusual)

    without_sku = ids.drop("sku")  # what the first pass reads of the keys

    def first_pass(i: int) -> tuple[pl.DataFrame, pl.DataFrame]:
        part = placed(dense(i, without_sku))
        return cell_orders(part), busy_dispersion(dispersion(part, orders, robust=False))

    cells, busy = [], [busy_dispersion(dispersion(placed(top), orders, robust=False))]
    for _, (cell, busy_days) in read_ahead(range(n_shards), first_pass, workers=SHARD_WORKERS):
        cells.append(cell)
        busy.append(busy_days)
    total = top.filter(pl.col("level") == "total").select("date", "orders")
    shop = ShopContext(
        levels=shop_levels(pl.concat(cells), total, config.weeks, unusual),
        dispersion=level_dispersion(pl.concat(busy)),
        orders=orders,
    )
    del cells, busy
    blocks = []
    scoring = read_ahead(
        range(n_shards), lambda i: _score(dense(i), config, wanted, shop), workers=SHARD_WORKERS
    )
    for _, (scored, sums) in scoring:
        if sums is not None:
            blocks.append(sums)
        yield scored
    shop = replace(shop, blocks=add_blocks(blocks) if blocks else None)
    yield _score(top, config, wanted, shop)[0]

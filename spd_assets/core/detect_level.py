"""How much the rest of the shop changed since each comparable day, so that a shop-wide swing is no drop.

A series' same weekday k weeks ago is scaled by the change of the rest of the shop between that day
and today, ``_change_k``: a trimmed, weighted mean over the *other* categories of their orders today
against their orders k weeks ago (``_robust_changes``), computed on the *other* regions when the
series has a region. Orders, not
revenue: on a small shop a category's revenue is as noisy as its few dearest SKUs, and that noise
entered every baseline (a region of 160 orders a day had a spread of 15%, its Poisson noise 8%); a
change in the shop's average order value is left to the spread floor. A seasonal rise
or slide, a campaign's step-up or a year of growth moves every scaled day with it; a one-day
promotion of one category, a drop of the series' own category or of its own region (however big its
share) leave it alone. The total is scaled by its own trailing median: the median of its orders on
its previous LEVEL_DAYS days today against the same k weeks ago (orders too: a 400-orders-a-day shop's
revenue varies 25% a day with the few dear items sold, and that ratio doubled its orders' spread).

Each comparable day is scaled to today directly (not through a level relative to a moving "usual",
which lags a lasting change twice and, after a step-up, read weeks of ordinary days as 30% misses,
inflating every spread).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import polars as pl

LEVEL_DAYS = 7
SCALE_DAYS = 28  # days of a category's past strays from the median category that weigh its change
MAD_SCALE = 1.4826
TRIM = 3.0  # a category this many of its usual strays from the median is left out that day
MIN_SCALE = 0.01  # no category's change is trusted to better than 1% (a flat history has MAD 0)
ALL = "\x00all"  # the region key of "every region" in the level table
UNUSUAL_SPREADS = 4.0  # a category this many of its usual strays off the median category: an unusual day
UNUSUAL = "_far"  # the per-row column: its category's day was unusual


def change_column(k: int) -> str:
    """The column holding the shop's change since the same weekday ``k`` weeks before."""
    return f"_change_{k}"


def cell_orders(dense: pl.DataFrame) -> pl.DataFrame:
    """(date, category, region) -> the (sku, region) cells' orders and whether the day was read.

    Summable: a shop scored in shards adds up its shards' tables (``rest_of_category`` re-groups).
    """
    return (
        dense.filter(pl.col("level") == "sku_region")
        .group_by("date", "category", "region")
        .agg(pl.col("orders").sum(), _read=pl.col("orders").is_not_null().any())
    )


def _rest_of_category(cells: pl.DataFrame) -> pl.DataFrame:
    """(date, category, region) -> the category's orders outside that region (and in all, ALL)."""
    cells = cells.group_by("date", "category", "region").agg(pl.col("orders").sum(), pl.col("_read").any())
    whole = cells.group_by("date", "category").agg(_whole=pl.col("orders").sum(), _read=pl.col("_read").any())
    outside = cells.join(whole.drop("_read"), on=["date", "category"]).select(
        "date", "category", "region", rest=pl.when("_read").then(pl.col("_whole") - pl.col("orders"))
    )
    every = whole.select("date", "category", region=pl.lit(ALL), rest=pl.when("_read").then("_whole"))
    return pl.concat([outside, every])


def _category_changes(cells: pl.DataFrame, weeks: int) -> pl.DataFrame:
    """(date, category, region) -> rest today over rest on the same weekday k weeks before, k=1..weeks."""
    rest = _rest_of_category(cells)
    table = rest
    for k in range(1, weeks + 1):
        before = rest.select(
            pl.col("date") + pl.duration(days=7 * k), "category", "region", _before=pl.col("rest")
        )
        table = (
            table.join(before, on=["date", "category", "region"], how="left")
            .with_columns(
                pl.when(pl.col("_before") > 0)
                .then(pl.col("rest") / pl.col("_before"))
                .alias(change_column(k))
            )
            .drop("_before")
        )
    return table


@dataclass(frozen=True)
class ShopLevels:
    """The rest of the shop's change per (date, region or ALL, own category), and the total's own."""

    levels: pl.DataFrame  # date, _region, _own, _change_1.._change_k
    total: pl.DataFrame  # date, _total_change_1..: the total's trailing median against k weeks before
    unusual: pl.DataFrame | None = None  # date, category, _far (unusual_days)


def _category_scales(long: pl.DataFrame) -> pl.DataFrame:
    """(date, category, region) -> how far that category's week-on-week log change usually strays from
    the median category's: 1.4826 x the median absolute gap of the SCALE_DAYS before (the day itself
    left out). A category of a few orders, or of a few over-dispersed SKUs, strays far; its change
    weighs less. Null until SCALE_DAYS // 4 days are known."""
    one = long.filter(pl.col("_k") == 1)
    gap = (pl.col("_x") - pl.col("_x").median().over("date", "region")).abs()
    one = one.with_columns(_gap=gap).sort("category", "region", "date")
    history = pl.col("_gap").shift(1).rolling_median(SCALE_DAYS, min_samples=SCALE_DAYS // 4)
    return one.select("date", "category", "region", _s=(MAD_SCALE * history).over("category", "region"))


def _robust_changes(changes: pl.DataFrame, weeks: int, shrink: bool = True) -> pl.DataFrame:
    """(date, region, own category or null) -> the rest of the shop's change since each comparable day.

    Per (date, region, k): each category's log change, weighted by 1 / its usual stray squared
    (``_category_scales``), a category more than TRIM of its own strays from the median of all left
    out (a promotion today or on the comparable day), then the weighted mean of the others: own
    category left out. A median of a few categories is as noisy as its middle one, and loses a third
    of the information a weighted mean keeps; the trim keeps its robustness to one category's day.
    Then drawn toward its trailing level by how much of its movement is sampling noise (``_shrunk``;
    ``shrink=False``: the day's own estimate).
    """
    columns = [change_column(k) for k in range(1, weeks + 1)]
    long = changes.unpivot(columns, index=["date", "category", "region"], variable_name="_k").select(
        "date", "category", "region",
        _k=pl.col("_k").str.strip_prefix(change_column(0)[:-1]).cast(pl.Int32),
        _x=pl.when(pl.col("value") > 0).then(pl.col("value").log()),
    )  # fmt: skip
    long = long.join(_category_scales(long), on=["date", "category", "region"], how="left")
    group = ["date", "region", "_k"]
    # The median of all and the spread around it, each one window pass (nested in the expressions
    # below, they were evaluated again in each: 0.7 of a demo year's 1.2 s here).
    long = long.with_columns(_gap=(pl.col("_x") - pl.col("_x").median().over(group)).abs())
    spread = (MAD_SCALE * pl.col("_gap").median().over(group)).clip(lower_bound=MIN_SCALE)
    long = long.with_columns(_spread=spread)
    s = pl.coalesce("_s", "_spread").clip(lower_bound=MIN_SCALE)
    gap = pl.col("_gap")
    kept = pl.col("_x").is_not_null() & (gap <= TRIM * s)
    weight = pl.when(pl.col("_x").is_not_null()).then(1.0 / s**2).otherwise(0.0)
    # When every other category is trimmed (a promotion among two others, both far from the own
    # category), each still weighs less the farther it strays: the promotion barely counts. (In a
    # shop of three categories the middle one's gap to the median is zero by construction: its usual
    # stray read 0.4% where the others' read 5-10%, and with 1 / s^2 alone its promotion outweighed
    # the other category and became the rest of the shop's change.)
    soft = weight / (1.0 + (gap / (TRIM * s)).fill_null(0.0) ** 2)
    long = long.with_columns(_w=pl.when(kept).then(weight).otherwise(0.0), _v=soft).with_columns(
        _wx=pl.col("_w") * pl.col("_x").fill_null(0.0), _vx=pl.col("_v") * pl.col("_x").fill_null(0.0)
    )
    sums = long.group_by(group).agg(pl.col("_w", "_wx", "_v", "_vx").sum().name.prefix("_s"))
    categories = changes["category"].unique().drop_nulls().sort()
    owns = pl.DataFrame({"_own": [None, *categories.to_list()]}, schema={"_own": pl.String})
    table = sums.join(owns, how="cross").join(
        long.select("date", "region", "_k", "_w", "_wx", "_v", "_vx", _own="category"),
        on=[*group, "_own"], how="left",
    )  # fmt: skip

    def rest(column: str) -> pl.Expr:  # the sum over the other categories (own left out)
        return pl.col(f"_s{column}") - pl.col(column).fill_null(0.0)

    # With two or three categories the median of all can sit between them and trim every other one:
    # then the others, each weighed down by how far it strays. A shop of one category has no other:
    # it is measured against itself (the total still alerts).
    mean = pl.when(rest("_w") > 1e-12).then(rest("_wx") / rest("_w"))
    mean = mean.when(rest("_v") > 1e-12).then(rest("_vx") / rest("_v"))
    mean = mean.when(pl.col("_s_w") > 1e-12).then(pl.col("_s_wx") / pl.col("_s_w"))
    mean = mean.when(pl.col("_s_v") > 1e-12).then(pl.col("_s_vx") / pl.col("_s_v"))
    # The sampling variance of that weighted mean: 1 / its weights (each 1 / a category's own variance).
    noise = pl.when(rest("_w") > 1e-12).then(1.0 / rest("_w"))
    table = table.select("date", "region", "_own", "_k", _c=mean.exp(), _nv=noise)
    if shrink:
        table = _shrunk(table)
    wide = table.pivot(on="_k", index=["date", "region", "_own"], values="_c")
    wide = wide.rename({str(k): change_column(k) for k in range(1, weeks + 1) if str(k) in wide.columns})
    missing = [pl.lit(None, dtype=pl.Float64).alias(c) for c in columns if c not in wide.columns]
    return wide.with_columns(missing).select("date", *columns, _region="region", _own="_own")


SHRINK_DAYS = 28  # days of a change's past departures from its trailing level that say how it moves


def _shrunk(table: pl.DataFrame) -> pl.DataFrame:
    """Each day's change y drawn toward its trailing level m (the median of its LEVEL_DAYS before):
    m + w (y - m), w = 1 - (y's sampling variance) / (how far y usually departs from m). The
    posterior mean of the true change when the shop's real day-to-day swings (shocks, a season's turn,
    Black Friday) have the variance y - m shows beyond its sampling noise.

    Why: the rest of a small shop is a few hundred orders, so the day's change carries their Poisson
    noise into every baseline it scales (a region of 225 orders on a 500-order shop: 6% of the 12% its
    cusum spread was). A big or shock-prone shop keeps w near 1 (the day's own change, as before); a
    small, steady one leans on the trailing level. A change of the rest of the shop that no past day
    showed (a site-wide outage) is mostly left out of a small shop's baselines: its regions and
    categories alert with the total, in one incident."""
    keys = ["region", "_own", "_k"]
    table = table.sort(*keys, "date", nulls_last=False)
    y = pl.col("_c").log()
    m = y.shift(1).rolling_median(LEVEL_DAYS, min_samples=LEVEL_DAYS // 2 + 1)
    table = table.with_columns(_y=y, _m=m.over(keys)).with_columns(_d=pl.col("_y") - pl.col("_m"))
    total = (MAD_SCALE * pl.col("_d").abs().shift(1).rolling_median(SHRINK_DAYS, min_samples=7)) ** 2
    table = table.with_columns(_vt=total.over(keys))
    w = (1.0 - pl.col("_nv") / pl.col("_vt")).clip(0.0, 1.0)
    shrunk = (
        pl.when(pl.col("_m").is_not_null() & w.is_not_null())
        .then((pl.col("_m") + w * pl.col("_d")).exp())
        .otherwise(pl.col("_c"))
    )
    return table.with_columns(_c=shrunk).select("date", "region", "_own", "_k", "_c")


def shop_levels(
    cells: pl.DataFrame, total: pl.DataFrame, weeks: int, unusual: pl.DataFrame | None = None
) -> ShopLevels:
    """From ``cell_orders`` of every cell and the total's dense rows (date, orders): the tables
    ``shop_change`` joins, for every own category (null: a series with none) and region.
    ``unusual``: ``unusual_days`` when already found (from ``category_orders``: the same table)."""
    columns = [change_column(k) for k in range(1, weeks + 1)]
    levels = _robust_changes(_category_changes(cells, weeks), weeks)
    orders = pl.col("orders").cast(pl.Float64)
    trailing = orders.shift(1).rolling_median(LEVEL_DAYS, min_samples=LEVEL_DAYS // 2 + 1)
    total = total.sort("date").select("date", _trailing=trailing)
    total = total.select(
        "date",
        *(
            pl.when(pl.col("_trailing").shift(7 * k) > 0)
            .then(pl.col("_trailing") / pl.col("_trailing").shift(7 * k))
            .alias(f"_total{c}")
            for k, c in enumerate(columns, start=1)
        ),
    )
    return ShopLevels(levels=levels, total=total, unusual=unusual_days(cells) if unusual is None else unusual)


def category_orders(dense: pl.DataFrame) -> pl.DataFrame:
    """(date, category, region=ALL) -> the category's orders and whether the day was read, from its own
    rows: what ``unusual_days`` reads of ``cell_orders``, known before the cells are gathered."""
    rows = dense.filter(pl.col("level") == "category")
    return rows.select("date", "category", region=pl.lit(ALL), orders=pl.col("orders").fill_null(0),
                       _read=pl.col("orders").is_not_null())  # fmt: skip


def unusual_days(cells: pl.DataFrame) -> pl.DataFrame:
    """(date, category) -> ``_far``: the category's orders stray from their trailing level (the median
    of the SCALE_DAYS before, in logs) more than the median category's do that day, by UNUSUAL_SPREADS
    of its usual such strays (1.4826 x their median) or of its Poisson noise; or it sold nothing on a
    busy day. A promotion of the category, or its own outage: a day that would lift or sink every
    baseline it is a comparable day of. A shop-wide swing (a season, a weekday, Black Friday, a
    region's outage) moves every category's stray alike, and one category's day moves the median
    stray of the others little (the median category's own orders would jump when the category on
    promotion passes it: categories of very different sizes)."""
    by_day = cells.group_by("date", "category").agg(pl.col("orders").sum(), pl.col("_read").any())
    log = pl.when(pl.col("orders") > 0).then(pl.col("orders").cast(pl.Float64).log())
    by_day = by_day.filter("_read").with_columns(_x=log).sort("category", "date")

    def trailing(column: str) -> pl.Expr:  # the median of the category's SCALE_DAYS before the day
        return pl.col(column).shift(1).rolling_median(SCALE_DAYS, min_samples=7).over("category")

    # Busy: a usual day UNUSUAL_SPREADS of Poisson noise above zero, 16 orders. A category of one or two
    # a day sells nothing on many ordinary days, and its strays are noise: it sets no median stray.
    busy = trailing("orders") >= UNUSUAL_SPREADS**2
    by_day = by_day.with_columns(_y=pl.col("_x") - trailing("_x"), _busy=busy)
    median = pl.when("_busy").then("_y").median().over("date")
    by_day = by_day.with_columns(_d=(pl.col("_y") - median).abs())
    stray = MAD_SCALE * trailing("_d")
    noise = 1.0 / pl.col("orders").clip(lower_bound=1).sqrt()
    gone = (pl.col("orders") == 0) & pl.col("_busy")  # a day without orders has no log
    far = (pl.col("_d") > UNUSUAL_SPREADS * pl.max_horizontal(stray, noise)) | gone
    return by_day.select("date", "category", far.fill_null(False).alias(UNUSUAL))


def shop_change(dense: pl.DataFrame, how: str, weeks: int, levels: ShopLevels | None = None) -> pl.DataFrame:
    """``dense`` with ``_change_1.._change_{weeks}`` per series-day (1.0 everywhere for ``none``).

    ``levels``: the shop's tables when ``dense`` is one shard of it (default: from ``dense``).
    """
    columns = [change_column(k) for k in range(1, weeks + 1)]
    if how == "none":
        return dense.with_columns(pl.lit(1.0).alias(c) for c in columns)
    if levels is None:
        total = dense.filter(pl.col("level") == "total").select("date", "orders")
        levels = shop_levels(cell_orders(dense), total, weeks)
    return _with_changes(dense, levels, columns)


def _with_changes(dense: pl.DataFrame, levels: ShopLevels, columns: list[str]) -> pl.DataFrame:
    """The change columns placed per row from (series key, day) arrays: what joining the tables on
    (date, region or ALL, own category) gives, without a join on strings over every series-day.
    Rows are one per calendar day, series after series, each from ``_pos`` 0."""
    firsts = dense.filter(pl.col("_pos") == 0)  # one row per series, in order
    region = pl.when(pl.col("level").is_in(["region", "sku_region"])).then("region").otherwise(pl.lit(ALL))
    series = firsts.select(_region=region, _own=pl.col("category"), _total=pl.col("level") == "total")
    table = levels.levels
    pairs = table.select("_region", "_own").unique(maintain_order=True).with_row_index("_key")
    key = series.join(pairs, on=["_region", "_own"], how="left", nulls_equal=True, maintain_order="left")
    if dense.is_empty():
        return dense.with_columns(pl.lit(None, dtype=pl.Float64).alias(c) for c in columns)
    first, n_days = firsts.get_column("date")[0], dense.height // firsts.height  # rows per series
    placed = (
        table.join(pairs, on=["_region", "_own"], nulls_equal=True)
        .with_columns(_day=(pl.col("date") - first).dt.total_days())
        .filter(pl.col("_day").is_between(0, n_days - 1))
    )
    total = levels.total.with_columns(_day=(pl.col("date") - first).dt.total_days()).filter(
        pl.col("_day").is_between(0, n_days - 1)
    )
    # Row r of the grid is series r // n_days on day _pos; key -1 (no table rows) reads null.
    per_series = key.get_column("_key").fill_null(-1).cast(pl.Int64).to_numpy()
    is_total = series.get_column("_total").to_numpy()
    row_key, row_total = np.repeat(per_series, n_days), np.repeat(is_total, n_days)
    pos = dense.get_column("_pos").to_numpy()
    out = []
    for c in columns:
        grid = np.full((pairs.height + 1, n_days), np.nan)  # the last row: no key
        grid[placed.get_column("_key").to_numpy(), placed.get_column("_day").to_numpy()] = (
            placed.get_column(c).cast(pl.Float64).fill_null(np.nan).to_numpy()
        )
        shop = np.full(n_days, np.nan)
        shop[total.get_column("_day").to_numpy()] = (
            total.get_column(f"_total{c}").fill_null(np.nan).to_numpy()
        )
        value = np.where(row_total, shop[pos], grid[row_key, pos])
        out.append(pl.Series(c, value, nan_to_null=True))
    dense = dense.with_columns(out)
    return dense if levels.unusual is None else with_unusual(dense, levels.unusual)


def with_unusual(dense: pl.DataFrame, unusual: pl.DataFrame) -> pl.DataFrame:
    """``dense`` with UNUSUAL: whether the row's own category's day was unusual (``unusual_days``;
    False for a series without a category). Rows are one per calendar day, series after series."""
    if dense.is_empty():
        return dense.with_columns(pl.lit(False).alias(UNUSUAL))
    firsts = dense.filter(pl.col("_pos") == 0)  # one row per series, in order
    first, n_days = firsts.get_column("date")[0], dense.height // firsts.height
    pos = dense.get_column("_pos").to_numpy()
    return dense.with_columns(_placed_unusual(firsts, unusual, first, n_days, pos))


def _placed_unusual(
    firsts: pl.DataFrame, unusual: pl.DataFrame, first: dt.date, n_days: int, pos: np.ndarray
) -> pl.Series:
    """Per row, whether its own category's day was unusual (``unusual_days``; False without one)."""
    names = unusual.get_column("category").unique().sort()
    code = {name: i for i, name in enumerate(names.to_list())}
    grid = np.zeros((len(code) + 1, n_days), dtype=bool)  # the last row: no category
    table = unusual.with_columns(_day=(pl.col("date") - first).dt.total_days()).filter(
        pl.col("_day").is_between(0, n_days - 1)
    )
    rows = np.array([code[x] for x in table.get_column("category").to_list()], dtype=np.int64)
    grid[rows, table.get_column("_day").to_numpy()] = table.get_column("_far").to_numpy()
    own = firsts.get_column("category").to_list()
    per_series = np.array([code.get(x, len(code)) for x in own], dtype=np.int64)
    return pl.Series(UNUSUAL, grid[np.repeat(per_series, n_days), pos])


def row_median(values: pl.DataFrame) -> tuple[pl.Series, pl.Series]:
    """Per row, the median of the non-null values and their count (numpy: a list column is 5x slower)."""
    table = values.to_numpy().astype(float)  # nulls become NaN
    table.sort(axis=1)  # NaN sorts last
    count = (~np.isnan(table)).sum(axis=1)
    rows = np.arange(len(table))
    low = table[rows, np.maximum(count - 1, 0) // 2]
    high = table[rows, np.maximum(count, 1) // 2 - (count == 0)]
    median = pl.Series("baseline", np.where(count > 0, (low + high) / 2.0, np.nan), nan_to_null=True)
    return median, pl.Series("comparable", count, dtype=pl.Int64)

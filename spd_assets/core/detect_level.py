"""What each series is measured against, so that a shop-wide swing is not a drop and one spike is no level.

Each category's revenue on a day, divided by its median on the same weekday of the previous weeks,
says how the shop is doing that day from that category's side. The median of those ratios over the
*other* categories, computed on the *other* regions when the series has a region, is the level a
series is measured against: a seasonal rise or slide of the whole shop moves it, while a one-day
promotion of one category, a drop of the series' own category or of its own region (however big its
share) leave it alone. The total is measured against the median of its own previous LEVEL_DAYS days.
"""

from __future__ import annotations

import polars as pl

LEVEL_DAYS = 7
LEVEL_WEEKS = 8
ALL = "\x00all"  # the region key of "every region" in the level table


def _category_ratios(dense: pl.DataFrame) -> pl.DataFrame:
    """(date, category, region) -> ratio of the category's revenue outside that region to its usual."""
    cells = (
        dense.filter(pl.col("level") == "sku_region")
        .group_by("date", "category", "region")
        .agg(pl.col("revenue").sum())
    )
    whole = cells.group_by("date", "category").agg(_whole=pl.col("revenue").sum())
    outside = cells.join(whole, on=["date", "category"]).select(
        "date", "category", "region", rest=pl.col("_whole") - pl.col("revenue")
    )
    every = whole.select("date", "category", region=pl.lit(ALL), rest="_whole")
    table = pl.concat([outside, every]).sort("category", "region", "date")
    usual = (
        pl.col("rest").shift(1).rolling_median(LEVEL_WEEKS, min_samples=1)
        .over("category", "region", pl.col("date").dt.weekday())
    )  # fmt: skip
    return table.with_columns(ratio=pl.when(usual > 0).then(pl.col("rest") / usual))


def shop_level(dense: pl.DataFrame, how: str) -> pl.DataFrame:
    """``dense`` with ``level_index``: the shop level of each series-day (1.0 everywhere for ``none``)."""
    if how == "none":
        return dense.with_columns(level_index=pl.lit(1.0))
    ratios = _category_ratios(dense)
    categories = ratios["category"].unique().drop_nulls().to_list()
    wide = ratios.pivot(on="category", index=["date", "region"], values="ratio")
    keys = dense.select(
        "date",
        _region=pl.when(pl.col("level").is_in(["region", "sku_region"]))
        .then("region")
        .otherwise(pl.lit(ALL)),
        _own=pl.col("category"),
    ).unique()
    parts = []
    for own in [None, *categories]:
        # A shop of one category has no other: it is measured against itself (the total still alerts).
        others = [c for c in categories if c != own and c in wide.columns] or categories
        median = pl.concat_list(others).list.drop_nulls().list.median() if others else pl.lit(1.0)
        level = wide.select("date", "region", _level=median)
        part = keys.filter(pl.col("_own").eq_missing(own)).join(
            level, left_on=["date", "_region"], right_on=["date", "region"], how="left"
        )
        parts.append(part)
    levels = pl.concat(parts)
    total = dense.filter(pl.col("level") == "total").select(
        "date",
        _trailing=pl.col("revenue").shift(1).rolling_median(LEVEL_DAYS, min_samples=LEVEL_DAYS // 2 + 1),
    )
    region = pl.when(pl.col("level").is_in(["region", "sku_region"])).then("region").otherwise(pl.lit(ALL))
    return (
        dense.with_columns(_region=region, _own=pl.col("category"))
        .join(levels, on=["date", "_region", "_own"], how="left", nulls_equal=True)
        .join(total, on="date", how="left")
        .with_columns(
            level_index=pl.when(pl.col("level") == "total").then("_trailing").otherwise(pl.col("_level"))
        )
        .drop("_region", "_own", "_level", "_trailing")
    )

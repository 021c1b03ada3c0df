"""The dashboard gives the same answers on day files in either row order, and from its in-memory roll-ups.

daily_metrics files written before the rows were ordered for row-group skipping (levels in alphabetical
order, SKU x region rows by SKU, then region) and files as the pipeline writes them now (the roll-ups
first, SKU x region rows last, by region, then SKU) must give the same totals, 7-day windows and SKU
table for every filter; only the time differs. Row groups are made tiny here so the new order really
lets a region filter skip some of them.
"""

from __future__ import annotations

import polars as pl
import pytest
import streamlit as st
from polars.testing import assert_frame_equal

from benchmarks.catalog_scale import CatalogShop
from spd_assets.core import storage
from spd_assets.core.metrics import rolling_metrics
from spd_assets.core.storage import DayStore
from spd_dashboard import query
from spd_dashboard.query.files import clear_memory
from spd_dashboard.selection import Period, Selection, match_skus
from tests.conftest import recent_days

DAYS = recent_days(70)


def previous_order(day: pl.DataFrame) -> pl.DataFrame:
    """A day's rows as the previous version wrote them: levels in alphabetical order (the total after
    the SKU x region rows), SKU x region rows by SKU, then region."""
    by_sku = pl.when(pl.col("level") == "sku_region").then(pl.col("sku"))
    return day.sort("level", by_sku, maintain_order=True)


def _write(root: str, previous: bool) -> None:
    shop = CatalogShop(60, 4)
    shop.write(root, DAYS)
    store = DayStore(root)
    metrics = rolling_metrics(store.read_days("daily_agg", DAYS), DAYS, DAYS)
    for (day,), part in metrics.partition_by("date", as_dict=True, maintain_order=True).items():
        store.write("daily_metrics", day, previous_order(part) if previous else part)


@pytest.fixture(scope="module")
def dirs(tmp_path_factory) -> tuple[str, str]:
    old, new = (str(tmp_path_factory.mktemp(n)) for n in ("rows-old", "rows-new"))
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(storage.ROW_GROUP_ROWS, "daily_metrics", 64)
        _write(old, previous=True)
        _write(new, previous=False)
    return old, new


def _selections(root: str) -> list[Selection]:
    b = query.bounds(root)
    cat = query.catalog(root)
    return [
        Selection(),
        Selection(regions=(b.regions[0],)),
        Selection(regions=b.regions[1:3]),
        Selection(categories=(b.categories[0],)),
        Selection(regions=(b.regions[-1],), categories=b.categories[1:3]),
        Selection(skus=match_skus(cat, "SKU-001")),
        Selection(regions=(b.regions[0],), skus=match_skus(cat, "SKU-002")),
        Selection(skus=()),
    ]


def _views(root: str, sel: Selection, period: Period, cold: bool = True) -> dict[str, pl.DataFrame]:
    st.cache_data.clear()
    if cold:
        clear_memory()
    return {
        "totals": query.daily_totals(root, sel, period.start, period.end),
        "previous": query.daily_totals(root, sel, period.prev_start, period.prev_end),
        "seven": query.seven_day(root, sel, period.start, period.end),
        "seven_by_region": query.seven_day(root, sel, period.start, period.end, by_region=True),
        "by_sku": query.by_sku(root, sel, period).sort("sku"),
    }


def _same(a: dict[str, pl.DataFrame], b: dict[str, pl.DataFrame]) -> None:
    for name in a:  # sums in another order: equal to the last bits of a float, integers exactly
        assert_frame_equal(a[name], b[name], check_exact=False, rel_tol=1e-12, abs_tol=1e-9)


@pytest.mark.parametrize("days", [28, 7])
def test_old_and_new_row_order_give_the_same_answers(dirs, days):
    old, new = dirs
    cells = [DayStore(d).read("daily_metrics", DAYS[-1]).filter(level="sku_region") for d in (old, new)]
    assert cells[0]["sku"].is_sorted() and not cells[0]["region"].is_sorted()
    assert cells[1]["region"].is_sorted() and not cells[1]["sku"].is_sorted()  # the pipeline's order
    assert cells[1].sort("region", "sku").equals(cells[1])
    levels = DayStore(new).read("daily_metrics", DAYS[-1])["level"].unique(maintain_order=True)
    assert levels.to_list()[-1] == "sku_region"  # the roll-ups first
    period = Period(DAYS[-days], DAYS[-1])
    for sel in _selections(old):
        fast, slow = _views(new, sel, period), _views(old, sel, period)
        _same(fast, slow)
        assert fast["totals"].height == days
        assert fast["by_sku"]["daily"].list.len().unique().to_list() in ([days], [])


def test_the_roll_ups_kept_in_memory_give_what_the_files_give(dirs):
    _, new = dirs
    period = Period(DAYS[-28], DAYS[-1])
    for sel in _selections(new):
        _same(_views(new, sel, period, cold=False), _views(new, sel, period, cold=True))


def test_a_rewritten_day_is_read_again_not_served_from_memory(dirs, tmp_path):
    _, new = dirs
    period = Period(DAYS[-28], DAYS[-1])
    before = _views(new, Selection(), period, cold=False)["totals"]
    store, day = DayStore(new), DAYS[-1]
    kept = store.read("daily_metrics", day)
    doubled = kept.with_columns(pl.col("revenue") * 2)
    store.write("daily_metrics", day, doubled)
    try:
        after = _views(new, Selection(), period, cold=False)["totals"]
        assert after["revenue"][-1] == pytest.approx(2 * before["revenue"][-1])
        assert after["revenue"][:-1].to_list() == before["revenue"][:-1].to_list()
    finally:
        store.write("daily_metrics", day, kept)

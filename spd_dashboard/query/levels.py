"""Which of daily_metrics' rows answer a selection: its roll-ups when they are current and hold the
level, else the SKU x region rows, else daily_agg."""

from __future__ import annotations

import datetime as dt

from ..selection import Selection
from .files import AssetFiles, level_rows, scan


def rolled_up(root: str, start: dt.date, end: dt.date) -> AssetFiles | None:
    """daily_metrics' files of start..end when their rows sum to what daily_agg's would: the same days,
    each written after its daily_agg (none stale). Its roll-ups are a few rows a day where daily_agg
    has one per SKU and region (400,000 a day at 20,000 SKUs x 20 regions), so pages read them first.
    """
    agg, metrics = scan(root, "daily_agg"), scan(root, "daily_metrics")
    have, rolled = agg.mtimes_between(start, end), metrics.mtimes_between(start, end)
    if have.keys() != rolled.keys() or any(rolled[d] < m for d, m in have.items()):
        return None
    return metrics


def has_combined(files: tuple[str, ...], end: dt.date) -> bool:
    """Whether every one of daily_metrics' ``files`` was written with the roll-ups added with the
    category_region level (that level, and cancelled lines at every level): files written before lack
    them, and a region with categories is then summed from SKU x region rows, cancelled lines from
    daily_agg."""
    if not files:
        return False
    total = level_rows(files, "total", ["cancelled_orders"], {"end": end})
    return total.height == len(files) and total["cancelled_orders"].null_count() == 0


def has_regions(files: tuple[str, ...], end: dt.date) -> bool:
    """Whether ``files`` hold region levels: a shop whose exports name no region (region ``all``) has
    none, and its region views read daily_agg."""
    return bool(files) and not level_rows(files, "region", ["date"], {"end": end}).is_empty()


def has_category_region(files: tuple[str, ...], end: dt.date) -> bool:
    """Whether ``files`` hold the category_region level: written with it, for a shop that has regions."""
    return has_combined(files, end) and has_regions(files, end)


def finest_level(sel: Selection, files: tuple[str, ...], end: dt.date, by_region: bool = False) -> str:
    """``sel.metrics_level`` (with each region apart: ``by_region``), or category_region for regions
    with categories when ``files`` hold it."""
    level = sel.metrics_level
    if by_region:
        level = "region" if not sel.categories and sel.skus is None else "sku_region"
    if level == "sku_region" and sel.skus is None and has_category_region(files, end):
        return "category_region"
    return level

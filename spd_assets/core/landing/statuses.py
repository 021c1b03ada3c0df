"""Order status: which rows are kept out of revenue, units and orders (and counted as cancelled)."""

from __future__ import annotations

from collections.abc import Iterable

import polars as pl

from .distinct import has_few_values

DEFAULT_EXCLUDED: tuple[str, ...] = ("cancelled", "canceled", "refunded", "voided", "failed")


def normalized(expr: pl.Expr) -> pl.Expr:
    """A status as compared: trimmed, lower case, WooCommerce's ``wc-`` prefix dropped, words joined by _."""
    return expr.str.strip_chars().str.to_lowercase().str.strip_prefix("wc-").str.replace_all(r"[\s-]+", "_")


def parse_excluded(text: str) -> tuple[str, ...]:
    """``--exclude-status cancelled,refunded`` as the normalized names."""
    names = tuple(s.strip().lower().replace(" ", "_") for s in text.split(",") if s.strip())
    if not names:
        raise ValueError("--exclude-status needs at least one status, e.g. cancelled,refunded")
    return names


def is_excluded(expr: pl.Expr, excluded: Iterable[str]) -> pl.Expr:
    """True where the status is one of ``excluded`` (an empty status counts)."""
    return normalized(expr).is_in(list(excluded)).fill_null(False)


def excluded_rows(status: pl.Series, excluded: Iterable[str]) -> pl.Series:
    """``is_excluded`` of a status column, exactly, normalized once per distinct status: a day's
    million lines carry a handful of statuses, and the normalizing regex is most of the cost."""
    excluded = list(excluded)
    if not has_few_values(status):
        return pl.select(is_excluded(pl.lit(status), excluded)).to_series()
    values = status.unique()
    hits = values.filter(pl.select(is_excluded(pl.lit(values), excluded)).to_series())
    return status.is_in(hits.implode()).fill_null(False)

"""Order status: which rows are kept out of revenue, units and orders (and counted as cancelled)."""

from __future__ import annotations

from collections.abc import Iterable

import polars as pl

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

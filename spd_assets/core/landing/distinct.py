"""Text rules worked out once per distinct value, for the columns that repeat a few values.

A day's million lines hold a few thousand SKUs, twenty regions, four statuses and a few thousand
prices. A row-wise rule on text (trim, parse money, blank as null) gives every copy of a value the
same answer, so it is applied to the distinct values and only the values it changes are replaced:
usually none, and then the column is returned as it is, not copied.
"""

from __future__ import annotations

from collections.abc import Callable

import polars as pl

FEW_VALUES = 2048  # a text column with at most this many values in SAMPLE_ROWS cells spread over it ...
SAMPLE_ROWS = 4096  # ... is worked out once per distinct value


def has_few_values(column: pl.Series) -> bool:
    """Whether a per-value shortcut pays: few distinct values in cells spread over the column (a
    sorted column's first cells would understate it); only speed depends on it, never a result."""
    if column.dtype != pl.String:
        return False
    sample = column.gather_every(max(1, len(column) // SAMPLE_ROWS))
    return sample.n_unique() <= FEW_VALUES


def per_value(column: pl.Series, rule: Callable[[pl.Expr], pl.Expr]) -> pl.Series:
    """``rule`` (row-wise, text to text) applied to every cell of ``column``, exactly; for a column of
    few values it is worked out once per distinct value."""
    if not has_few_values(column):
        return pl.select(rule(pl.lit(column))).to_series()
    values = column.unique()
    ruled = pl.select(rule(pl.lit(values))).to_series()
    if (values.is_null() & ruled.is_not_null()).any():  # a rule that fills an empty cell: row by row
        return pl.select(rule(pl.lit(column))).to_series()
    changed = values.is_not_null() & (ruled != values).fill_null(True)
    if not changed.any():
        return column
    return column.replace(values.filter(changed), ruled.filter(changed))

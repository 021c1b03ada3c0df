"""Repeated order lines: an (order_id, sku) pair an earlier valid row already has.

A line-item export repeats the order_id, never the pair. A 64-bit hash of each pair finds the few
candidates cheaply; the pairs themselves decide, so a hash collision never quarantines a row. A big
file's batches keep their hashes, so repeats across batches are found without hashing again.
"""

from __future__ import annotations

import numpy as np
import polars as pl

PAIR_HASH = "__pair_hash"  # on a big file's batch orders only: the hash of (order_id, sku)


def pair_hashes(frame: pl.DataFrame, order_col: str, sku_col: str) -> pl.Series:
    """A 64-bit hash of each row's (order_id, sku): kept with a big file's batches, so the repeats
    across batches are found without hashing ten million pairs again."""
    return frame.select(pl.struct(order_col, sku_col).hash().alias(PAIR_HASH)).to_series()


def repeated_pairs(
    frame: pl.DataFrame,
    order_col: str,
    sku_col: str,
    valid: pl.Series | None = None,
    hashes: pl.Series | None = None,
) -> pl.Series:
    """Rows whose (order_id, sku) an earlier (valid) row already has: an order line is the pair (a
    line-item export repeats the order_id, never the pair). Hashes find the few candidates; the
    pairs themselves decide, so a hash collision never quarantines a row."""
    pair = pl.struct(order_col, sku_col)
    valid = pl.repeat(True, frame.height, dtype=pl.Boolean, eager=True) if valid is None else valid
    hashes = pair_hashes(frame, order_col, sku_col) if hashes is None else hashes
    shared = _shared(hashes, valid)
    repeated = pl.repeat(False, frame.height, dtype=pl.Boolean, eager=True)
    if shared.any():
        rows = shared.arg_true()
        later = frame[rows].select(~pair.is_first_distinct()).to_series()
        repeated = repeated.scatter(rows.filter(later), True)
    return repeated


def _shared(hashes: pl.Series, valid: pl.Series) -> pl.Series:
    """The valid rows whose hash another valid row has too (``is_duplicated`` among the valid rows):
    by a sort of the 64-bit hashes, several times cheaper than polars' hash-table ``is_duplicated``."""
    valid = valid.fill_null(False)
    ordered = np.sort(hashes.filter(valid).to_numpy())
    twice = ordered[1:][ordered[1:] == ordered[:-1]]
    if not len(twice):
        return pl.repeat(False, len(hashes), dtype=pl.Boolean, eager=True)
    return hashes.is_in(pl.Series(np.unique(twice), dtype=hashes.dtype).implode()) & valid

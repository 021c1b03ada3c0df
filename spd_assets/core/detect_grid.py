"""The dense grid detection scores on: every series on every calendar day, each series an integer.

Detection reads its window of daily_metrics as one frame; these functions give each row its series
id and lay the rows out as a (series, day) grid, the rows of one series contiguous and in day order
(``_pos`` its day's index), which every rolling window of ``detect`` relies on.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import bottleneck as bn
import numpy as np
import polars as pl

SERIES = ("level", "sku", "category", "region")
SID = "_sid"  # the dense grid's integer series id


def series_ids(frame: pl.DataFrame) -> pl.DataFrame:
    """One integer per series, in series order: the grid is built and every rolling window grouped on
    it instead of on four string keys (and a shop scored in shards keeps the shop's order)."""
    return frame.select(SERIES).unique().sort(SERIES, nulls_last=False).with_row_index(SID)


HASH_BATCH = 1_000_000  # rows whose key hashes are sorted at once (row_series)


def key_hash() -> pl.Expr:
    """One 64-bit hash of a row's four series keys."""
    return pl.struct(SERIES).hash()


def compact_keys(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` with its series keys Categorical, as ``detect_drops`` takes them: a window of 122
    days at 5,000 SKUs x 20 regions holds 13 M rows, each with four key strings (64 bytes)."""
    return frame.with_columns(pl.col(SERIES).cast(pl.Categorical))


def row_series(frame: pl.DataFrame) -> tuple[pl.DataFrame, pl.Series]:
    """``series_ids`` of ``frame`` (keys as text) and each row's series id, found through a hash of
    the four keys (a join or a unique on four string columns over every row costs seconds and
    gigabytes on a big catalog). Every row is checked against its series' keys; were two series to
    share a hash, the plain join decides instead. Keys may be text or Categorical (``compact_keys``)."""
    as_text = [pl.col(c).cast(pl.String) for c in SERIES]
    hashes = frame.select(key_hash()).to_series().to_numpy()
    # The distinct hashes (sorted) and a row of each, a million rows at a time: no frame-wide hash
    # table or join (those held 0.6 GB more at 5,000 x 20).
    known, rows = np.zeros(0, dtype=np.uint64), np.zeros(0, dtype=np.int64)
    for start in range(0, len(hashes), HASH_BATCH):
        found, first = np.unique(hashes[start : start + HASH_BATCH], return_index=True)
        new = ~np.isin(found, known, assume_unique=True)
        known, rows = np.concatenate([known, found[new]]), np.concatenate([rows, first[new] + start])
        order = np.argsort(known)
        known, rows = known[order], rows[order]
    keys = frame[rows].select(SERIES).with_columns(_h=pl.Series(known, dtype=pl.UInt64))
    ids = keys.sort(as_text, nulls_last=False).with_row_index(SID)
    of_hash = np.empty(len(known), dtype=np.uint32)  # by position among the sorted hashes
    of_hash[np.searchsorted(known, ids.get_column("_h").to_numpy())] = ids.get_column(SID).to_numpy()
    at = [
        of_hash[np.searchsorted(known, hashes[s : s + HASH_BATCH])] for s in range(0, len(hashes), HASH_BATCH)
    ]
    sid = pl.Series(SID, np.concatenate(at) if at else np.zeros(0, dtype=np.uint32), dtype=pl.UInt32)
    del hashes
    if all(frame.get_column(c).eq_missing(ids.get_column(c).gather(sid)).all() for c in SERIES):
        return ids.select(SID, *as_text), sid
    ids = series_ids(frame)
    rows = frame.select(SERIES).join(
        ids, on=list(SERIES), how="left", nulls_equal=True, maintain_order="left"
    )
    return ids.select(SID, *as_text), rows.get_column(SID)


def dense_series(
    frame: pl.DataFrame, available: Sequence[dt.date], ids: pl.DataFrame | None = None
) -> pl.DataFrame:
    """Every series on every calendar day: zero on an available day with no row, null on a day not read.

    ``frame`` holds daily ``revenue`` and ``orders`` per series (daily_metrics rows); a series missing
    on an available day sold nothing that day. ``ids``: ``series_ids`` of the whole shop when
    ``frame`` is one shard of it.
    """
    ids = series_ids(frame) if ids is None else ids
    return dense_rows(frame.join(ids, on=list(SERIES), how="left", nulls_equal=True), available, ids)


def dense_rows(rows: pl.DataFrame, available: Sequence[dt.date], ids: pl.DataFrame) -> pl.DataFrame:
    """``dense_series`` of rows that carry their series id (``ids``, sorted by it, brings back the keys).

    The grid of ``metrics.calendar_grid``, built by placing each row in a (series, day) array rather
    than by joining the rows onto a cross join: the same frame, a few times faster."""
    days = sorted(set(available))
    first, n_days = days[0], (days[-1] - days[0]).days + 1
    read = np.zeros(n_days, dtype=bool)
    read[[(d - first).days for d in days]] = True
    series = rows.get_column(SID).unique().sort()
    pos = (rows.get_column("date") - first).dt.total_days().to_numpy()
    inside = (pos >= 0) & (pos < n_days)
    inside[inside] = read[pos[inside]]  # a row of a day not read counts as unknown, like no row
    cell = series.search_sorted(rows.get_column(SID)).to_numpy().astype(np.int64) * n_days + pos
    unknown = np.tile(np.where(read, 0.0, np.nan), len(series))
    values = {}
    for name in ("revenue", "orders"):
        grid = unknown.copy()
        grid[cell[inside]] = rows.get_column(name).cast(pl.Float64).fill_null(0.0).to_numpy()[inside]
        values[name] = pl.Series(name, grid, nan_to_null=True)
    at = ids.get_column(SID).search_sorted(series).to_numpy()
    epoch_days = (first - dt.date(1970, 1, 1)).days + np.arange(n_days, dtype=np.int32)
    grid = pl.DataFrame(
        {
            "date": pl.Series(np.tile(epoch_days, len(series))).cast(pl.Date),
            "available": np.tile(read, len(series)),
            SID: pl.Series(np.repeat(series.to_numpy(), n_days), dtype=series.dtype),
            **values,
        }
    )
    keys = ids.drop(SID)[np.repeat(at, n_days)]
    return grid.hstack(keys).with_columns(
        _pos=pl.Series(np.tile(np.arange(n_days, dtype=np.int64), len(series)))
    )


def trailing_median(
    frame: pl.DataFrame, values: pl.Expr, window: int, min_samples: int, lag: int = 0
) -> pl.Series:
    """Per row, the median of ``values`` over the ``window`` rows of its series ending ``lag`` rows
    back, nulls and NaN left out, null where fewer than ``min_samples`` are known: Polars'
    ``values.shift(lag).rolling_median(window, min_samples=min_samples).over(SID)``.

    Bottleneck's moving median over the (series, day) grid instead: Polars' kernel for a column with
    nulls (every shifted one has them) was 3x its null-free one, and six such medians over every
    series-day were a third of detection's time; this is 4-5x faster, the same medians. Rows of one
    series are contiguous and in day order (``SID`` runs)."""
    x = frame.select(values.cast(pl.Float64)).to_series().fill_nan(None).fill_null(np.nan).to_numpy()
    if not len(x):
        return pl.Series("median", [], dtype=pl.Float64)
    sid = frame.get_column(SID).to_numpy()
    starts = np.flatnonzero(np.r_[True, sid[1:] != sid[:-1]])
    lengths = np.diff(np.r_[starts, len(x)])
    width = int(lengths.max())
    group = np.repeat(np.arange(len(starts)), lengths)
    pos = np.arange(len(x)) - starts[group]
    grid = np.full((len(starts), width + lag), np.nan)  # the lag days before each series unknown
    grid[group, pos + lag] = x
    out = np.full(grid.shape, np.nan)
    if min_samples <= min(window, grid.shape[1]):
        out = bn.move_median(grid, window=min(window, grid.shape[1]), min_count=min_samples, axis=1)
    return pl.Series("median", out[group, pos], nan_to_null=True)

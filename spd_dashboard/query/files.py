"""Where the Parquet is and how it is read: one listing per asset, a stamp of their mtimes, DuckDB.

The files are found through the pipeline's storage layer (``core.storage.DayStore``), so a local
folder and an ``s3://``/``gs://``/``az://`` data dir are listed alike, with one recursive listing
per asset. Only ``<asset>/date=YYYY-MM-DD/data.parquet`` files are listed (a stray ``*.tmp-*`` never
is), and only the files of the days a query needs are read, so a 28-day view of a year reads 56
files. DuckDB reads local files itself; object-store files are fetched by pyarrow (DuckDB's httpfs
extension is not assumed) and DuckDB scans that table. A query's cache key holds the stamp: a
re-materialized day invalidates it, nothing else.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import NoReturn

import duckdb
import polars as pl
import pyarrow as pa
import streamlit as st
from streamlit import runtime

from spd_assets.core.schema import DAILY_METRICS
from spd_assets.core.settings import data_dir_from_env
from spd_assets.core.storage import (
    DamagedPartitionError,
    DayStore,
    concat,
    damaged_file_message,
    is_remote,
    read_parquet_each,
)

from ..selection import Selection
from .stable import identity, unchanged_read

CACHE = {"show_spinner": False, "max_entries": 64}
_DB = duckdb.connect()


def data_dir() -> str:
    """SPD_DATA_DIR as the pipeline reads it, read on every run so tests can point it."""
    return data_dir_from_env()


@dataclass(frozen=True)
class AssetFiles:
    """The materialized days of one asset and a stamp that changes whenever any of its files does."""

    asset: str
    days: tuple[dt.date, ...]
    files: tuple[str, ...]
    stamp: str
    mtimes: tuple[int, ...] = ()  # of each file, as listed

    def mtimes_between(self, start: dt.date, end: dt.date) -> dict[dt.date, int]:
        return {d: m for d, m in zip(self.days, self.mtimes, strict=True) if start <= d <= end}

    def between(self, start: dt.date, end: dt.date) -> tuple[str, ...]:
        return tuple(f for d, f in zip(self.days, self.files, strict=True) if start <= d <= end)

    def count_between(self, start: dt.date, end: dt.date) -> int:
        return sum(start <= d <= end for d in self.days)

    def of(self, days: tuple[dt.date, ...]) -> tuple[str, ...]:
        """The files of ``days`` (those materialized), in day order."""
        wanted = set(days)
        return tuple(f for d, f in zip(self.days, self.files, strict=True) if d in wanted)


_LISTED: ContextVar[dict[tuple[str, str], AssetFiles] | None] = ContextVar("spd_listed", default=None)


@contextmanager
def one_listing() -> Iterator[None]:
    """Within it, each asset is listed once (``scan``): a page run's queries see the same files.

    A page of a year's history listed each asset a dozen times, 3-7 ms each (a stat per day file): a
    tenth of a second a page, cached or not. The app runs every page in it; a day written meanwhile
    shows on the next page run, as one written just after the page run would.
    """
    token = _LISTED.set({})
    try:
        yield
    finally:
        _LISTED.reset(token)


def scan(root: str, asset: str) -> AssetFiles:
    """List ``asset``'s day files with one listing call (about 3 ms for a year on a local disk, one
    request per 1,000 days on S3; once per ``one_listing``); a missing asset has no days."""
    listed = _LISTED.get()
    if listed is None:
        return _scan(root, asset)
    if (root, asset) not in listed:
        listed[root, asset] = _scan(root, asset)
    return listed[root, asset]


def _scan(root: str, asset: str) -> AssetFiles:
    found = [(f.day, f.uri, f.mtime_ns, f.size) for f in DayStore(root).day_files(asset)]
    if is_remote(root):
        with _LOCK:
            _SEEN.update((uri, (mtime, size)) for _, uri, mtime, size in found)
    stamp = hashlib.blake2b(repr(found).encode(), digest_size=10).hexdigest()
    days, uris, mtimes = (tuple(f[i] for f in found) for i in range(3))
    return AssetFiles(asset, days, uris, stamp, mtimes)


def list_assets(root: str) -> list[str]:
    """Directories under the data dir that hold day partitions or an unpartitioned data.parquet."""
    store = DayStore(root)
    return [n for n in store.assets() if store.exists(n) or store.day_files(n)]


FILES = "read_parquet($files, union_by_name=true)"  # the day files a query reads, in its FROM clause
_TABLE = "spd_files"
# Object-store files already fetched, keyed by (URI, mtime, size) as the last listing saw them: a page
# runs several queries on the same days, and each would otherwise download them again.
_SEEN: dict[str, tuple[int, int]] = {}
_FETCHED: OrderedDict[tuple[str, tuple[int, int]], pa.Table] = OrderedDict()
_KEEP = 2048  # files (a day of daily_agg is tens of kB)
_LOCK = threading.Lock()


def _remote_table(files: list[str]) -> pa.Table:
    """The files as one table, downloading only those not fetched since they last changed."""
    with _LOCK:
        keys = [(f, _SEEN.get(f, (0, -1))) for f in files]
        have = {k: _FETCHED[k] for k in keys if k in _FETCHED}
    missing = [k for k in keys if k not in have]
    have.update(zip(missing, read_parquet_each([f for f, _ in missing]), strict=True))
    with _LOCK:
        for key in missing:
            if key[1][1] >= 0:  # listed: its stamp identifies the content
                _FETCHED[key] = have[key]
        for key in keys:
            if key in _FETCHED:
                _FETCHED.move_to_end(key)
        while len(_FETCHED) > _KEEP:
            _FETCHED.popitem(last=False)
    return concat([have[k] for k in keys])


# daily_metrics' roll-up rows (levels total, region, category, sku, category_region: 20,231 of a day's
# 420,231 rows at 20,000 SKUs x 20 regions) of each local day file read, by level, keyed by (path,
# identity): every filter but a region's SKU table is answered from these, so a filter change after
# the first load reads no file but a region's SKU x region rows.
_ROLLUPS: OrderedDict[tuple[str, tuple[int, int, int] | None], dict[str, pl.DataFrame]] = OrderedDict()
_KEEP_ROLLUP_ROWS = 3_000_000  # about 150 days at 20,000 SKUs (some 300 MB), years at 500 SKUs
ROLLUP_LEVELS = ("total", "region", "category", "sku", "category_region")
# The columns the reads of roll-up rows use (``sql(..., rollup=level, then=...)``): the others are not kept.
ROLLUP_COLUMNS = ("date", "level", "sku", "category", "region", "orders", "units", "revenue",
                  "revenue_7d", "revenue_7d_prev", "pct_change_7d", "window_days", "units_7d", "orders_7d",
                  "cancelled_orders", "cancelled_revenue")  # fmt: skip


def clear_memory() -> None:
    """Forget the roll-up rows kept in memory (what ``st.cache_data.clear()`` is to the queries)."""
    with _LOCK:
        _ROLLUPS.clear()


def _rollup_rows(files: list[str], ids: tuple, level: str) -> tuple[pl.DataFrame, dict]:
    """The files' rows of one roll-up level as one frame, reading (in one scan, every roll-up level)
    only the files not kept, and the rows read, by key, for the caller to keep once the read is known
    to be whole."""
    keys = list(zip(files, ids, strict=True))
    with _LOCK:
        have = {k: _ROLLUPS[k] for k in keys if k in _ROLLUPS}
    missing = [k for k in keys if k not in have]
    fresh: dict = {}
    if missing:
        read = _read_rollups([f for f, _ in missing])
        empty = read.clear().drop("filename")
        parts = _by_file_and_level(read)
        for key in missing:
            by_level = {lvl: parts.get((key[0], lvl)) for lvl in ROLLUP_LEVELS}
            fresh[key] = {lvl: empty if f is None else f for lvl, f in by_level.items()}
        have.update(fresh)
    # One concat, then the level once: a column added to each day's frame was an eager query per file
    # (180 of them for a 90-day view and the period before it: a third of its cold time).
    frame = pl.concat([have[k][level] for k in keys], how="diagonal_relaxed", rechunk=False)
    return frame.with_columns(level=pl.lit(level)), fresh


def _by_file_and_level(read: pl.DataFrame) -> dict[tuple[str, str], pl.DataFrame]:
    """``read``'s rows by (filename, level): slices of its runs, since a scan returns each file's rows
    together and a file holds its levels one after the other (partition_by hashed every row's path, twice
    as slow); partition_by if a pair ever came in two runs."""
    if read.is_empty():
        return {}
    new_run = (pl.col("filename").rle_id().diff() != 0) | (pl.col("level").rle_id().diff() != 0)
    starts = read.select(new_run.fill_null(True).arg_true()).to_series().to_list()
    pairs = list(zip(read["filename"].gather(starts), read["level"].gather(starts), strict=True))
    if len(set(pairs)) != len(pairs):
        return read.partition_by("filename", "level", as_dict=True, include_key=False)
    body = read.drop("filename", "level")  # as partition_by leaves them: the level is set per read
    bounds = [*starts, read.height]
    return {pair: body.slice(a, b - a) for pair, a, b in zip(pairs, bounds, bounds[1:], strict=False)}


def _read_rollups(files: list[str]) -> pl.DataFrame:
    """The roll-up rows of ``files`` (ROLLUP_COLUMNS and ``filename``), read by Polars: it decodes them
    twice as fast as DuckDB hands them over. A file Polars cannot read is read again by DuckDB, whose
    error names it (``sql`` turns that into the damaged-file message)."""
    try:
        scan = pl.scan_parquet(
            files,
            hive_partitioning=False,
            include_file_paths="filename",
            missing_columns="insert",
            extra_columns="ignore",
        )
        have = scan.collect_schema()  # the first file's: one written before a column was added lacks it
        return scan.filter(pl.col("level").is_in(ROLLUP_LEVELS)).select(*_rollup_columns(have)).collect()
    except (pl.exceptions.PolarsError, OSError):
        with _DB.cursor() as cur:  # every column: files written before some of ROLLUP_COLUMNS lack them
            read = cur.sql(
                "SELECT * FROM read_parquet($files, union_by_name=true, filename=true)"
                " WHERE list_contains($levels::VARCHAR[], level)",
                params={"files": files, "levels": list(ROLLUP_LEVELS)},
            ).pl()
        return read.select(*_rollup_columns(read.schema))


def _rollup_columns(have: pl.Schema) -> list[pl.Expr]:
    """ROLLUP_COLUMNS and ``filename``, a column the files lack as null."""
    return [
        *(pl.col(c) if c in have else pl.lit(None, DAILY_METRICS[c]).alias(c) for c in ROLLUP_COLUMNS),
        pl.col("filename"),
    ]


def _keep_rollups(fresh: dict, used: list) -> None:
    with _LOCK:
        _ROLLUPS.update(fresh)
        for key in used:
            if key in _ROLLUPS:
                _ROLLUPS.move_to_end(key)
        rows = sum(f.height for levels in _ROLLUPS.values() for f in levels.values())
        while len(_ROLLUPS) > 1 and rows > _KEEP_ROLLUP_ROWS:
            rows -= sum(f.height for f in _ROLLUPS.popitem(last=False)[1].values())


def sql(
    query: str,
    params: dict[str, object],
    rollup: str | None = None,
    then: Callable[[pl.DataFrame], pl.DataFrame] | None = None,
) -> pl.DataFrame:
    """Run a query; a damaged day file stops the page with the pipeline's message (which file, and the
    command that rebuilds it) instead of a stack trace.

    ``rollup``: the query reads only that roll-up level of daily_metrics (one of ROLLUP_LEVELS), so
    ``then``, Polars' equivalent of the SQL, runs on that level's rows of its files kept in memory
    (``_rollup_rows``) instead: handing 3.6 million rows of a 90-day view to DuckDB cost a third of it.
    """

    files = list(params.get("files") or ())
    query, params = with_selection(query, params)

    def run_rollups() -> tuple[pl.DataFrame, dict, list]:
        ids = identity(files)
        frame, fresh = _rollup_rows(files, ids, rollup)
        rest = {k: v for k, v in params.items() if k != "files"}
        # The selection filtered by Polars first: DuckDB's list_contains on every row of 20,000 SKUs
        # x 28 days is slow for a SKU search's list (the SQL's own filter then keeps every row left).
        keep = selection_filters(rest)
        frame = frame.filter(*keep) if keep else frame
        return then(frame), fresh, list(zip(files, ids, strict=True))

    kept: list[tuple[dict, list]] = []  # roll-up rows read, kept once the read is known to be whole

    def run() -> pl.DataFrame:
        if rollup in ROLLUP_LEVELS and files and then is not None:
            out, fresh, used = run_rollups()
            kept[:] = [(fresh, used)]
            return out
        with _DB.cursor() as cur:
            return cur.sql(query, params=params).pl()

    def run_remote() -> pl.DataFrame:
        if FILES not in query:
            raise ValueError(f"a query on object-store files must read them as {FILES}")
        table = _remote_table(files)  # one GET per file: never a file half-replaced
        with _DB.cursor() as cur:
            cur.register(_TABLE, table)
            rest = {k: v for k, v in params.items() if k != "files"}
            return cur.sql(query.replace(FILES, _TABLE), params=rest).pl()

    try:
        if files and is_remote(files[0]):
            return run_remote()
        out = unchanged_read(files, run)  # never a local day file half-replaced
        for fresh, used in kept:
            _keep_rollups(fresh, used)
        return out
    except DamagedPartitionError as exc:
        message = str(exc)
    except duckdb.Error as exc:
        found = re.search(r"""['"]([^'"]+\.parquet)['"]""", str(exc))  # DuckDB quotes it either way
        if found is None:
            raise
        message = damaged_file_message(found.group(1), str(exc).split(":", 1)[-1].strip())
    report_damaged(message)


def report_damaged(message: str) -> NoReturn:
    """Stop the page on a damaged day file with the pipeline's message (outside Streamlit: raise it)."""
    if not runtime.exists():
        raise DamagedPartitionError(message) from None
    st.error(message)
    st.stop()
    raise AssertionError("st.stop() raises")  # keeps type checkers honest


SEL = "/*selection*/ TRUE"  # a query's selection filter: only the active filters' columns are read
_SEL_CLAUSES = {
    "regions": "list_contains($regions::VARCHAR[], region)",
    "categories": "list_contains($categories::VARCHAR[], category)",
    "skus": "list_contains($skus::VARCHAR[], sku)",
}


_SEL_COLUMNS = {"region": "regions", "category": "categories", "sku": "skus"}


def with_selection(query: str, params: dict[str, object]) -> tuple[str, dict[str, object]]:
    """The query with SEL replaced by the active filters only, and the parameters it then uses.

    A filter left open must not name its column: DuckDB would read it from every file for nothing
    (three string columns of 400,000 rows a day at catalog scale).
    """
    if SEL not in query:
        return query, params
    active = [k for k in _SEL_CLAUSES if params.get(k) is not None]
    clause = " AND ".join(_SEL_CLAUSES[k] for k in active) or "TRUE"
    return query.replace(SEL, clause), {
        k: v for k, v in params.items() if k not in _SEL_CLAUSES or k in active
    }


def selection_filters(params: dict[str, object]) -> list[pl.Expr]:
    """The active filters of ``sel_params`` (after ``with_selection``) as Polars predicates."""
    return [
        pl.col(column).is_in(pl.Series(list(params[key]), dtype=pl.String))  # type: ignore[arg-type]
        for column, key in _SEL_COLUMNS.items()
        if params.get(key) is not None
    ]


def level_rows(
    files: tuple[str, ...], level: str, columns: list[str], params: dict[str, object]
) -> pl.DataFrame:
    """daily_metrics' ``columns`` of one ``level``'s rows of ``files`` in the selection, up to
    ``params["end"]`` (from ``params["start"]`` if given).

    A roll-up level's rows come from memory (``sql``'s ``rollup``); a local file's SKU x region rows
    are read by Polars, which decodes the filters first and the other columns only for the rows kept
    (a region's million rows of 56 days at 20,000 SKUs x 20 regions: 0.30 s, DuckDB 0.44 s). The same
    rows in SQL serve object-store files and a file Polars cannot read, so that DuckDB's error names
    the damaged one (``sql``)."""
    paths = list(files)
    _, active = with_selection(SEL, params)
    start = params.get("start")
    days = pl.col("date") <= params["end"]
    days = days if start is None else days & (pl.col("date") >= start)
    fallback = (
        f"SELECT {', '.join(columns)} FROM {FILES} WHERE level = '{level}' AND date <= $end"
        + ("" if start is None else " AND date >= $start")
        + f" AND {SEL}"
    )
    bound = {"files": paths, **params}
    if level in ROLLUP_LEVELS:  # kept in memory: filtered there
        return sql(fallback, bound, level, lambda frame: frame.filter(days).select(columns))
    if not paths or is_remote(paths[0]):
        return sql(fallback, bound)

    def read() -> pl.DataFrame:
        scan = pl.scan_parquet(
            paths, hive_partitioning=False, missing_columns="insert", extra_columns="ignore"
        )
        return (
            scan.filter(pl.col("level") == level, days, *selection_filters(active)).select(columns).collect()
        )

    try:
        return unchanged_read(paths, read)
    except (pl.exceptions.PolarsError, OSError):
        return sql(fallback, bound)


def sel_params(sel: Selection) -> dict[str, object]:
    return {
        "regions": list(sel.regions) or None,
        "categories": list(sel.categories) or None,
        "skus": None if sel.skus is None else list(sel.skus),
    }


def days_frame(days: tuple[dt.date, ...] | list[dt.date]) -> pl.DataFrame:
    return pl.DataFrame({"date": list(days)}, schema={"date": pl.Date})

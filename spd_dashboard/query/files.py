"""Where the Parquet is and how it is read: one stat per day file, a stamp of their mtimes, DuckDB.

Only ``<asset>/date=YYYY-MM-DD/data.parquet`` files are listed (a stray ``*.tmp-*`` never is), and
only the files of the days a query needs are handed to DuckDB, so a 28-day view of a year reads
56 files. A query's cache key holds the stamp: a re-materialized day invalidates it, nothing else.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
from dataclasses import dataclass

import duckdb
import polars as pl
import streamlit as st
from streamlit import runtime

from spd_assets.core.schema import FILE_NAME
from spd_assets.core.settings import data_dir_from_env
from spd_assets.core.storage import DamagedPartitionError, damaged_file_message, parse_day_dir

from ..selection import Selection
from .stable import unchanged_read

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

    def between(self, start: dt.date, end: dt.date) -> tuple[str, ...]:
        return tuple(f for d, f in zip(self.days, self.files, strict=True) if start <= d <= end)

    def count_between(self, start: dt.date, end: dt.date) -> int:
        return sum(start <= d <= end for d in self.days)


def scan(root: str, asset: str) -> AssetFiles:
    """List ``asset``'s day files with one stat each (about 2 ms for a year); missing asset = no days."""
    found: list[tuple[dt.date, str, int, int]] = []
    try:
        entries = list(os.scandir(os.path.join(root, asset)))
    except (FileNotFoundError, NotADirectoryError):
        entries = []
    for entry in entries:
        day = parse_day_dir(entry.name)
        if day is None:
            continue
        path = os.path.join(entry.path, FILE_NAME)
        try:
            stat = os.stat(path)
        except OSError:
            continue
        found.append((day, path, stat.st_mtime_ns, stat.st_size))
    found.sort()
    stamp = hashlib.blake2b(repr(found).encode(), digest_size=10).hexdigest()
    return AssetFiles(asset, tuple(f[0] for f in found), tuple(f[1] for f in found), stamp)


def list_assets(root: str) -> list[str]:
    """Directories under the data dir that hold day partitions or an unpartitioned data.parquet."""
    try:
        names = sorted(e.name for e in os.scandir(root) if e.is_dir() and not e.name.startswith((".", "_")))
    except FileNotFoundError:
        return []
    return [n for n in names if os.path.exists(os.path.join(root, n, FILE_NAME)) or scan(root, n).days]


def sql(query: str, params: dict[str, object]) -> pl.DataFrame:
    """Run a query; a damaged day file stops the page with the pipeline's message (which file, and the
    command that rebuilds it) instead of a stack trace."""

    def run() -> pl.DataFrame:
        with _DB.cursor() as cur:
            return cur.sql(query, params=params).pl()

    try:
        return unchanged_read(params.get("files", ()), run)  # never a day file half-replaced
    except duckdb.Error as exc:
        found = re.search(r"'([^']+\.parquet)'", str(exc))
        if found is None:
            raise
        message = damaged_file_message(found.group(1), str(exc).split(":", 1)[-1].strip())
        if not runtime.exists():
            raise DamagedPartitionError(message) from None
        st.error(message)
        st.stop()
        raise  # st.stop() raised already; this keeps type checkers honest


SEL = (
    "($regions::VARCHAR[] IS NULL OR list_contains($regions, region))"
    " AND ($categories::VARCHAR[] IS NULL OR list_contains($categories, category))"
    " AND ($skus::VARCHAR[] IS NULL OR list_contains($skus, sku))"
)


def sel_params(sel: Selection) -> dict[str, object]:
    return {
        "regions": list(sel.regions) or None,
        "categories": list(sel.categories) or None,
        "skus": None if sel.skus is None else list(sel.skus),
    }


def days_frame(days: tuple[dt.date, ...] | list[dt.date]) -> pl.DataFrame:
    return pl.DataFrame({"date": list(days)}, schema={"date": pl.Date})

"""The landing folder: one file per day (``orders_YYYY-MM-DD.csv`` or ``.parquet``), read as written.

CSV is read with every column as text, so a bad value becomes a quarantined row rather than a parse
failure; column names are matched case-insensitively and extra columns are ignored. Files are only
ever read: spd never modifies or deletes a landing file.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import io
import mmap
import os
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import BinaryIO

import polars as pl

from .csv_text import check_header, count_newlines, encoding_error, guard_text, ragged_lines
from .exports import map_file
from .mapping import Mapping, check_columns, landing_mapping, resolve
from .remote import local_folder, named_as_given
from .statuses import DEFAULT_EXCLUDED
from .validate import LINE, MALFORMED, LandingFileError, ValidatedDay, resolve_columns, validate_orders

BATCH_ROWS = 200_000  # rows held in memory at a time when a file is streamed
# A day file up to this size is parsed in one piece; a bigger one in batches (big_files.py).
WHOLE_FILE_BYTES = 256 << 20
DAILY_NAME = re.compile(r"^orders_(\d{4}-\d{2}-\d{2})\.(csv|parquet)$")
CATALOG_FILE = "catalog.csv"


def daily_file_name(day: dt.date, ext: str = "csv") -> str:
    """The landing file name for ``day``."""
    return f"orders_{day.isoformat()}.{ext}"


def day_of(name: str) -> dt.date | None:
    """The day a landing file name stands for, or None if it is not a daily orders file."""
    match = DAILY_NAME.match(name)
    if not match:
        return None
    try:
        return dt.date.fromisoformat(match.group(1))
    except ValueError:
        return None


def find_day_file(landing_dir: str | Path, day: dt.date) -> Path:
    """The one file holding ``day``'s orders; a missing or ambiguous file is a whole-file error."""
    root = Path(landing_dir)
    if not root.is_dir():
        raise LandingFileError(str(root), "the landing folder does not exist (set SPD_LANDING_DIR)")
    found = [
        root / daily_file_name(day, ext)
        for ext in ("csv", "parquet")
        if (root / daily_file_name(day, ext)).exists()
    ]
    if not found:
        raise LandingFileError(
            str(root / daily_file_name(day)),
            f"not found (nor {daily_file_name(day, 'parquet')}): there is no orders file for {day}",
        )
    if len(found) > 1:
        raise LandingFileError(str(found[0]), f"{found[1].name} holds the same day; keep only one of them")
    if not found[0].is_file():
        raise LandingFileError(str(found[0]), "is not a regular file")
    return found[0]


def _parse_csv(data: bytes | mmap.mmap, file: str, handle: BinaryIO | None = None) -> pl.DataFrame:
    """Every column as text, with the line of each row; blank lines are dropped (they are not rows).

    ``data`` may be the file mapped, with ``handle`` open on it: polars then reads the same file
    through the handle, not a copy of its bytes.
    """
    guard_text(data, file)
    marks = None
    try:
        frame = pl.read_csv(data if handle is None else handle, infer_schema=False)
    except pl.exceptions.ComputeError as exc:
        data = bytes(data)  # the rare broken file: the rules below take bytes
        error = encoding_error(data, file)
        if error:
            raise error from None
        if "more fields" not in str(exc):
            raise LandingFileError(file, f"is not readable CSV ({str(exc).splitlines()[0]})") from None
        frame = pl.read_csv(data, infer_schema=False, truncate_ragged_lines=True)
        lines, marks = ragged_lines(data, file, frame.height)
    except pl.exceptions.NoDataError:
        raise LandingFileError(file, "is empty") from None
    cols = check_header(frame.columns, file)
    if marks is not None:
        frame = frame.with_columns(pl.Series(LINE, lines, pl.Int64), pl.Series(MALFORMED, marks, pl.String))
    elif frame.height == count_newlines(data) - (data[-1:] == b"\n"):
        # One line per row, so no field holds a newline: line = row + 2, without scanning every field.
        frame = frame.with_columns((pl.int_range(pl.len(), dtype=pl.Int64) + 2).alias(LINE))
    else:
        frame, _ = _numbered(frame, 2)
    return _drop_blank(frame, cols)


def _numbered(frame: pl.DataFrame, first_line: int) -> tuple[pl.DataFrame, int]:
    """Each row's line, counting the newlines inside quoted fields; and the line after the last row."""
    cols = [c for c in frame.columns if c not in (LINE, MALFORMED)]
    newlines = pl.sum_horizontal(pl.col(c).str.count_matches("\n", literal=True).fill_null(0) for c in cols)
    frame = frame.with_columns(
        (pl.int_range(pl.len()) + first_line + newlines.cum_sum() - newlines).cast(pl.Int64).alias(LINE)
    )
    extra = frame.select(newlines.sum()).item() if frame.height else 0
    return frame, first_line + frame.height + int(extra or 0)


def _drop_blank(frame: pl.DataFrame, cols: list[str]) -> pl.DataFrame:
    """Without the rows whose every field is empty (a blank line, or ",,,")."""
    if any(frame[c].null_count() == 0 for c in cols):  # a column with no empty cell: no blank row
        return frame
    return frame.filter(~pl.all_horizontal(pl.col(c).is_null() for c in cols))


def csv_batches(path: str | Path, batch_rows: int = BATCH_ROWS) -> Iterator[pl.DataFrame]:
    """The one CSV reader: every column as text, exact line numbers, in batches of ``batch_rows``.

    Streams a well-formed file; one that polars cannot stream (ragged rows, bad encoding) is read
    whole by ``_parse_csv``, which marks the ragged rows or names the bad byte, and the batches
    already given are not repeated.
    """
    path, line, any_rows = Path(path), 2, False
    cols = read_header(path)
    try:
        for batch in pl.scan_csv(path, infer_schema=False).collect_batches(chunk_size=batch_rows):
            numbered, line = _numbered(batch, line)
            any_rows = True
            yield _drop_blank(numbered, cols)
    except pl.exceptions.ComputeError:
        yield _parse_csv(path.read_bytes(), str(path)).filter(pl.col(LINE) >= (line if any_rows else 0))
        return
    if not any_rows:
        yield pl.DataFrame(schema={**dict.fromkeys(cols, pl.String), LINE: pl.Int64})


def _parse_parquet(data: bytes, file: str) -> pl.DataFrame:
    try:
        frame = pl.read_parquet(io.BytesIO(data))
    except Exception as exc:  # polars/arrow raise several types for a file that is not Parquet
        raise LandingFileError(file, f"is not a readable Parquet file ({str(exc).splitlines()[0]})") from None
    return frame.with_columns((pl.int_range(pl.len()) + 1).cast(pl.Int64).alias(LINE))


def _read_mapped_csv(path: Path) -> tuple[pl.DataFrame, str] | None:
    """A CSV day file up to WHOLE_FILE_BYTES, mapped rather than copied, its SHA-256 taken on the
    other core while polars parses it; None for a file this path does not take (empty, big, or one
    that cannot be mapped: it is read as bytes, which names any read error)."""
    try:
        handle = path.open("rb")
    except OSError:
        return None
    with handle:
        try:
            if not 0 < os.fstat(handle.fileno()).st_size <= WHOLE_FILE_BYTES:
                return None
            data = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        except (OSError, ValueError):
            return None
        with (  # the pool is left first: the hashing ends before the map is closed
            data,
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="spd-digest") as pool,
        ):
            digest = pool.submit(lambda: hashlib.sha256(data).hexdigest())
            try:
                return _parse_csv(data, str(path), handle), digest.result()
            except OSError as exc:
                raise LandingFileError(str(path), f"cannot be read ({exc.strerror})") from None


def read_orders_file(path: str | Path, whole: bool = False) -> tuple[pl.DataFrame, str]:
    """(rows as read, with their line numbers; SHA-256 of the file's bytes); ``whole``: parse a big
    file in one piece too (for the exact error of a broken one)."""
    path = Path(path)
    if path.suffix != ".parquet" and not whole:
        mapped = _read_mapped_csv(path)
        if mapped is not None:
            return mapped
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise LandingFileError(str(path), f"cannot be read ({exc.strerror})") from None
    digest = hashlib.sha256(data).hexdigest()
    if path.suffix == ".parquet":
        return _parse_parquet(data, str(path)), digest
    guard_text(data, str(path))
    if whole or len(data) <= WHOLE_FILE_BYTES:  # parsed from the bytes already read, on every core at once
        return _parse_csv(data, str(path)), digest
    del data
    frames = list(csv_batches(path))
    return pl.concat(frames) if len(frames) > 1 else frames[0], digest


def read_header(path: str | Path) -> list[str]:
    """The file's column names, reading only its first line (or Parquet footer)."""
    path = Path(path)
    try:
        if path.suffix == ".parquet":
            try:
                return list(pl.read_parquet_schema(path))
            except Exception as exc:
                raise LandingFileError(str(path), f"is not a readable Parquet file ({exc})") from None
        with path.open("rb") as handle:
            first = handle.readline(1 << 20)
    except OSError as exc:
        raise LandingFileError(str(path), f"cannot be read ({exc.strerror})") from None
    guard_text(first, str(path))
    error = encoding_error(first, str(path))
    if error:
        raise error
    return check_header(pl.read_csv(first, infer_schema=False, n_rows=0).columns, str(path))


def check_day(landing_dir: str | Path, day: dt.date) -> Path:
    """Cheap whole-file checks before a run reads anything: the file exists, has a header, and the columns.

    An object-store landing dir is read through its local mirror (``remote.local_folder``); the
    path returned is the mirror's copy, the errors name the object.
    """
    local = local_folder(landing_dir)
    with named_as_given(landing_dir, local):
        path = find_day_file(local, day)
        if path.stat().st_size == 0:
            raise LandingFileError(str(path), "is empty")
        mapping = landing_mapping(local)
        if mapping is None:
            resolve_columns(read_header(path), str(path))
        else:
            header = read_header(path)
            check_columns(resolve(mapping, header), header, str(path))
    return path


def load_day(landing_dir: str | Path, day: dt.date, timezone: str | None = None) -> ValidatedDay:
    """Read and validate ``day``'s file (through the folder's mapping.toml, if any); whole-file
    problems raise LandingFileError naming its path (the object's URI on an object store)."""
    local = local_folder(landing_dir)
    with named_as_given(landing_dir, local):
        path = find_day_file(local, day)
        if path.suffix == ".csv" and path.stat().st_size > WHOLE_FILE_BYTES:
            from .big_files import load_big_day  # it builds on this module

            return load_big_day(path, day, landing_mapping(local), timezone)
        raw, digest = read_orders_file(path)
        return validate_file(raw, day, path, landing_mapping(local), timezone, digest)


def validate_file(
    raw: pl.DataFrame,
    day: dt.date,
    path: Path,
    mapping: Mapping | None,
    timezone: str | None = None,
    digest: str | None = None,
) -> ValidatedDay:
    """One day's rows as read, mapped (when a mapping is given) and validated as the pipeline does."""
    excluded = DEFAULT_EXCLUDED
    try:
        if mapping is not None:
            data_cols = [c for c in raw.columns if c not in (LINE, MALFORMED)]
            mapping = resolve(mapping, data_cols)
            check_columns(mapping, data_cols, str(path))
            raw, excluded = map_file(raw, mapping, path.stem, str(path)), mapping.exclude_status
        checked = validate_orders(raw, day, path.name, excluded_status=excluded, timezone=timezone)
    except LandingFileError as exc:
        raise LandingFileError(str(path), exc.problem) from None
    return dataclasses.replace(checked, report=dataclasses.replace(checked.report, sha256=digest))


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()

"""Day files too big to hold as text (ten million lines, a gigabyte): read, mapped and validated a
batch at a time, so memory follows the day's orders, not its CSV.

The rules are the whole-file rules (``validate_orders``, ``to_spd``) applied per batch; what a batch
cannot judge alone is judged once for the file: whether most rows are another day, one currency,
and an (order_id, sku) pair repeated in a later batch, which is quarantined like any repeat.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import polars as pl

from .. import schema
from .exports import file_decimal, to_spd
from .files import _drop_blank, _numbered, read_header, read_orders_file, validate_file
from .mapping import Mapping, check_columns, resolve
from .money import check_one_currency
from .pairs import PAIR_HASH, repeated_pairs
from .statuses import DEFAULT_EXCLUDED
from .validate import (
    LINE,
    LandingFileError,
    OtherDays,
    ValidatedDay,
    ValidationReport,
    problem_counts,
    validate_orders,
)

BIG_BATCH_ROWS = 1_000_000  # rows validated at a time: a few hundred MB of working columns


class _LinesMoved(Exception):
    """A field holds a newline (or a line is blank): line = row + 2 was wrong; count them exactly."""


def _digest_and_newlines(path: Path) -> tuple[str, int]:
    """SHA-256 of the file and the number of lines a row-per-line file would have, in one read."""
    digest, newlines, last = hashlib.sha256(), 0, b""
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(8 << 20), b""):
            digest.update(block)
            newlines += block.count(b"\n")
            last = block
    return digest.hexdigest(), newlines - last.endswith(b"\n")


def _batches(path: Path, exact: bool, expected_rows: Callable[[], int]) -> Iterator[pl.DataFrame]:
    """The file's rows as text with their lines, a batch at a time, blank rows dropped."""
    cols, line, rows = read_header(path), 2, 0
    for batch in pl.scan_csv(path, infer_schema=False).collect_batches(chunk_size=BIG_BATCH_ROWS):
        if exact:
            batch, line = _numbered(batch, line)
        else:
            batch = batch.with_columns((pl.int_range(pl.len(), dtype=pl.Int64) + rows + 2).alias(LINE))
        rows += batch.height
        yield _drop_blank(batch, cols)
    if not exact and rows != expected_rows():
        raise _LinesMoved


def load_big_day(path: Path, day, mapping: Mapping | None, timezone: str | None) -> ValidatedDay:
    """``files.load_day`` for a CSV day file over ``files.WHOLE_FILE_BYTES``: the same result."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="spd-digest") as pool:
        scanned = pool.submit(_digest_and_newlines, path)  # on the other core, while batches parse

        def expected_rows() -> int:
            return scanned.result()[1]

        try:
            try:
                checked = _load(path, day, mapping, timezone, exact=False, expected_rows=expected_rows)
            except _LinesMoved:
                checked = _load(path, day, mapping, timezone, exact=True, expected_rows=expected_rows)
        except pl.exceptions.ComputeError:  # ragged rows or bad bytes: the whole-file reader names them
            raw, _ = read_orders_file(path, whole=True)
            return validate_file(raw, day, path, mapping, timezone, scanned.result()[0])
        except LandingFileError as exc:
            raise LandingFileError(str(path), exc.problem) from None
        return replace(checked, report=replace(checked.report, sha256=scanned.result()[0]))


def _load(
    path: Path,
    day,
    mapping: Mapping | None,
    timezone: str | None,
    exact: bool,
    expected_rows: Callable[[], int],
):
    orders, quarantines, other_days = [], [], OtherDays()
    rows_in, carry, decimal, currencies = 0, None, None, set()
    excluded = mapping.exclude_status if mapping is not None else DEFAULT_EXCLUDED
    for batch in _batches(path, exact, expected_rows):
        rows_in += batch.height
        if mapping is not None:
            data_cols = [c for c in batch.columns if c != LINE]
            mapping = resolve(mapping, data_cols)
            check_columns(mapping, data_cols, str(path))
            decimal = decimal or file_decimal(batch, mapping, str(path))
            mapped = to_spd(batch, mapping, path.stem, decimal, carry)
            batch, carry = mapped.frame, mapped.frame.tail(1)
            currencies |= mapped.currencies
        checked = validate_orders(
            batch, day, path.name, excluded_status=excluded, timezone=timezone, whole_file=False
        )
        orders.append(checked.orders)
        quarantines.append(checked.quarantine)
        other_days = other_days + checked.other_days
    check_one_currency(currencies, str(path))
    other_days.check(day, path.name)
    working = {LINE: pl.Int64, PAIR_HASH: pl.UInt64}
    empty = schema.empty({**schema.ORDERS, **schema.ORDER_STATUS, **working})
    kept = pl.concat(orders) if orders else empty
    later = repeated_pairs(kept, "order_id", "sku", hashes=kept[PAIR_HASH])  # repeated in a later batch
    if later.any():
        quarantines.append(_repeats(path, day, kept.filter(later), exact, expected_rows))
        kept = kept.filter(~later)
    quarantine = schema.conform(pl.concat(quarantines).sort("line"), schema.QUARANTINE)
    kept = kept.drop(LINE, PAIR_HASH)
    if kept.height + quarantine.height != rows_in:  # a bug, never bad input
        raise AssertionError(f"{path}: {rows_in} in != {kept.height} + {quarantine.height}")
    report = ValidationReport(
        day=day,
        source_file=path.name,
        rows_in=rows_in,
        rows_kept=kept.height,
        rows_quarantined=quarantine.height,
        problems=problem_counts(quarantine),
        rows_cancelled=kept.height - int(kept["counted"].sum()),
    )
    return ValidatedDay(orders=kept, quarantine=quarantine, report=report, other_days=other_days)


def _repeats(
    path: Path, day, repeated: pl.DataFrame, exact: bool, expected_rows: Callable[[], int]
) -> pl.DataFrame:
    """Quarantine rows for pairs first seen in an earlier batch, with the file's own row as raw."""
    lines = repeated[LINE]
    rows = pl.concat(
        b.filter(pl.col(LINE).is_in(lines.implode())) for b in _batches(path, exact, expected_rows)
    )
    data_cols = [c for c in rows.columns if c != LINE]
    return rows.select(
        date=pl.lit(day, dtype=pl.Date),
        source_file=pl.lit(path.name),
        line=pl.col(LINE),
        order_id=repeated.sort(LINE)["order_id"],
        field=pl.lit("order_id"),
        reason=pl.lit("duplicate order_id and sku"),
        raw=pl.struct(data_cols).struct.json_encode(),
    ).sort("line")

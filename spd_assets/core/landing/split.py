"""Splitting a shop's export into the landing folder's daily files, in spd's schema, all or nothing.

Streams the export in batches (memory stays bounded), maps and parses each batch as the pipeline
would, appends each day's rows to a hidden temporary file, then validates every day with the
pipeline's own rules so the user sees what will be quarantined before any run. Files are renamed
into place only when the whole export went through; ``dry_run`` writes nothing.
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from .exports import derived_fields, file_decimal, to_spd
from .files import csv_batches, daily_file_name, day_of, read_header, read_orders_file, sha256_file
from .mapping import FIELDS, Mapping, check_columns, resolve
from .money import check_one_currency
from .statuses import normalized
from .timestamps import with_when
from .validate import LINE, LandingFileError, validate_orders
from .xlsx import xlsx_batches, xlsx_header

BATCH_ROWS = 200_000  # rows of the export held in memory at a time
FORMATS = (".csv", ".parquet", ".xlsx")


@dataclass
class SplitResult:
    """What the import did or (dry run) would do."""

    mapping: Mapping
    decimal: str = "."
    days: list[dt.date] = field(default_factory=list)
    rows: int = 0
    statuses: Counter = field(default_factory=Counter)
    cancelled: int = 0
    quarantined: Counter = field(default_factory=Counter)
    quarantined_rows: int = 0
    first_rows: pl.DataFrame | None = None
    written: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)

    @property
    def derived(self) -> tuple[str, ...]:
        return derived_fields(self.mapping)


def export_header(export: Path) -> list[str]:
    """The export's column names, checked to be a format spd reads."""
    if export.suffix not in FORMATS:
        raise LandingFileError(str(export), "is not a .csv, .parquet or .xlsx file")
    if not export.is_file():
        raise LandingFileError(str(export), "does not exist")
    return xlsx_header(export) if export.suffix == ".xlsx" else read_header(export)


def _batches(export: Path) -> Iterator[pl.DataFrame]:
    if export.suffix == ".parquet":
        scan = pl.scan_parquet(export).with_row_index(LINE, offset=1)
        for batch in scan.collect_batches(chunk_size=BATCH_ROWS):
            yield batch.with_columns(pl.col(LINE).cast(pl.Int64))
    elif export.suffix == ".xlsx":
        yield from xlsx_batches(export, BATCH_ROWS)
    else:
        yield from csv_batches(export, BATCH_ROWS)


def split_export(
    export: str | Path,
    landing_dir: str | Path,
    mapping: Mapping | None = None,
    overwrite: bool = False,
    dry_run: bool = False,
    timezone: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> SplitResult:
    """One ``orders_YYYY-MM-DD.csv`` per day of ``export``; ``progress(rows, line)`` after each batch."""
    export, root = Path(export), Path(landing_dir)
    header = export_header(export)
    mapping = resolve(mapping or Mapping(), header)
    check_columns(mapping, header, str(export))
    result = SplitResult(mapping=mapping)
    work = Path(tempfile.mkdtemp(prefix="spd-import-")) if dry_run else root
    work.mkdir(parents=True, exist_ok=True)
    temps: dict[dt.date, Path] = {}
    undated: list[str] = []
    currencies: set[str] = set()
    bad, carry, decimal = 0, None, None
    extra = [c for c in header if c.strip().lower() == "ts" and c not in mapping.columns.values()]
    try:
        for batch in _batches(export):
            batch = batch.with_columns(pl.exclude(LINE).cast(pl.String))
            decimal = decimal or file_decimal(batch, mapping, str(export))
            mapped = to_spd(batch, mapping, export.stem, decimal, carry)
            frame, carry = mapped.frame, mapped.frame.tail(1)
            currencies |= mapped.currencies
            frame = with_when(frame, "date", pl.String, "__when_", timezone)
            missing = frame.filter(pl.col("__when_date").is_null())
            bad += missing.height
            undated += [
                f"line {r[LINE]}: {r['date']!r}" for r in missing.head(5 - len(undated)).rows(named=True)
            ]
            if "status" in frame.columns:
                result.statuses.update(dict(frame.group_by(normalized(pl.col("status"))).len().iter_rows()))
            out = [f for f in FIELDS if f in frame.columns and f != "currency"] + extra
            if result.first_rows is None:
                result.first_rows = frame.select(out).head(5)
            dated = frame.filter(pl.col("__when_date").is_not_null())
            for (day,), part in dated.partition_by("__when_date", as_dict=True, maintain_order=True).items():
                first = day not in temps
                if first:
                    temps[day] = work / f".{daily_file_name(day)}.tmp-{uuid.uuid4().hex}"
                with temps[day].open("ab") as sink:
                    part.select(out).write_csv(sink, include_header=first)
            result.rows += frame.height
            if progress:
                progress(result.rows, int(frame[LINE].max() or 0))
        check_one_currency(currencies, str(export))
        if bad:
            raise LandingFileError(
                str(export),
                f"{bad} row(s) have a {mapping.columns['date']} that does not parse ({'; '.join(undated)}); "
                "fix them and import again (nothing was written)",
            )
        result.decimal, result.days = decimal or ".", sorted(temps)
        _validate(result, temps, timezone)
        if not dry_run:
            _place(result, temps, root, overwrite)
        return result
    finally:
        for tmp in temps.values():
            tmp.unlink(missing_ok=True)
        if dry_run:
            os.rmdir(work)


def _validate(result: SplitResult, temps: dict[dt.date, Path], timezone: str | None) -> None:
    """Each day through the pipeline's validation: what it will count as cancelled and quarantine."""
    for day, tmp in sorted(temps.items()):
        raw, _ = read_orders_file(tmp)
        checked = validate_orders(
            raw, day, daily_file_name(day), excluded_status=result.mapping.exclude_status, timezone=timezone
        )
        result.cancelled += checked.report.rows_cancelled
        result.quarantined_rows += checked.report.rows_quarantined
        result.quarantined.update(checked.report.problems)


def _place(result: SplitResult, temps: dict[dt.date, Path], root: Path, overwrite: bool) -> None:
    """Rename the temporary day files into place, unless one would replace different content unasked."""
    plan = {day: (tmp, root / daily_file_name(day)) for day, tmp in sorted(temps.items())}
    parquet = [
        root / daily_file_name(d, "parquet") for d in plan if (root / daily_file_name(d, "parquet")).exists()
    ]
    if parquet:
        raise LandingFileError(
            str(parquet[0]),
            f"already holds {day_of(parquet[0].name)}; remove it or the day from the export "
            "(nothing was written)",
        )
    existing = {day: final for day, (_, final) in plan.items() if final.exists()}
    unchanged = [f.name for d, f in existing.items() if sha256_file(f) == sha256_file(plan[d][0])]
    replaced = [f.name for f in existing.values() if f.name not in unchanged]
    if replaced and not overwrite:
        raise LandingFileError(
            str(root),
            f"{len(replaced)} day file(s) exist with other content ({', '.join(replaced[:5])}); "
            "pass --overwrite to replace them (nothing was written)",
        )
    for tmp, final in plan.values():
        if final.name not in unchanged:
            os.replace(tmp, final)
            result.written.append(final.name)
    result.unchanged, result.replaced = unchanged, replaced

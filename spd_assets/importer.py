"""``spd import EXPORT``: split a multi-day orders export into the landing folder's daily files.

So a year of history is loaded in one command, then backfilled (or picked up by the landing sensor).
Rows are copied as the export wrote them; validation and quarantine happen in the pipeline, per day.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from .core.landing.files import daily_file_name, day_of, read_header, sha256_file
from .core.landing.validate import LINE, LandingFileError, resolve_columns, with_when

BATCH_ROWS = 200_000  # rows of the export held in memory at a time


@dataclass(frozen=True)
class SplitResult:
    """What ``split_export`` did: the days found, rows written, and files written/unchanged/replaced."""

    days: list[dt.date]
    rows: int
    written: list[str]
    unchanged: list[str]
    replaced: list[str]


def split_export(export: str | Path, landing_dir: str | Path, overwrite: bool = False) -> SplitResult:
    """One ``orders_YYYY-MM-DD.csv`` per day of the export, all or nothing.

    Streams the export in batches, appends each day's rows to a hidden temporary file, and renames
    them into place only when every row has a day; a day whose file exists with other content is
    refused unless ``overwrite``. Rows whose date does not parse refuse the import, naming their lines.
    """
    export, root = Path(export), Path(landing_dir)
    if export.suffix not in (".csv", ".parquet"):
        raise LandingFileError(str(export), "is not a .csv or .parquet file")
    if not export.is_file():
        raise LandingFileError(str(export), "does not exist")
    cols = resolve_columns(read_header(export), str(export))
    when = cols.get("date", cols.get("ts"))
    if export.suffix == ".parquet":
        scan = pl.scan_parquet(export).with_row_index(LINE, offset=1)
    else:
        scan = pl.scan_csv(export, infer_schema=False, row_index_name=LINE, row_index_offset=2)
    scan = with_when(scan, when, scan.collect_schema()[when], "__when_").rename({"__when_date": "__day"})
    root.mkdir(parents=True, exist_ok=True)
    temps: dict[dt.date, Path] = {}
    undated: list[str] = []
    bad = rows = 0
    try:
        for batch in scan.drop("__when_ts").collect_batches(chunk_size=BATCH_ROWS):
            missing = batch.filter(pl.col("__day").is_null())
            bad += missing.height
            undated += [
                f"line {r[LINE]}: {r[when]!r}" for r in missing.head(5 - len(undated)).rows(named=True)
            ]
            dated = batch.filter(pl.col("__day").is_not_null())
            for (day,), part in dated.partition_by("__day", as_dict=True, maintain_order=True).items():
                first = day not in temps
                if first:
                    temps[day] = root / f".{daily_file_name(day)}.tmp-{uuid.uuid4().hex}"
                with temps[day].open("ab") as sink:
                    part.drop(LINE, "__day").write_csv(sink, include_header=first)
                rows += part.height
        if bad:
            raise LandingFileError(
                str(export),
                f"{bad} row(s) have a {when} that does not parse ({'; '.join(undated)}); "
                "fix them and import again (nothing was written)",
            )
        return _place(temps, root, overwrite, rows)
    finally:
        for tmp in temps.values():
            tmp.unlink(missing_ok=True)


def _place(temps: dict[dt.date, Path], root: Path, overwrite: bool, rows: int) -> SplitResult:
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
    written = []
    for tmp, final in plan.values():
        if final.name not in unchanged:
            os.replace(tmp, final)
            written.append(final.name)
    return SplitResult(days=list(plan), rows=rows, written=written, unchanged=unchanged, replaced=replaced)


def main(argv: list[str] | None = None) -> int:
    """``spd import EXPORT [--landing-dir DIR] [--overwrite]``; exit 0 on success, 1 on bad input."""
    from .core.settings import SettingsError, load_settings

    parser = argparse.ArgumentParser(
        prog="spd import",
        description="Split a multi-day orders export into the landing folder's daily files.",
    )
    parser.add_argument(
        "export", help="a .csv or .parquet export with order_id, date (or ts), sku, region, qty, price"
    )
    parser.add_argument("--landing-dir", help="where the daily files go (default: SPD_LANDING_DIR)")
    parser.add_argument(
        "--overwrite", action="store_true", help="replace day files that exist with other content"
    )
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"spd import: {exc}", file=sys.stderr)
        return 1
    landing = args.landing_dir or settings.landing_dir
    try:
        result = split_export(args.export, landing, overwrite=args.overwrite)
    except LandingFileError as exc:
        print(f"spd import: {exc}", file=sys.stderr)
        return 1
    if not result.days:
        print(f"spd import: {args.export} has no rows; nothing to write", file=sys.stderr)
        return 1
    first, last = result.days[0], result.days[-1]
    print(
        f"spd import: {result.rows:,} rows over {len(result.days)} day(s) ({first} .. {last}) into "
        f"{landing}: {len(result.written)} file(s) written ({len(result.replaced)} replaced), "
        f"{len(result.unchanged)} unchanged"
    )
    today = dt.datetime.now(dt.UTC).date()
    if first < settings.start_date:
        print(
            f"spd import: note: days before SPD_START_DATE={settings.start_date} are not partitions; "
            "set SPD_START_DATE earlier to process them"
        )
    if last >= today:
        print(f"spd import: note: {today} and later become partitions once each UTC day has ended")
    first_run, last_run = max(first, settings.start_date), min(last, today - dt.timedelta(days=1))
    if first_run <= last_run:
        tags = (
            f'{{"dagster/asset_partition_range_start": "{first_run}", '
            f'"dagster/asset_partition_range_end": "{last_run}"}}'
        )
        print(
            "spd import: next, with SPD_SOURCE=landing: the landing sensor picks the files up, "
            "or backfill them in one run:\n"
            "  dagster asset materialize -m spd_assets.definitions --select catalog\n"
            f"  dagster job execute -m spd_assets.definitions -j daily_pipeline --tags '{tags}'"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

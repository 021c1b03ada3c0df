"""``spd import EXPORT``: a shop's own export (its column names, statuses, money formats) as the
landing folder's daily files in spd's schema, with a report of what the pipeline will make of it.

So a real Shopify/WooCommerce export or a finance spreadsheet loads in minutes without hand edits;
the mapping, parsing and validation are the core's (``core/landing``), shared with the pipeline.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shlex
import sys
import time
from pathlib import Path

from .core.landing import mapping as maps
from .core.landing.split import SplitResult, split_export
from .core.landing.statuses import parse_excluded
from .core.landing.validate import LandingFileError
from .core.run_tags import catalog_command, pipeline_command, range_tags


class ProgressBar:
    """A one-line bar with rows/s on stderr, shown only once an import has taken over a second."""

    def __init__(self, export: Path, every_s: float = 0.5) -> None:
        self.size, self.started, self.last, self.every = (
            export.stat().st_size,
            time.perf_counter(),
            0.0,
            every_s,
        )
        with export.open("rb") as handle:
            sample = handle.read(1 << 20)
        self.line_bytes = len(sample) / max(sample.count(b"\n"), 1)
        self.shown = False

    def __call__(self, rows: int, line: int) -> None:
        now = time.perf_counter()
        if now - self.started < 1 or now - self.last < self.every:
            return
        self.last, self.shown = now, True
        done = min(line * self.line_bytes / max(self.size, 1), 1.0)
        bar = "#" * int(done * 30)
        rate = rows / (now - self.started)
        print(f"\r[{bar:<30}] {done:4.0%} {rows:,} rows, {rate:,.0f} rows/s", end="", file=sys.stderr)

    def close(self) -> None:
        if self.shown:
            print(file=sys.stderr)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="spd import", description="Split a shop's orders export into the landing folder's daily files."
    )
    parser.add_argument("export", help="a .csv, .parquet or .xlsx export")
    parser.add_argument("--landing-dir", help="where the daily files go (default: SPD_LANDING_DIR)")
    parser.add_argument("--overwrite", action="store_true", help="replace day files with other content")
    parser.add_argument(
        "--map",
        action="append",
        default=[],
        metavar="FIELD=COLUMN",
        help=f"the export's column for one of spd's fields ({', '.join(maps.FIELDS)}); repeatable",
    )
    parser.add_argument("--mapping", help="a mapping file (.toml or .json) saved by --save-mapping")
    parser.add_argument("--save-mapping", metavar="FILE", help="keep the mapping used for the next export")
    parser.add_argument("--dry-run", action="store_true", help="show what would be imported; write nothing")
    parser.add_argument(
        "--exclude-status", help="statuses kept out of revenue (default: cancelled,refunded,voided,failed)"
    )
    parser.add_argument("--decimal", choices=(".", ","), help="the decimal separator of money columns")
    return parser


def _mapping(args: argparse.Namespace) -> maps.Mapping:
    mapping = maps.load(args.mapping) if args.mapping else maps.Mapping()
    mapping = mapping.with_columns(maps.parse_map_args(args.map))
    changes = {}
    if args.exclude_status:
        changes["exclude_status"] = parse_excluded(args.exclude_status)
    if args.decimal:
        changes["decimal"] = args.decimal
    return maps.Mapping(**{**mapping.__dict__, **changes})


def _report(result: SplitResult, given: set[str], dry_run: bool) -> list[str]:
    m = result.mapping
    chosen = ", ".join(f"{f} <- {c!r}{'' if f in given else ' (alias)'}" for f, c in m.columns.items())
    lines = [f"mapping: {chosen}"]
    absent = [f for f in maps.FIELDS if f not in m.columns]
    if absent:
        lines.append(f"not found in the export: {', '.join(absent)}")
    if result.derived:
        lines.append(f"derived: {'; '.join(result.derived)}")
    lines.append(f"money: decimal {'comma' if result.decimal == ',' else 'point'} ({result.decimal!r})")
    span = f"{result.days[0]} .. {result.days[-1]}" if result.days else "none"
    lines.append(f"{result.rows:,} rows read over {len(result.days)} day(s) ({span})")
    if result.statuses:
        per = ", ".join(f"{s or '(empty)'} {n:,}" for s, n in result.statuses.most_common())
        lines.append(f"rows per status: {per}")
    lines.append(f"rows excluded by status ({', '.join(m.exclude_status)}): {result.cancelled:,}")
    reasons = ", ".join(f"{r} {n:,}" for r, n in result.quarantined.most_common()) or "none"
    lines.append(f"rows the pipeline will quarantine: {result.quarantined_rows:,} ({reasons})")
    if dry_run and result.first_rows is not None:
        lines.append(f"first rows as spd reads them:\n{result.first_rows}")
    return lines


def main(argv: list[str] | None = None) -> int:
    """``spd import EXPORT [options]``; exit 0 on success, 1 on bad input (nothing written)."""
    from .core.filesystems import is_remote
    from .core.settings import SettingsError, load_settings

    args = _parser().parse_args(argv)
    try:
        settings = load_settings()
        mapping = _mapping(args)
    except (SettingsError, ValueError) as exc:
        print(f"spd import: {exc}", file=sys.stderr)
        return 1
    landing = args.landing_dir or settings.landing_dir
    if is_remote(landing):
        print(
            f"spd import: the landing folder {landing} is on an object store; import into a local folder"
            f" (--landing-dir DIR), then copy its files there (e.g. aws s3 sync DIR {landing})",
            file=sys.stderr,
        )
        return 1
    export = Path(args.export)
    bar = ProgressBar(export) if export.is_file() else None
    try:
        result = split_export(
            export,
            landing,
            mapping,
            overwrite=args.overwrite,
            dry_run=args.dry_run,
            timezone=settings.timezone,
            progress=bar,
        )
    except LandingFileError as exc:
        print(f"spd import: {exc}", file=sys.stderr)
        return 1
    finally:
        if bar:
            bar.close()
    for line in _report(result, set(mapping.columns), args.dry_run):
        print(f"spd import: {line}")
    if args.save_mapping:
        maps.save(result.mapping, args.save_mapping)
        print(f"spd import: mapping saved to {args.save_mapping} (use it with --mapping)")
    if not result.days:
        print(f"spd import: {args.export} has no rows; nothing to write", file=sys.stderr)
        return 1
    if args.dry_run:
        print("spd import: dry run: nothing was written")
        return 0
    if mapping.exclude_status != maps.Mapping().exclude_status:
        kept = maps.Mapping(columns=result.mapping.columns, exclude_status=mapping.exclude_status)
        maps.save(kept, Path(landing) / maps.MAPPING_FILES[0])
        print(f"spd import: {Path(landing) / maps.MAPPING_FILES[0]} keeps --exclude-status for the pipeline")
    first, last = result.days[0], result.days[-1]
    print(
        f"spd import: {result.rows:,} rows over {len(result.days)} day(s) ({first} .. {last}) into "
        f"{landing}: {len(result.written)} file(s) written ({len(result.replaced)} replaced), "
        f"{len(result.unchanged)} unchanged"
    )
    _next_steps(settings, first, last)
    return 0


def _next_steps(settings, first: dt.date, last: dt.date) -> None:
    today = settings.current_day()
    if first < settings.start_date:
        print(
            f"spd import: note: days before SPD_START_DATE={settings.start_date} are not partitions; "
            "set SPD_START_DATE earlier to process them"
        )
    if last >= today:
        print(f"spd import: note: {today} and later become partitions once each day has ended")
    first_run, last_run = max(first, settings.start_date), min(last, today - dt.timedelta(days=1))
    if first_run <= last_run:
        catalog, pipeline = catalog_command(), pipeline_command(range_tags(first_run, last_run))
        print(
            "spd import: next, with SPD_SOURCE=landing: the landing sensor picks the files up, "
            "or backfill them in one run:\n"
            f"  dagster {shlex.join(catalog)}\n"
            f"  dagster {shlex.join(pipeline)}"
        )


if __name__ == "__main__":
    sys.exit(main())

"""The landing folder as a whole: which day files are there, which changed, and what to re-run.

Pure file and DataFrame logic, no Dagster: the landing sensor calls it on every tick.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from .files import CATALOG_FILE, day_of, sha256_file
from .mapping import MAPPING_FILES
from .remote import local_folder
from .validate import LandingFileError

SHA_TAG = "spd/landing_sha256"  # run tag: the content hash of each day file the sensor saw
SHA_PREFIX = 16  # hex digits kept per day: a year of days stays a small tag


@dataclass(frozen=True)
class FileState:
    """What the landing sensor remembers of a file: its content hash and the stat that guards rehashing."""

    sha256: str
    size: int
    mtime_ns: int


def scan_landing(
    landing_dir: str | Path,
    known: dict[str, FileState],
    settle_s: float = 0.0,
    now: float | None = None,
    budget_s: float | None = None,
) -> dict[str, FileState]:
    """The daily files, catalog.csv and mapping.toml/.json now in the folder, hashed only when their
    size or mtime changed.

    A file modified less than ``settle_s`` ago (maybe still being copied in), or met after ``budget_s``
    seconds of hashing (a year of history landing at once), keeps its previous state, if any, and is
    hashed on a later tick. An object-store folder is listed once and read through its mirror.
    """
    root = local_folder(landing_dir)
    if not root.is_dir():
        return {}
    now = dt.datetime.now(dt.UTC).timestamp() if now is None else now
    started = time.monotonic()
    states = {}
    for entry in sorted(os.scandir(root), key=lambda e: e.name):
        watched = entry.name == CATALOG_FILE or entry.name in MAPPING_FILES or day_of(entry.name)
        if not entry.is_file() or not watched:
            continue
        stat, old = entry.stat(), known.get(entry.name)
        if old and (old.size, old.mtime_ns) == (stat.st_size, stat.st_mtime_ns):
            states[entry.name] = old
            continue
        over_budget = budget_s is not None and time.monotonic() - started > budget_s
        try:
            if now - stat.st_mtime >= settle_s and not over_budget:
                states[entry.name] = FileState(sha256_file(Path(entry.path)), stat.st_size, stat.st_mtime_ns)
                continue
        except OSError:
            pass  # vanished or unreadable right now
        if old:  # looked at again on a later tick
            states[entry.name] = old
    return states


def affected_days(changed: Iterable[dt.date], landed: Iterable[dt.date], window_days: int) -> set[dt.date]:
    """The changed days and the later landed days whose ``window_days``-day windows read one of them.

    A rolling window of day d reads d-window_days+1 .. d, so a change on day c reaches c .. c+window-1;
    only days that have a file can be re-run (a day with none is unknown, not zero).
    """
    have = set(landed)
    out: set[dt.date] = set()
    for day in changed:
        out.add(day)
        out.update(d for d in (day + dt.timedelta(days=k) for k in range(1, window_days)) if d in have)
    return out


def stale_category_days(stored: pl.DataFrame, catalog: pl.DataFrame) -> set[dt.date]:
    """Days of a stored daily_agg (date, sku, category) where a SKU's category is not the catalog's now.

    daily_agg joins the category when it is materialized, so a new catalog.csv reaches a stored day
    only when that day is re-run; these are the days to re-run (a SKU gone from the catalog counts as
    ``unknown``, as the aggregation files it).
    """
    if stored.is_empty():
        return set()
    now = catalog.select("sku", pl.col("category").alias("now"))
    joined = stored.select("date", "sku", "category").unique().join(now, on="sku", how="left")
    stale = joined.filter(pl.col("category") != pl.col("now").fill_null("unknown"))
    return set(stale["date"].unique().to_list())


def contiguous(days: Iterable[dt.date]) -> list[tuple[dt.date, dt.date]]:
    """Runs of consecutive days as (first, last), oldest first."""
    spans: list[tuple[dt.date, dt.date]] = []
    for day in sorted(set(days)):
        if spans and day == spans[-1][1] + dt.timedelta(days=1):
            spans[-1] = (spans[-1][0], day)
        else:
            spans.append((day, day))
    return spans


def landed_days(landing_dir: str | Path) -> set[dt.date]:
    """The days that have an orders file in the landing folder now."""
    root = local_folder(landing_dir)
    if not root.is_dir():
        return set()
    return {d for e in os.scandir(root) if e.is_file() and (d := day_of(e.name)) is not None}


def compare_with_loaded(landed: Iterable[dt.date], loaded: Iterable[dt.date]) -> dict[str, list[dt.date]]:
    """Days loaded whose file is gone ('deleted'), and days with a file not loaded yet ('waiting')."""
    landed, loaded = set(landed), set(loaded)
    return {"deleted": sorted(loaded - landed), "waiting": sorted(landed - loaded)}


def sha_tag(hashes: Mapping[dt.date, str]) -> dict[str, str]:
    """The run tag carrying the hash the sensor saw for each day file it requests."""
    return {SHA_TAG: json.dumps({d.isoformat(): h[:SHA_PREFIX] for d, h in sorted(hashes.items())})}


def requested_hashes(tags: Mapping[str, str]) -> dict[dt.date, str]:
    """The hashes a run's tags carry (none for a run the sensor did not request)."""
    raw = tags.get(SHA_TAG)
    return {dt.date.fromisoformat(d): h for d, h in json.loads(raw).items()} if raw else {}


def check_unchanged(file: str, actual: str | None, requested: str | None) -> None:
    """Refuse a file whose content is not the one the sensor hashed when it requested the run (a copy
    still in progress, a re-export in between): the run fails and the sensor requests the day again."""
    if requested and actual and not actual.startswith(requested):
        raise LandingFileError(
            file,
            f"changed after the landing sensor requested this run (sha256 {actual[:SHA_PREFIX]}, requested "
            f"{requested}): nothing was loaded; the sensor requests it again once the file has settled",
        )

"""The landing-folder sensor: a new or changed day file re-runs that day and every partition downstream.

Late data changes more than its own day: ``daily_metrics`` for d reads days d-13..d, and ``alerts``
reads a longer window of metrics. The partitions to re-run are derived from the partition mappings in
the asset graph (not hard-coded), so a longer window downstream is followed automatically.

Different assets need different ranges (orders: the changed days; metrics: up to 13 days later;
alerts: later still), which one run cannot express and separate runs would race; the sensor therefore
requests an asset backfill of exactly those partitions. The backfill daemon runs them in dependency
order, as single runs per contiguous range (every dated asset has ``BackfillPolicy.single_run``).
"""

import datetime as dt
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
from dagster._core.definitions.assets.graph.asset_graph_subset import AssetGraphSubset

from ..core.landing import CATALOG_FILE, day_of, sha256_file
from ..partitions import daily
from ..resources import LandingSource, OrderSource
from ..settings import load_settings

SETTLE_SECONDS = 10.0  # a file modified more recently may still be being copied in
HASH_BUDGET_SECONDS = 20.0  # per tick, well inside the sensor's evaluation timeout
SOURCE_KEYS = (dg.AssetKey("orders"), dg.AssetKey("quarantine"))
LANDING_TARGETS = dg.AssetSelection.assets("catalog", "orders", "quarantine").downstream()


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
    """The daily files and catalog.csv now in the folder, hashed only when their size or mtime changed.

    A file modified less than ``settle_s`` ago (maybe still being copied in), or met after ``budget_s``
    seconds of hashing (a year of history landing at once), keeps its previous state, if any, and is
    hashed on a later tick.
    """
    root = Path(landing_dir)
    if not root.is_dir():
        return {}
    now = dt.datetime.now(dt.UTC).timestamp() if now is None else now
    started = time.monotonic()
    states = {}
    for entry in sorted(os.scandir(root), key=lambda e: e.name):
        if not entry.is_file() or not (entry.name == CATALOG_FILE or day_of(entry.name)):
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


def _load_cursor(cursor: str | None) -> tuple[dict[str, FileState], set[str]]:
    """(files seen, by name; names seen but not yet acted on because their day is not a partition)."""
    if not cursor:
        return {}, set()
    data = json.loads(cursor)
    return {n: FileState(**s) for n, s in data["files"].items()}, set(data.get("pending", []))


def _dump_cursor(states: dict[str, FileState], pending: set[str]) -> str:
    files = {n: s.__dict__ for n, s in sorted(states.items())}
    return json.dumps({"files": files, "pending": sorted(pending)}, separators=(",", ":"))


def _already_loaded(instance: dg.DagsterInstance, key: str, sha256: str) -> bool:
    """True if the latest `orders` materialization of this day was made from exactly this content."""
    filt = dg.AssetRecordsFilter(asset_key=dg.AssetKey("orders"), asset_partitions=[key])
    records = instance.fetch_materializations(filt, limit=1).records
    if not records or records[0].asset_materialization is None:
        return False
    recorded = records[0].asset_materialization.metadata.get("source_sha256")
    return recorded is not None and recorded.value == sha256


def downstream_partitions(asset_graph, day_keys: set[str]) -> dict[dg.AssetKey, set[str] | None]:
    """Partitions to re-run per asset when these days of `orders` change (None: an unpartitioned asset).

    Walks the graph in topological order and maps each asset's partitions to its children through
    their partition mappings (a 14-day window maps day d to d..d+13 downstream).
    """
    affected: dict[dg.AssetKey, set[str] | None] = {key: set(day_keys) for key in SOURCE_KEYS}
    for key in asset_graph.toposorted_asset_keys:
        keys = affected.get(key)
        if key not in affected or keys is None or not keys:
            continue
        node = asset_graph.get(key)
        for child in node.child_keys:
            child_def = asset_graph.get(child).partitions_def
            if child_def is None:
                affected[child] = None
                continue
            mapping = asset_graph.get_partition_mapping(child, key)
            subset = mapping.get_downstream_partitions_for_partitions(
                node.partitions_def.empty_subset().with_partition_keys(sorted(keys)),
                node.partitions_def,
                child_def,
            )
            existing = affected.setdefault(child, set())
            if existing is not None:
                existing.update(subset.get_partition_keys())
    return affected


def _subset(asset_graph, affected: dict[dg.AssetKey, set[str] | None], catalog: bool) -> AssetGraphSubset:
    partitioned = {
        key: asset_graph.get(key).partitions_def.empty_subset().with_partition_keys(sorted(keys))
        for key, keys in affected.items()
        if keys
    }
    unpartitioned = {key for key, keys in affected.items() if keys is None}
    if catalog:
        unpartitioned.add(dg.AssetKey("catalog"))
    return AssetGraphSubset(
        partitions_subsets_by_asset_key=partitioned, non_partitioned_asset_keys=unpartitioned
    )


@dg.sensor(
    name="landing_sensor",
    asset_selection=LANDING_TARGETS,
    minimum_interval_seconds=30,
    default_status=(
        dg.DefaultSensorStatus.RUNNING
        if load_settings().source == "landing"
        else dg.DefaultSensorStatus.STOPPED
    ),
    description="New or changed files in SPD_LANDING_DIR re-run their day and the windows that read it.",
)
def landing_sensor(context: dg.SensorEvaluationContext, source: OrderSource):
    """One backfill per tick covering every day file that is new or whose content hash changed."""
    if not isinstance(source, LandingSource):
        return dg.SkipReason("SPD_SOURCE is not 'landing': the landing folder is not the source of orders")
    known, pending = _load_cursor(context.cursor)
    now = scan_landing(source.landing_dir, known, settle_s=SETTLE_SECONDS, budget_s=HASH_BUDGET_SECONDS)
    changed = {n for n, s in now.items() if n in pending or n not in known or known[n].sha256 != s.sha256}
    first, last = daily.get_first_partition_key(), daily.get_last_partition_key()
    days, pending = set(), set()
    for name in sorted(changed):
        day = day_of(name)
        if day is None:
            continue
        key = day.isoformat()
        if first is None or last is None or not first <= key <= last:
            pending.add(name)  # not a partition (yet): acted on once it is
        elif not _already_loaded(context.instance, key, now[name].sha256):
            days.add(key)
    cursor = _dump_cursor(now, pending)
    catalog = CATALOG_FILE in changed or (CATALOG_FILE in known and CATALOG_FILE not in now)
    catalog |= (
        bool(days) and context.instance.get_latest_materialization_event(dg.AssetKey("catalog")) is None
    )
    if not days and not catalog:
        reason = f"no new or changed day files in {source.landing_dir}"
        if pending:
            reason += f"; {len(pending)} wait for their day to be a partition ({first} .. {last})"
        return dg.SensorResult(skip_reason=reason, cursor=cursor)
    asset_graph = context.repository_def.asset_graph
    affected = downstream_partitions(asset_graph, days) if days else {}
    ordered = sorted(days)
    what = f"{len(ordered)} day file(s) {ordered[0]} .. {ordered[-1]}" if ordered else "the catalog"
    context.log.info(f"landing_sensor: requesting a backfill of {what} and the partitions downstream")
    request = dg.RunRequest.for_asset_graph_subset(
        _subset(asset_graph, affected, catalog), tags={"spd/trigger": "landing_sensor", "spd/landing": what}
    )
    return dg.SensorResult(run_requests=[request], cursor=cursor)

"""The landing-folder sensor: a new or changed day file re-runs that day and every later day reading it.

Late data changes more than its own day: ``daily_metrics`` for d reads days d-13..d, so a file for
day c re-runs c and the landed days up to c+13 (their orders are re-read: a range run covers every
dated asset). Days to re-run wait in the cursor's queue and go out one contiguous range at a time,
each as one run over every dated asset (public ``RunRequest`` with the partition-range tags), the
next only once the previous finished: a range never reads a day another run is still writing, and
a gap (a day with no file) splits the queue instead of failing a run.

A new catalog.csv re-materializes the catalog first; once that run is done, the stored days whose
daily_agg holds a category the catalog no longer gives (and the windows reading them) re-run from
daily_agg on, from their stored orders.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json

import dagster as dg

from ..core.landing.files import CATALOG_FILE, day_of
from ..core.landing.folder import (
    FileState,
    affected_days,
    contiguous,
    requested_hashes,
    scan_landing,
    sha_tag,
    stale_category_days,
)
from ..core.landing.mapping import MAPPING_FILES
from ..core.metrics import LOOKBACK_DAYS
from ..core.settings import Settings
from ..core.storage import DayStore
from ..partitions import range_tags
from ..resources.order_sources import LandingSource, OrderSource

HASH_BUDGET_SECONDS = 20.0  # per tick, well inside the sensor's evaluation timeout
TRIGGER_TAG = "spd/trigger"
TRIGGER = "landing_sensor"
MAX_RETRIES = "2"  # run retries (dagster.yaml run_retries) for a transient failure
DATED_KEYS = [
    dg.AssetKey(k) for k in ("orders", "quarantine", "daily_agg", "daily_metrics", "alerts", "incidents")
]
CATALOG_KEY = dg.AssetKey("catalog")
SOURCE_KEYS = [dg.AssetKey("orders"), dg.AssetKey("quarantine")]  # read from the landing files
UNFINISHED = [
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]


def _load_cursor(cursor: str | None) -> dict:
    """files (seen, by name), pending (names whose day is not a partition yet), queue (days to run),
    catalog (a catalog run is due), catalog_sent (one was requested), recheck (compare the stored
    days' categories with the catalog once its run is done), recat (days to re-run from daily_agg on
    for new categories), seq (requests made)."""
    data = json.loads(cursor) if cursor else {}
    return {
        "files": {n: FileState(**s) for n, s in data.get("files", {}).items()},
        "pending": set(data.get("pending", [])),
        "queue": {dt.date.fromisoformat(d) for d in data.get("queue", [])},
        "catalog": bool(data.get("catalog", False)),
        "catalog_sent": bool(data.get("catalog_sent", False)),
        "recheck": bool(data.get("recheck", False)),
        "recat": {dt.date.fromisoformat(d) for d in data.get("recat", [])},
        "seq": int(data.get("seq", 0)),
    }


def _dump_cursor(state: dict) -> str:
    return json.dumps(
        {
            "files": {n: s.__dict__ for n, s in sorted(state["files"].items())},
            "pending": sorted(state["pending"]),
            "queue": sorted(d.isoformat() for d in state["queue"]),
            "catalog": state["catalog"],
            "catalog_sent": state["catalog_sent"],
            "recheck": state["recheck"],
            "recat": sorted(d.isoformat() for d in state["recat"]),
            "seq": state["seq"],
        },
        separators=(",", ":"),
    )


def _already_loaded(instance: dg.DagsterInstance, key: str, sha256: str) -> bool:
    """True if the latest `orders` materialization of this day was made from exactly this content."""
    filt = dg.AssetRecordsFilter(asset_key=dg.AssetKey("orders"), asset_partitions=[key])
    records = instance.fetch_materializations(filt, limit=1).records
    if not records or records[0].asset_materialization is None:
        return False
    recorded = records[0].asset_materialization.metadata.get("source_sha256")
    return recorded is not None and recorded.value == sha256


def _running(instance: dg.DagsterInstance) -> dg.DagsterRun | None:
    """A run this sensor started that has not finished yet (a retry of a failed one counts)."""
    runs = instance.get_runs(dg.RunsFilter(tags={TRIGGER_TAG: TRIGGER}, statuses=UNFINISHED), limit=1)
    return runs[0] if runs else None


def _refused_with(
    instance: dg.DagsterInstance, changed: set[dt.date], landed: dict[dt.date, str], now: dict[str, FileState]
) -> set[dt.date]:
    """Days of recent failed landing runs that requested a changed day's file with other content.

    Such a run refused its whole range before writing anything (the file changed under it), so its
    other days, unchanged and thus not re-queued by their own files, must run again too.
    """
    if not changed:
        return set()
    out: set[dt.date] = set()
    failed = dg.RunsFilter(tags={TRIGGER_TAG: TRIGGER}, statuses=[dg.DagsterRunStatus.FAILURE])
    for run in instance.get_runs(failed, limit=20):
        requested = {d: h for d, h in requested_hashes(run.tags).items() if d in landed}
        if any(d in changed and not now[landed[d]].sha256.startswith(h) for d, h in requested.items()):
            out |= {
                d for d in requested if not _already_loaded(instance, d.isoformat(), now[landed[d]].sha256)
            }
    return out


def _digest(names: list[str], files: dict[str, FileState]) -> str:
    text = "|".join(f"{n}:{files[n].sha256}" for n in names if n in files)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def _days(start: dt.date, end: dt.date) -> list[dt.date]:
    return [start + dt.timedelta(days=k) for k in range((end - start).days + 1)]


def _range_request(
    prefix: str, start: dt.date, end: dt.date, digest: str, keys: list[dg.AssetKey], tags: dict[str, str]
) -> dg.RunRequest:
    """One run of ``keys`` over start..end: a partition for one day, the range tags for more."""
    what = f"{len(_days(start, end))} day(s) {start} .. {end}"
    partition = {"partition_key": start.isoformat()} if start == end else {}
    range_ = {} if start == end else range_tags(start, end)
    return dg.RunRequest(
        run_key=f"{prefix}:{start}..{end}:{digest}",
        asset_selection=keys,
        tags={**tags, **range_, "spd/landing": what},
        **partition,
    )


def _recategorized_days(store: DayStore) -> set[dt.date]:
    """Stored days whose daily_agg (or the windows reading it) holds a category the catalog no longer
    gives, and that can be re-run from their stored orders."""
    agg_days = store.days("daily_agg")
    if not agg_days or not store.exists("catalog"):
        return set()
    stored = store.read_days("daily_agg", agg_days, columns=["date", "sku", "category"])
    stale = stale_category_days(stored, store.read("catalog"))
    return affected_days(stale, agg_days, LOOKBACK_DAYS + 1) & set(store.days("orders"))


def build_landing_sensor(settings: Settings, daily: dg.DailyPartitionsDefinition) -> dg.SensorDefinition:
    """The sensor, on by default when SPD_SOURCE=landing."""

    @dg.sensor(
        name="landing_sensor",
        asset_selection=dg.AssetSelection.assets(CATALOG_KEY, *DATED_KEYS),
        minimum_interval_seconds=settings.sensor_interval_s,
        default_status=(
            dg.DefaultSensorStatus.RUNNING if settings.source == "landing" else dg.DefaultSensorStatus.STOPPED
        ),
        description="New or changed files in SPD_LANDING_DIR re-run their day and the windows reading it.",
    )
    def landing_sensor(context: dg.SensorEvaluationContext, source: OrderSource):
        """At most one run per tick: the catalog if it changed, else the oldest range of queued days."""
        if not isinstance(source, LandingSource):
            return dg.SkipReason(
                "SPD_SOURCE is not 'landing': the landing folder is not the source of orders"
            )
        state = _load_cursor(context.cursor)
        known = state["files"]
        now = scan_landing(
            source.landing_dir, known, settle_s=settings.landing_settle_s, budget_s=HASH_BUDGET_SECONDS
        )
        changed = {
            n
            for n, s in now.items()
            if n in state["pending"] or n not in known or known[n].sha256 != s.sha256
        }
        deleted = sorted(n for n in known if n not in now)
        first, last = daily.get_first_partition_key(), daily.get_last_partition_key()

        def is_partition(day: dt.date) -> bool:
            return first is not None and last is not None and first <= day.isoformat() <= last

        landed = {d: n for n in now if (d := day_of(n)) is not None and is_partition(d)}
        state["pending"] = {n for n in changed if (d := day_of(n)) is not None and not is_partition(d)}
        new_days = {
            day_of(n)
            for n in changed
            if n in landed.values()
            and not _already_loaded(context.instance, day_of(n).isoformat(), now[n].sha256)
        }
        remapped = any(n in MAPPING_FILES for n in changed) or any(
            n in known and n not in now for n in MAPPING_FILES
        )
        if remapped:  # every day file is read through the mapping: all of them, again
            new_days = set(landed)
            context.log.info("landing_sensor: the folder's mapping changed: every landed day is re-run")
        new_days |= _refused_with(
            context.instance, {d for n in changed if (d := day_of(n)) in landed}, landed, now
        )
        state["queue"] = {
            d for d in state["queue"] | affected_days(new_days, landed, LOOKBACK_DAYS + 1) if d in landed
        }
        state["catalog"] |= CATALOG_FILE in changed or (CATALOG_FILE in known and CATALOG_FILE not in now)
        state["catalog"] |= (
            bool(state["queue"])
            and not state["catalog_sent"]
            and context.instance.get_latest_materialization_event(CATALOG_KEY) is None
        )
        state["files"] = now
        notes = []
        if deleted:
            notes.append(
                f"{len(deleted)} file(s) deleted from the landing folder ({', '.join(deleted[:5])}): "
                "their days keep the data already loaded (see README, 'Withdrawing a day')"
            )
            context.log.warning(notes[-1])
        if state["pending"]:
            notes.append(f"{len(state['pending'])} wait for their day to be a partition ({first} .. {last})")

        if not (state["queue"] or state["catalog"] or state["recheck"] or state["recat"]):
            reason = "; ".join([f"no new or changed day files in {source.landing_dir}", *notes])
            return dg.SensorResult(skip_reason=reason, cursor=_dump_cursor(state))
        busy = _running(context.instance)
        if busy is not None:
            reason = f"{len(state['queue'])} day(s) queued; waiting for run {busy.run_id[:8]} to finish"
            return dg.SensorResult(skip_reason="; ".join([reason, *notes]), cursor=_dump_cursor(state))
        if state["recheck"] and not state["catalog"]:  # the new catalog is materialized now
            state["recheck"] = False
            state["recat"] |= _recategorized_days(DayStore(settings.data_dir)) - state["queue"]
            if state["recat"]:
                context.log.info(
                    f"landing_sensor: the catalog changed the category of SKUs sold on "
                    f"{len(state['recat'])} stored day(s): re-running them from daily_agg on"
                )
        if not (state["queue"] or state["catalog"] or state["recat"]):
            reason = "; ".join(["the new catalog changed no stored day's categories", *notes])
            return dg.SensorResult(skip_reason=reason, cursor=_dump_cursor(state))

        state["seq"] += 1
        tags = {TRIGGER_TAG: TRIGGER, "dagster/max_retries": MAX_RETRIES}
        if state["catalog"]:
            state["catalog"], state["catalog_sent"], state["recheck"] = False, True, True
            catalog_sha = now[CATALOG_FILE].sha256[:12] if CATALOG_FILE in now else "from-orders"
            request = dg.RunRequest(
                run_key=f"landing:{state['seq']}:catalog:{catalog_sha}",
                asset_selection=[CATALOG_KEY],
                tags={**tags, "spd/landing": "catalog"},
            )
            context.log.info("landing_sensor: re-materializing the catalog before the queued days")
        elif state["queue"]:
            start, end = contiguous(state["queue"])[0]
            days = _days(start, end)
            state["queue"] -= set(days)
            state["recat"] -= set(days)  # a full run re-joins the categories too
            digest = _digest([landed[d] for d in days], now)
            seen = sha_tag({d: now[landed[d]].sha256 for d in days})  # the run refuses any other content
            request = _range_request(
                f"landing:{state['seq']}", start, end, digest, DATED_KEYS, {**tags, **seen}
            )
            left = f"; {len(state['queue'])} day(s) still queued" if state["queue"] else ""
            context.log.info(f"landing_sensor: one run for {request.tags['spd/landing']}{left}")
        else:
            start, end = contiguous(state["recat"])[0]
            state["recat"] -= set(_days(start, end))
            digest = now[CATALOG_FILE].sha256[:12] if CATALOG_FILE in now else "from-orders"
            derived = [k for k in DATED_KEYS if k not in SOURCE_KEYS]
            request = _range_request(
                f"landing:{state['seq']}", start, end, f"categories:{digest}", derived, tags
            )
            context.log.info(f"landing_sensor: new categories for {request.tags['spd/landing']}")
        return dg.SensorResult(run_requests=[request], cursor=_dump_cursor(state))

    return landing_sensor

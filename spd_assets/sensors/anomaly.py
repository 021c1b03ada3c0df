"""The anomaly sensor: every new `daily_metrics` partition gets the anomaly-check job, exactly once.

A plain sensor, not ``@asset_sensor`` (which sees only the latest materialization and so skips the
days of a backfill). Each tick reads the materializations of `daily_metrics` after the cursor (a
storage id) in order, a page at a time, and:

- waits (leaves the cursor before it) at a materialization whose run is still going, or whose
  asset backfill is still going and includes `alerts`: `alerts` may be materialized a step or a
  run later (after six hours the sensor stops waiting for a run that never reports an end);
- skips a partition whose `alerts` was materialized after that `daily_metrics` materialization (the
  same run did the check, as `daily_pipeline` does);
- asks for one run per range of consecutive days that still need a check (a 90-day backfill of
  `daily_metrics` alone is one run, not 90 start-ups), with a run key made of the days and the
  storage id, so a tick repeated after a crash requests nothing new and a later re-materialization
  of a day is checked again.
"""

import time

import dagster as dg

from ..dagster_internals import backfill_going
from ..jobs import AssetJob
from ..partitions import range_tags

METRICS = dg.AssetKey("daily_metrics")
ALERTS = dg.AssetKey("alerts")
PAGE = 500  # materializations read per query
MAX_RECORDS = 10_000  # per tick; the rest waits for the next tick (the cursor says where)
MAX_RANGE_DAYS = 366  # days per requested run
STUCK_AFTER_S = 6 * 3600  # a run "in progress" this long after materializing is treated as finished
BACKFILL_TAG = "dagster/backfill"


def _new_materializations(instance: dg.DagsterInstance, after: int) -> list[dg.EventLogRecord]:
    """`daily_metrics` materializations after storage id ``after``, oldest first, up to MAX_RECORDS."""
    records: list[dg.EventLogRecord] = []
    while len(records) < MAX_RECORDS:
        page = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=METRICS, after_storage_id=after), limit=PAGE, ascending=True
        )
        records += page.records
        if not page.has_more or not page.records:
            break
        after = page.records[-1].storage_id
    return records


def _busy(run: dg.DagsterRun | None, instance: dg.DagsterInstance) -> bool:
    """The run is still going, or belongs to an asset backfill still going that includes `alerts`
    (a backfill may materialize `daily_metrics` and `alerts` in separate runs)."""
    if run is None:
        return False
    if not run.is_finished:
        return True
    backfill_id = run.tags.get(BACKFILL_TAG)
    if not backfill_id:
        return False
    going, targets = backfill_going(instance, backfill_id)
    return going and ALERTS in targets


def _settled(records: list[dg.EventLogRecord], instance: dg.DagsterInstance) -> list[dg.EventLogRecord]:
    """The records up to (not including) the first one whose run or backfill has not finished yet."""
    busy: dict[str, bool] = {}
    now = time.time()
    for n, record in enumerate(records):
        if record.run_id not in busy:
            busy[record.run_id] = _busy(instance.get_run_by_id(record.run_id), instance)
        if busy[record.run_id] and now - record.timestamp < STUCK_AFTER_S:
            return records[:n]
    return records


def _ranges(keys: list[str], all_keys: list[str]) -> list[list[str]]:
    """Consecutive partition keys grouped into runs of at most MAX_RANGE_DAYS."""
    order = {k: i for i, k in enumerate(all_keys)}
    groups: list[list[str]] = []
    for key in sorted(keys, key=order.__getitem__):
        last = groups[-1] if groups else None
        if last and order[key] == order[last[-1]] + 1 and len(last) < MAX_RANGE_DAYS:
            last.append(key)
        else:
            groups.append([key])
    return groups


def run_request(keys: list[str], storage_id: int) -> dg.RunRequest:
    """One day: a partition run; several consecutive days: one single-run range."""
    if len(keys) == 1:
        return dg.RunRequest(partition_key=keys[0], run_key=f"alerts:{keys[0]}:{storage_id}")
    return dg.RunRequest(
        run_key=f"alerts:{keys[0]}...{keys[-1]}:{storage_id}",
        tags=range_tags(keys[0], keys[-1]),
    )


def build_anomaly_sensor(
    anomaly_check: AssetJob, daily: dg.DailyPartitionsDefinition, interval_s: int
) -> dg.SensorDefinition:
    """The sensor requesting ``anomaly_check`` for new `daily_metrics` partitions of ``daily``."""

    @dg.sensor(
        job=anomaly_check,
        minimum_interval_seconds=interval_s,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Requests anomaly_check for each newly materialized daily_metrics partition, once.",
    )
    def anomaly_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
        """Check each new `daily_metrics` partition once, unless its `alerts` is already newer."""
        cursor = int(context.cursor) if context.cursor else 0
        records = _settled(_new_materializations(context.instance, cursor), context.instance)
        if not records:
            return dg.SensorResult(
                skip_reason="no new daily_metrics materializations (or their run is still going)"
            )
        metrics_sid = {r.partition_key: r.storage_id for r in records if r.partition_key}
        checked = context.instance.get_latest_storage_id_by_partition(
            ALERTS, dg.DagsterEventType.ASSET_MATERIALIZATION, partitions=set(metrics_sid)
        )
        all_keys = daily.get_partition_keys()
        valid = set(all_keys)
        todo = [k for k, sid in metrics_sid.items() if k in valid and checked.get(k, -1) < sid]
        groups = _ranges(todo, all_keys)
        requests = [run_request(keys, max(metrics_sid[k] for k in keys)) for keys in groups]
        context.log.info(
            f"{len(metrics_sid)} new daily_metrics partition(s): {len(metrics_sid) - len(todo)} "
            f"already checked, {len(todo)} to check in {len(requests)} run(s)"
        )
        return dg.SensorResult(run_requests=requests, cursor=str(records[-1].storage_id))

    return anomaly_sensor

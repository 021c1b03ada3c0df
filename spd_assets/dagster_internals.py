"""The one place spd touches Dagster without a public API (pinned Dagster; tests/test_dagster_internals.py).

Dagster 1.13 exposes ``DagsterInstance.get_backfill`` but not the status enum of what it returns, so
"is this backfill still going?" needs ``BulkActionStatus``. Everything else spd uses is public.
"""

from __future__ import annotations

import time

import dagster as dg
from dagster._core.execution.backfill import BulkActionStatus

_GOING = {BulkActionStatus.REQUESTED, BulkActionStatus.CANCELING, BulkActionStatus.FAILING}


def backfill_going(instance: dg.DagsterInstance, backfill_id: str) -> tuple[bool, set[dg.AssetKey]]:
    """(whether the backfill is still running, the assets it targets); (False, set()) if unknown."""
    backfill = instance.get_backfill(backfill_id)
    if backfill is None:
        return False, set()
    return backfill.status in _GOING, set(backfill.asset_selection or ())


# Test support: instance states the anomaly sensor must handle that no public API can create (an
# asset backfill in flight; a materialization inside a run that is still going). Kept here so that
# this stays the only module touching Dagster's internals.


def add_asset_backfill(
    instance: dg.DagsterInstance, asset_graph, backfill_id: str, keys: list[str], assets: list[str]
) -> None:
    """Record an asset backfill as the UI would create it (not launched)."""
    from dagster._core.execution.backfill import PartitionBackfill

    instance.add_backfill(
        PartitionBackfill.from_asset_partitions(
            backfill_id=backfill_id,
            asset_graph=asset_graph,
            partition_names=keys,
            asset_selection=[dg.AssetKey(a) for a in assets],
            backfill_timestamp=time.time(),
            tags={},
            dynamic_partitions_store=instance,
            all_partitions=False,
            title=None,
            description=None,
            run_config=None,
        )
    )


def end_backfill(instance: dg.DagsterInstance, backfill_id: str, failed: bool) -> None:
    """Mark a backfill finished, successfully or not."""
    status = BulkActionStatus.COMPLETED_FAILED if failed else BulkActionStatus.COMPLETED_SUCCESS
    instance.update_backfill(instance.get_backfill(backfill_id).with_status(status))


def report_materialization_in_run(
    instance: dg.DagsterInstance, run: dg.DagsterRun, asset: str, key: str
) -> None:
    """A materialization of ``asset`` for partition ``key`` reported by ``run`` (still going, say)."""
    from dagster._core.events import DagsterEvent, DagsterEventType, StepMaterializationData

    event = DagsterEvent(
        event_type_value=DagsterEventType.ASSET_MATERIALIZATION.value,
        job_name=run.job_name,
        event_specific_data=StepMaterializationData(dg.AssetMaterialization(asset, partition=key)),
    )
    instance.report_dagster_event(event, run_id=run.run_id)

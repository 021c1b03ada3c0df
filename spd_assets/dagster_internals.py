"""The one place spd touches Dagster without a public API (pinned Dagster; tests/test_dagster_internals.py).

Dagster 1.13 exposes ``DagsterInstance.get_backfill`` but not the status enum of what it returns, so
"is this backfill still going?" needs ``BulkActionStatus``. Everything else spd uses is public.
"""

from __future__ import annotations

import dagster as dg
from dagster._core.execution.backfill import BulkActionStatus

_GOING = {BulkActionStatus.REQUESTED, BulkActionStatus.CANCELING, BulkActionStatus.FAILING}


def backfill_going(instance: dg.DagsterInstance, backfill_id: str) -> tuple[bool, set[dg.AssetKey]]:
    """(whether the backfill is still running, the assets it targets); (False, set()) if unknown."""
    backfill = instance.get_backfill(backfill_id)
    if backfill is None:
        return False, set()
    return backfill.status in _GOING, set(backfill.asset_selection or ())

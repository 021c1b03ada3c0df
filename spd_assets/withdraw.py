"""``spd withdraw DAY...``: take days out of the pipeline's data (a day loaded by mistake, a deleted export).

Removes each day's files from every dated asset, forgets its materializations in the Dagster
instance (or, on SQLite, which cannot, records a "withdrawn" observation on each), drops its undelivered
notifications, then re-computes ``daily_metrics``, ``alerts`` and ``incidents`` for the later days
whose windows read it, as one single run per range, so no window keeps counting the withdrawn day.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys

import pyarrow.fs as pafs

from .core.day_locks import hold_data_days
from .core.filesystems import filesystem
from .core.landing.files import daily_file_name
from .core.landing.folder import affected_days, contiguous
from .core.metrics import LOOKBACK_DAYS
from .core.settings import SettingsError, load_settings
from .core.storage import DayStore

DATED = ("orders", "quarantine", "injected_drops", "daily_agg", "daily_metrics", "alerts", "incidents")


def _in_landing(landing_dir: str, name: str) -> bool:
    """Whether the landing folder (local or an object store) still holds ``name``."""
    fs, root = filesystem(landing_dir)
    return fs.get_file_info(f"{root}/{name}").type != pafs.FileType.NotFound


def _forget(instance, key, day: dt.date) -> None:
    """Wipe the day's materializations where the instance can (Postgres); on SQLite, which cannot wipe
    one partition, record an observation saying it was withdrawn, shown on the asset in the UI."""
    import dagster as dg

    try:
        instance.wipe_asset_partitions(key, [day.isoformat()])
    except NotImplementedError:
        instance.report_runless_asset_event(
            dg.AssetObservation(
                key, partition=day.isoformat(), metadata={"withdrawn": "spd withdraw: no data for this day"}
            )
        )


def withdraw(days: list[dt.date], echo=print) -> int:
    """Withdraw ``days``; returns a process exit code."""
    import dagster as dg

    from .definitions import build_defs
    from .partitions import range_tags

    settings = load_settings()
    store = DayStore(settings.data_dir)
    defs = build_defs(settings)
    instance = dg.DagsterInstance.get()
    for day in sorted(days):  # each day's lock held, so no run is writing the day meanwhile
        with hold_data_days(settings.data_dir, [day], "spd withdraw", on_wait=echo):
            removed = [a for a in DATED if store.delete(a, day)]
        for asset in DATED:
            _forget(instance, dg.AssetKey(asset), day)
        echo(f"spd withdraw: {day}: removed {', '.join(removed) or 'nothing (no files)'}")
        if settings.source == "landing" and _in_landing(settings.landing_dir, daily_file_name(day)):
            echo(
                f"spd withdraw: note: {daily_file_name(day)} is still in the landing folder; remove it, or "
                "the day comes back when that file changes"
            )
    ledger = defs.resources["notifications"].ledger()
    gone = ledger.withdraw_absent(sorted(days), [])
    if gone:
        echo(f"spd withdraw: {gone} undelivered notification(s) dropped")
    later = affected_days(days, store.days("daily_agg"), LOOKBACK_DAYS + 1) - set(days)
    job = defs.resolve_job_def("daily_pipeline")
    for first, last in contiguous(later):
        echo(f"spd withdraw: re-computing daily_metrics, alerts and incidents for {first} .. {last}")
        result = job.execute_in_process(
            instance=instance,
            tags=range_tags(first, last),
            asset_selection=[dg.AssetKey(a) for a in ("daily_metrics", "alerts", "incidents")],
            raise_on_error=False,
        )
        if not result.success:
            echo("spd withdraw: that run failed; see it in the Dagster UI")
            return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="spd withdraw",
        description="Take days out of the materialized data and re-compute their windows.",
    )
    parser.add_argument("days", nargs="+", help="days to withdraw, YYYY-MM-DD")
    args = parser.parse_args(argv)
    try:
        days = [dt.date.fromisoformat(d) for d in args.days]
    except ValueError as exc:
        print(f"spd withdraw: {exc}: expected YYYY-MM-DD", file=sys.stderr)
        return 2
    try:
        return withdraw(days)
    except SettingsError as exc:
        print(f"spd withdraw: {exc}", file=sys.stderr)
        return 1

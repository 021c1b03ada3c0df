"""Where data enters: the catalog, each day's orders and the rows that failed validation, the ground truth.

The source is a resource (SPD_SOURCE): the synthetic shop, or the landing folder of the shop's own files.
"""

import datetime as dt
from collections.abc import Iterator

import dagster as dg
import polars as pl

from ..core import schema
from ..core.landing.folder import check_unchanged, requested_hashes
from ..core.landing.validate import LandingFileError, ValidatedDay, ValidationReport
from ..core.read_ahead import read_ahead
from ..core.storage import DayStore, WrittenDays, parse_day
from ..io_manager import DayParquetIOManager, markdown_preview
from ..partitions import backfill_policy, dated_asset, dated_out, partition_days
from ..progress import Progress
from ..resources.order_sources import OrderSource


def _failure(exc: LandingFileError) -> dg.Failure:
    """A whole-file problem fails the run with one message naming the file and what is wrong."""
    return dg.Failure(description=str(exc), metadata={"file": exc.file, "problem": exc.problem})


@dg.asset(group_name="sources", kinds={"polars", "parquet"})
def catalog(source: OrderSource) -> pl.DataFrame:
    """The product catalog (sku, name, category, base_price); every dated asset joins on it."""
    try:
        return schema.conform(source.catalog(), schema.CATALOG)
    except LandingFileError as exc:
        raise _failure(exc) from None


def build(daily: dg.DailyPartitionsDefinition, policy: dg.BackfillPolicy | None = None) -> list:
    """The source assets and their checks on ``daily``."""

    @dg.multi_asset(
        outs={
            "orders": dated_out("sources", "One row per order line that passed validation (schema.ORDERS)."),
            "quarantine": dated_out(
                "sources", "Rows that failed validation: file, line, field, reason and the row as JSON."
            ),
        },
        deps=[catalog],
        partitions_def=daily,
        backfill_policy=policy or backfill_policy(),
        can_subset=True,
    )
    def orders_and_quarantine(
        context: dg.AssetExecutionContext,
        source: OrderSource,
        io_manager: dg.ResourceParam[DayParquetIOManager],
    ):
        """One validation pass per day writes both assets' files; a range run holds one day at a time.

        The day's quarantine is written before its orders, and both before the outputs are yielded
        (they only report what was written), so a run that stops at a broken file leaves every
        earlier day with matching orders and quarantine, whatever order Dagster handles outputs in.
        """
        days = partition_days(context)
        selected = context.selected_output_names
        store = io_manager.store
        requested = requested_hashes(context.run.tags)  # the files the landing sensor saw
        try:
            source.check_days(days, requested)
        except LandingFileError as exc:
            raise _failure(exc) from None
        catalog = _catalog_for(source, io_manager)
        progress = Progress("orders", len(days), context.log.info, unit="orders")
        written = {name: WrittenDays(name) for name in ("quarantine", "orders") if name in selected}
        loaded = read_ahead(days, lambda day: _loaded(source, day, catalog), size=_size)
        for day, checked in loaded:
            try:
                if isinstance(checked, LandingFileError):
                    raise checked
                check_unchanged(checked.report.source_file, checked.report.sha256, requested.get(day))
            except LandingFileError as exc:
                raise _failure(exc) from None
            frames = {"quarantine": checked.quarantine, "orders": checked.orders}
            for name, days_written in written.items():  # quarantine first
                store.write(name, day, frames[name])
                days_written.add(day, frames[name])
            _record(context, checked.report, selected)
            progress.step(checked.report.rows_in)
        for name in ("orders", "quarantine"):
            if name in written:
                yield dg.Output(written[name], output_name=name)
            else:
                context.log.warning(f"{name} not selected: its files keep their previous rows")

    @dated_asset(daily, "sources", policy, deps=[catalog])
    def injected_drops(
        context: dg.AssetExecutionContext,
        source: OrderSource,
        io_manager: dg.ResourceParam[DayParquetIOManager],
    ) -> pl.DataFrame:
        """Ground truth: the drops the synthetic source injected on each day, to score detection against."""
        catalog = _catalog_for(source, io_manager)
        frames = [source.truth(day, catalog) for day in partition_days(context)]
        return pl.concat(frames) if frames else schema.empty(schema.INJECTED_DROPS)

    return [catalog, orders_and_quarantine, injected_drops, *_checks(daily)]


def _catalog_for(source: OrderSource, io_manager: DayParquetIOManager) -> pl.DataFrame:
    """The catalog for a source that uses it, read as the IO manager would load it as an input; an
    empty one for a source that does not (a landing folder): two events and a read fewer a step."""
    return io_manager.store.read("catalog") if source.uses_catalog else schema.empty(schema.CATALOG)


def _loaded(source: OrderSource, day: dt.date, catalog: pl.DataFrame) -> ValidatedDay | LandingFileError:
    """A day as loaded, or its whole-file problem as a value: raised at its own day, in order."""
    try:
        return source.load_day(day, catalog)
    except LandingFileError as exc:
        return exc


def _size(checked: ValidatedDay | LandingFileError) -> int:
    """How much a loaded day holds; a failure counts as huge, so nothing is read after it."""
    return checked.orders.estimated_size() if isinstance(checked, ValidatedDay) else 1 << 62


def _record(context: dg.AssetExecutionContext, report: ValidationReport, selected: set[str]) -> None:
    """Per-day counts on each materialization, so the checks can compare them with the stored files."""
    key = report.day.isoformat()
    counts = {
        "rows_in": report.rows_in,
        "rows_kept": report.rows_kept,
        "rows_quarantined": report.rows_quarantined,
        "rows_cancelled": report.rows_cancelled,
        "quarantine_rate": round(report.quarantine_rate, 6),
        "source_file": report.source_file,
    }
    if report.sha256:
        counts["source_sha256"] = report.sha256
    if "orders" in selected:
        context.add_asset_metadata(counts, asset_key="orders", partition_key=key)
    if "quarantine" in selected:
        problems = dg.MetadataValue.json(report.problems)
        context.add_asset_metadata(
            {**counts, "rows": report.rows_quarantined, "problems": problems},
            asset_key="quarantine",
            partition_key=key,
        )


def _stored_rows(store: DayStore, asset: str, day: dt.date) -> int | None:
    """Rows in a day's Parquet file, from its footer; None if the day was never written."""
    if not store.exists(asset, day):
        return None
    return pl.scan_parquet(store.uri(asset, day)).select(pl.len()).collect().item()


def _stored_split(store: DayStore, asset: str, day: dt.date) -> tuple[int, int] | None:
    """(counted, cancelled) rows in a day's orders file; files from before statuses count every row."""
    if not store.exists(asset, day):
        return None
    scan = pl.scan_parquet(store.uri(asset, day))
    if "counted" not in scan.collect_schema().names():
        return scan.select(pl.len()).collect().item(), 0
    counted, total = scan.select(pl.col("counted").fill_null(True).sum(), pl.len()).collect().row(0)
    return int(counted), int(total - counted)


def _recorded(instance: dg.DagsterInstance, asset: str, key: str) -> dict:
    """The per-day counts on the latest materialization of ``asset`` for partition ``key``."""
    filt = dg.AssetRecordsFilter(asset_key=dg.AssetKey(asset), asset_partitions=[key])
    records = instance.fetch_materializations(filt, limit=1).records
    if not records or records[0].asset_materialization is None:
        return {}
    return {k: v.value for k, v in records[0].asset_materialization.metadata.items()}


def _table(rows: list[dict]) -> dg.MetadataValue:
    return markdown_preview(pl.DataFrame(rows), rows=20)


def _checks(daily: dg.DailyPartitionsDefinition) -> list:
    """Row conservation (blocking: a lost row stops the graph below `orders`) and the quarantine rate,
    per day: one step for both, each still selectable alone (two steps cost a run eight events more)."""
    specs = [
        dg.AssetCheckSpec(
            "rows_conserved",
            asset="orders",
            partitions_def=daily,
            blocking=True,
            description="Rows read from the source = counted + cancelled (in `orders`) + `quarantine`.",
        ),
        dg.AssetCheckSpec(
            "quarantine_rate",
            asset="quarantine",
            partitions_def=daily,
            description="WARN when a day quarantines more than SPD_QUARANTINE_MAX_RATE of its rows.",
        ),
    ]

    @dg.multi_asset_check(name="source_checks", specs=specs, can_subset=True)
    def source_checks(
        context: dg.AssetCheckExecutionContext,
        source: OrderSource,
        io_manager: dg.ResourceParam[DayParquetIOManager],
    ) -> Iterator[dg.AssetCheckResult]:
        """The selected checks of the orders and quarantine of the run's days."""
        selected = {key.name for key in context.selected_asset_check_keys}
        if "rows_conserved" in selected:
            yield rows_conserved(context, io_manager.store)
        if "quarantine_rate" in selected:
            yield quarantine_rate(context, io_manager.store, source.quarantine_max_rate)

    return [source_checks]


def rows_conserved(context: dg.AssetCheckExecutionContext, store: DayStore) -> dg.AssetCheckResult:
    """Rows read from the source = counted + cancelled (both in `orders`) + `quarantine`, every day."""
    days = []
    for key in context.partition_keys:
        day = parse_day(key)
        rows_in = _recorded(context.instance, "orders", key).get("rows_in")
        split, quarantined = _stored_split(store, "orders", day), _stored_rows(store, "quarantine", day)
        counted, cancelled = split if split else (None, None)
        ok = split is not None and rows_in == (counted or 0) + (cancelled or 0) + (quarantined or 0)
        days.append(
            {
                "date": key,
                "rows_in": rows_in,
                "orders": counted,
                "cancelled": cancelled,
                "quarantine": quarantined,
                "ok": ok,
            }
        )
    failing = [d for d in days if not d["ok"]]
    return dg.AssetCheckResult(
        check_name="rows_conserved",
        asset_key="orders",
        passed=not failing,
        description=(
            f"rows in = counted + cancelled + quarantined on all {len(days)} day(s)"
            if not failing
            else f"{len(failing)} of {len(days)} day(s) do not add up (or have no recorded rows_in)"
        ),
        metadata={
            "days": len(days),
            "rows_in": sum(d["rows_in"] or 0 for d in days),
            "orders": sum(d["orders"] or 0 for d in days),
            "cancelled": sum(d["cancelled"] or 0 for d in days),
            "quarantine": sum(d["quarantine"] or 0 for d in days),
            **({"failing_days": _table(failing)} if failing else {}),
        },
    )


def quarantine_rate(
    context: dg.AssetCheckExecutionContext, store: DayStore, limit: float
) -> dg.AssetCheckResult:
    """WARN when a day quarantines more than ``limit`` of its rows (a broken export)."""
    days = []
    for key in context.partition_keys:
        recorded = _recorded(context.instance, "quarantine", key)
        rows_in = recorded.get("rows_in") or 0
        quarantined = _stored_rows(store, "quarantine", parse_day(key)) or 0
        rate = quarantined / rows_in if rows_in else 0.0
        top = ", ".join(f"{r} ({n})" for r, n in list((recorded.get("problems") or {}).items())[:3])
        days.append({"date": key, "rows_in": rows_in, "quarantined": quarantined, "rate": rate, "top": top})
    over = [d for d in days if d["rate"] > limit]
    worst = max(days, key=lambda d: d["rate"])
    return dg.AssetCheckResult(
        check_name="quarantine_rate",
        asset_key="quarantine",
        passed=not over,
        severity=dg.AssetCheckSeverity.WARN,
        description=(
            f"{len(over)} day(s) quarantined more than {limit:.1%} of their rows (worst {worst['date']}: "
            f"{worst['rate']:.1%})"
            if over
            else f"every day quarantined at most {limit:.1%} of its rows"
        ),
        metadata={
            "max_rate": limit,
            "worst_rate": round(worst["rate"], 6),
            "worst_day": worst["date"],
            "days_over": len(over),
            **({"days_over_limit": _table(over)} if over else {}),
        },
    )

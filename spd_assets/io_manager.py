"""An IO manager that writes each day of an output to its own Parquet file.

Dagster's built-in IO managers refuse an output covering several partitions, which a single-run
backfill produces; this one splits by the ``date`` column and writes day by day, so an output
given as ``DayBatches`` is written as it is produced and never held whole in memory. It also holds
the run's day locks for the whole run (every run that writes days uses it, CLI and daemon alike).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import dagster as dg
import polars as pl
from tabulate import tabulate

from .core.day_locks import hold_data_days, run_days
from .core.storage import DayBatches, DayFrames, DayStore, WrittenDays, parse_day
from .core.text import md_escape


def markdown_preview(frame: pl.DataFrame, rows: int = 10) -> dg.MetadataValue:
    """The first rows as a Markdown table (tabulate directly: importing pandas costs a second a run).

    Text cells are escaped: a SKU or region name is shown as typed in the Dagster UI, never as markup.
    """
    head = frame.head(rows)
    cells = [[md_escape(v) if isinstance(v, str) else v for v in row] for row in head.rows()]
    return dg.MetadataValue.md(tabulate(cells, headers=head.columns, tablefmt="pipe", disable_numparse=True))


class DayParquetIOManager(dg.ConfigurableIOManager):
    """Parquet per asset per day under ``data_dir`` (local path, ``s3://`` or ``gs://``)."""

    data_dir: str

    @property
    def store(self) -> DayStore:
        return DayStore(self.data_dir)

    @contextlib.contextmanager
    def yield_for_execution(self, context: dg.InitResourceContext) -> Iterator[DayParquetIOManager]:
        """Hold the lock of every day the run writes while it runs (the in-process executor sets its
        resources up once per run), so another run on any of those days waits for this one to end:
        flocks on one machine, or advisory locks on a PostgreSQL state store across machines."""
        run = context.dagster_run
        days = run_days(run.tags) if run is not None else []
        holder = f"run {run.run_id}" if run is not None else "a run"
        with hold_data_days(self.data_dir, days, holder, on_wait=context.log.info):
            yield self

    def _range_metadata(self, asset: str, days: list, rows: int, preview: pl.DataFrame) -> dict:
        return {
            "rows": rows,
            "days": len(days),
            "date_range": f"{days[0]} .. {days[-1]}",
            "path": self.store.uri(asset, days[0]) if len(days) == 1 else self.store.folder_uri(asset),
            "preview": markdown_preview(preview),
        }

    def handle_output(self, context: dg.OutputContext, obj: pl.DataFrame | DayBatches | WrittenDays) -> None:
        asset = context.asset_key.path[-1]
        if isinstance(obj, WrittenDays):
            expected = sorted(parse_day(k) for k in context.asset_partition_keys)
            if sorted(obj.days) != expected or obj.asset != asset:
                raise ValueError(f"{asset}: the asset wrote {obj.asset} for other days than the run's")
            preview = obj.preview if obj.preview is not None else pl.DataFrame()
            context.add_output_metadata(self._range_metadata(asset, expected, obj.rows, preview))
            return
        if not context.has_asset_partitions:
            if not isinstance(obj, pl.DataFrame):
                raise TypeError(f"{asset}: an unpartitioned asset must return a polars DataFrame")
            uri = self.store.write(asset, None, obj)
            context.add_output_metadata({"rows": obj.height, "path": uri, "preview": markdown_preview(obj)})
            return
        expected = sorted(parse_day(k) for k in context.asset_partition_keys)
        batches = obj if isinstance(obj, DayBatches) else [obj]
        schema = obj.schema
        written: set = set()
        rows, preview = 0, None
        for batch in batches:
            schema = batch.schema
            for (day,), part in batch.partition_by("date", as_dict=True, maintain_order=True).items():
                if day not in expected or day in written:
                    raise ValueError(f"{asset}: rows dated {day} are outside this run's days or came twice")
                self.store.write(asset, day, part)
                written.add(day)
                rows += part.height
                preview = part if preview is None else preview
        no_data = obj.no_data if isinstance(obj, DayBatches) else set()
        for day in expected:
            # A day with nothing to report is materialized as empty; a day whose upstream has no data
            # gets no file at all, so readers see it as unknown (missing), never as zero sales.
            if day not in written and day not in no_data:
                self.store.write(asset, day, pl.DataFrame(schema=schema))
        shown = preview if preview is not None else pl.DataFrame(schema=schema)
        metadata = self._range_metadata(asset, expected, rows, shown)
        if no_data:
            missing = sorted(no_data)
            metadata["days_without_data"] = dg.MetadataValue.json([d.isoformat() for d in missing])
            context.log.warning(
                f"{asset}: {len(missing)} day(s) have no upstream data ({missing[0]} .. {missing[-1]}), "
                "so no file was written for them: they show as missing until their upstream day exists"
            )
        context.add_output_metadata(metadata)

    def load_input(self, context: dg.InputContext) -> pl.DataFrame | DayFrames:
        upstream = context.upstream_output
        asset = (upstream.asset_key if upstream else context.asset_key).path[-1]
        if not context.has_asset_partitions:
            return self.store.read(asset)
        days = tuple(sorted(parse_day(k) for k in context.asset_partition_keys))
        return DayFrames(self.store, asset, days)

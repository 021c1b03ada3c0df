"""An IO manager that writes each day of an output to its own Parquet file.

Dagster's built-in IO managers refuse an output covering several partitions, which a single-run
backfill produces; this one splits by the ``date`` column and writes day by day, so an output
given as ``DayBatches`` is written as it is produced and never held whole in memory.
"""

from __future__ import annotations

import dagster as dg
import polars as pl
from tabulate import tabulate

from .core.storage import DayBatches, DayFrames, DayStore, parse_day


def markdown_preview(frame: pl.DataFrame, rows: int = 10) -> dg.MetadataValue:
    """The first rows as a Markdown table (tabulate directly: importing pandas costs a second a run)."""
    head = frame.head(rows)
    return dg.MetadataValue.md(tabulate(head.rows(), headers=head.columns, tablefmt="pipe"))


class DayParquetIOManager(dg.ConfigurableIOManager):
    """Parquet per asset per day under ``data_dir`` (local path, ``s3://`` or ``gs://``)."""

    data_dir: str

    @property
    def store(self) -> DayStore:
        return DayStore(self.data_dir)

    def handle_output(self, context: dg.OutputContext, obj: pl.DataFrame | DayBatches) -> None:
        asset = context.asset_key.path[-1]
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
        for day in expected:
            if day not in written:  # a day with nothing to report is still materialized, as empty
                self.store.write(asset, day, pl.DataFrame(schema=schema))
        context.add_output_metadata(
            {
                "rows": rows,
                "days": len(expected),
                "date_range": f"{expected[0]} .. {expected[-1]}",
                "path": self.store.uri(asset, expected[0])
                if len(expected) == 1
                else self.store.folder_uri(asset),
                "preview": markdown_preview(preview if preview is not None else pl.DataFrame(schema=schema)),
            }
        )

    def load_input(self, context: dg.InputContext) -> pl.DataFrame | DayFrames:
        upstream = context.upstream_output
        asset = (upstream.asset_key if upstream else context.asset_key).path[-1]
        if not context.has_asset_partitions:
            return self.store.read(asset)
        days = tuple(sorted(parse_day(k) for k in context.asset_partition_keys))
        return DayFrames(self.store, asset, days)

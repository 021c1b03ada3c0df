"""Dagster's run tags for a single run over a range of partitions, and the CLI commands that use them
(one spelling for every caller: spd import's hint, the benchmarks, the tests)."""

from __future__ import annotations

import datetime as dt
import json

RANGE_START, RANGE_END = "dagster/asset_partition_range_start", "dagster/asset_partition_range_end"


def range_tags(first: str | dt.date, last: str | dt.date) -> dict[str, str]:
    """The tags that make one run cover first..last (a single-run backfill)."""
    return {RANGE_START: str(first), RANGE_END: str(last)}


DEFINITIONS = "spd_assets.definitions"  # the module every `dagster` command loads (workspace.yaml too)


def catalog_command() -> list[str]:
    """`dagster` arguments that materialize the (unpartitioned) catalog: the first of the README's two."""
    return ["asset", "materialize", "-m", DEFINITIONS, "--select", "catalog"]


def pipeline_command(tags: dict[str, str]) -> list[str]:
    """`dagster` arguments that run `daily_pipeline` once with ``tags`` (a day, or range_tags)."""
    return ["job", "execute", "-m", DEFINITIONS, "-j", "daily_pipeline", "--tags", json.dumps(tags)]

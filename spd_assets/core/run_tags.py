"""Dagster's run tags for a single run over a range of partitions, and the CLI commands that use them
(one spelling for every caller: spd import's hint, the benchmarks, the tests)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping

RANGE_START, RANGE_END = "dagster/asset_partition_range_start", "dagster/asset_partition_range_end"
PARTITION_TAG = "dagster/partition"  # a run of one partition


def range_tags(first: str | dt.date, last: str | dt.date) -> dict[str, str]:
    """The tags that make one run cover first..last (a single-run backfill)."""
    return {RANGE_START: str(first), RANGE_END: str(last)}


def tag_span(tags: Mapping[str, str]) -> tuple[str, str] | None:
    """The first and last partition a run covers, from its tags (one day, or a range; both included),
    or None for an unpartitioned run."""
    if RANGE_START in tags and RANGE_END in tags:
        return tags[RANGE_START], tags[RANGE_END]
    if PARTITION_TAG in tags:
        return tags[PARTITION_TAG], tags[PARTITION_TAG]
    return None


DEFINITIONS = "spd_assets.definitions"  # the module every `dagster` command loads (workspace.yaml too)


def catalog_command() -> list[str]:
    """`dagster` arguments that materialize the (unpartitioned) catalog: the first of the README's two."""
    return ["asset", "materialize", "-m", DEFINITIONS, "--select", "catalog"]


def pipeline_command(tags: dict[str, str]) -> list[str]:
    """`dagster` arguments that run `daily_pipeline` once with ``tags`` (a day, or range_tags)."""
    return ["job", "execute", "-m", DEFINITIONS, "-j", "daily_pipeline", "--tags", json.dumps(tags)]

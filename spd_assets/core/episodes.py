"""Alert episodes: one ongoing drop of one series is one episode, however many days it alerts.

An alert continues the episode of the same series when that series alerted within ``gap_days`` + 1
days before it; otherwise it opens a new one. The episode id is a hash of the series and the first
day, so it is derived from the alerts alone: re-running a day, or reading the previous days' files
again, gives the same ids. Alert files written before episodes existed (no episode columns) are
chained the same way. An episode recovers on the first day ``gap_days`` + 1 after its last alert.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence

import polars as pl

from .schema import ALERTS

SERIES = ("level", "sku", "category", "region")
EPISODE_COLUMNS = ("window_days", "episode_id", "first_seen", "episode_status")


def with_alert_columns(frame: pl.DataFrame) -> pl.DataFrame:
    """Alerts in the current layout: columns an older file lacks are added as nulls, then conformed."""
    missing = [pl.lit(None, dtype=t).alias(c) for c, t in ALERTS.items() if c not in frame.columns]
    return frame.with_columns(missing).select([pl.col(c).cast(t) for c, t in ALERTS.items()])


def episode_id(level: str, sku: str | None, category: str | None, region: str | None, first: dt.date) -> str:
    """A stable id for one episode: its series and its first day."""
    key = "|".join(["episode", level, sku or "", category or "", region or "", first.isoformat()])
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def assign_episodes(
    alerts: pl.DataFrame, previous: pl.DataFrame | None = None, gap_days: int = 1
) -> pl.DataFrame:
    """``alerts`` with episode_id, first_seen and episode_status, chained onto ``previous`` days' alerts.

    ``previous`` are alerts of earlier days (any layout); a first_seen they carry is kept, so an
    episode found before the days ``previous`` covers keeps its id.
    """
    new = with_alert_columns(alerts).with_columns(_new=pl.lit(True))
    old = (
        with_alert_columns(previous)
        .filter(pl.col("date") < new["date"].min())
        .with_columns(_new=pl.lit(False))
        if previous is not None and previous.height and new.height
        else new.clear()
    )
    both = pl.concat([old, new]).sort(*SERIES, "date", nulls_last=False)
    gap = (pl.col("date") - pl.col("date").shift(1)).dt.total_days().over(SERIES, order_by="date")
    both = both.with_columns(
        _chain=(gap.is_null() | (gap > gap_days + 1)).cast(pl.Int32).cum_sum().over(SERIES)
    )
    chain = [*SERIES, "_chain"]
    both = both.with_columns(
        first_seen=pl.coalesce(
            pl.col("first_seen").drop_nulls().first().over(chain), pl.col("date").min().over(chain)
        )
    )
    ids = [episode_id(*row) for row in both.select(*SERIES, "first_seen").iter_rows()]
    both = both.with_columns(
        episode_id=pl.Series(ids, dtype=pl.String),
        episode_status=pl.when(pl.col("date") == pl.col("first_seen"))
        .then(pl.lit("open"))
        .otherwise(pl.lit("ongoing")),
    )
    out = both.filter("_new").select(list(ALERTS))
    return out.sort("date", "revenue_at_risk", "alert_id", descending=[False, True, False])


def summarize(alerts: pl.DataFrame, as_of: dt.date, gap_days: int = 1) -> pl.DataFrame:
    """One row per episode: series, first and last alert day, alert days, open or recovered on ``as_of``."""
    if alerts.is_empty():
        return pl.DataFrame(
            schema={
                "episode_id": pl.String,
                **dict.fromkeys(SERIES, pl.String),
                "first_seen": pl.Date,
                "last_seen": pl.Date,
                "alert_days": pl.UInt32,
                "status": pl.String,
            }
        )
    found = with_alert_columns(alerts).filter(pl.col("date") <= as_of)
    found = assign_episodes(found, gap_days=gap_days) if found["episode_id"].null_count() else found
    return (
        found.group_by("episode_id", *SERIES, "first_seen")
        .agg(last_seen=pl.col("date").max(), alert_days=pl.col("date").n_unique())
        .with_columns(
            status=pl.when(pl.col("last_seen") + dt.timedelta(days=gap_days + 1) <= as_of)
            .then(pl.lit("recovered"))
            .otherwise(pl.lit("open"))
        )
        .sort("first_seen", "episode_id")
    )


def recoveries(alerts: pl.DataFrame, days: Sequence[dt.date], gap_days: int = 1) -> pl.DataFrame:
    """Alerts-shaped rows, one per episode that recovers on one of ``days`` (its last alert, re-dated).

    ``alerts`` must cover the ``gap_days`` + 1 days before ``days`` and ``days`` themselves, with
    episode ids. The row's alert_id is a hash of the episode, so a recovery is recorded once.
    """
    if alerts.is_empty() or not days:
        return alerts.clear()
    last = alerts.sort("date").group_by("episode_id").agg(pl.all().last())
    recovered_on = pl.col("date") + dt.timedelta(days=gap_days + 1)
    rows = last.filter(recovered_on.is_in(list(days))).with_columns(
        date=recovered_on,
        episode_status=pl.lit("recovered"),
        alert_id=pl.col("episode_id").map_elements(
            lambda e: hashlib.sha256(f"recovered|{e}".encode()).hexdigest()[:16], return_dtype=pl.String
        ),
    )
    return rows.select(list(ALERTS))

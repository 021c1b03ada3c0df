"""What the `alerts` step learned from people: the threshold adjustments and the event calendar it
applied, read from the state store and shown in the materialization metadata.

The logic is in ``core.feedback`` and ``core.events``; this module reads the store once per run
(the adjustments of each checked day, by their effective dates, and the current calendar) and
renders what was used as Markdown (names escaped: they are user text).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import dagster as dg
import polars as pl

from ..core.events import Calendar, between, label_expected
from ..core.feedback import Feedback, apply_adjustments
from ..core.state_store import StateStore
from ..core.text import md_escape

SHOWN = 50  # rows listed per metadata table


@dataclass
class Learned:
    """The feedback store and the calendar one `alerts` run applies."""

    feedback: Feedback
    events: pl.DataFrame
    used: list[pl.DataFrame]

    @classmethod
    def read(cls, store_url: str) -> Learned:
        store = StateStore(store_url)
        return cls(Feedback(store), Calendar(store).table(), [])

    def apply(self, alerts: pl.DataFrame, days: list[dt.date]) -> pl.DataFrame:
        """``alerts`` of ``days`` past their series' raised bars, labelled with the events expecting them."""
        in_force = self.feedback.in_force_on(days)
        self.used.append(in_force)
        return label_expected(apply_adjustments(alerts, in_force), self.events)

    def metadata(self, alerts: pl.DataFrame, days: list[dt.date]) -> dict[str, Any]:
        used = pl.concat(self.used) if self.used else pl.DataFrame()
        calendar = between(self.events, days[0] - dt.timedelta(days=1), days[-1]) if days else self.events
        return {
            "expected_alerts": alerts.filter(pl.col("expected").is_not_null()).height,
            "raised_thresholds": used.height,
            "adjustments_used": dg.MetadataValue.md(adjustments_markdown(used)),
            "calendar_used": dg.MetadataValue.md(calendar_markdown(calendar, self.events.height)),
        }


def adjustments_markdown(used: pl.DataFrame) -> str:
    """The raised bars applied, one row per series and day (first SHOWN)."""
    if used.is_empty():
        return "No threshold adjustments in force."
    lines = ["| date | series | step | drop above | z below | since | adjustment |", "|---" * 7 + "|"]
    for r in used.sort("date", "series").head(SHOWN).iter_rows(named=True):
        lines.append(
            f"| {r['date']} | {md_escape(r['series'])} | {r['step']} | {r['pct_bar']:.0%} "
            f"| -{r['z_bar']:.1f} | {r['effective_from']} | {r['adjustment_id']} |"
        )
    if used.height > SHOWN:
        lines.append(f"\n…and {used.height - SHOWN} more.")
    return "\n".join(lines)


def calendar_markdown(events: pl.DataFrame, total: int) -> str:
    """The calendar's events around the checked days (the ones that can expect their drops)."""
    if events.is_empty():
        return f"No events on these days ({total} in the calendar)."
    lines = ["| event | kind | start | end | scope | id |", "|---" * 6 + "|"]
    for r in events.head(SHOWN).iter_rows(named=True):
        scope = f"{r['scope_level']} {r['scope_value']}" if r["scope_level"] else "whole shop"
        lines.append(
            f"| {md_escape(r['name'])} | {r['kind']} | {r['start']} | {r['end']} | {md_escape(scope)} "
            f"| {md_escape(r['event_id'])} |"
        )
    lines.append(f"\n{events.height} of the calendar's {total} events overlap these days.")
    return "\n".join(lines)

"""Simulated feedback: what the threshold adjustments of ``core.feedback`` do to precision and recall.

A person who knows the ground truth looks at each day's alerts in date order, after that day's
adjustments (as the `alerts` step applies them), and marks every one: 'real' when the scorer counts it
true (``scoring.true_alert_ids``), 'false_alarm' otherwise. The verdicts go into a real state store
(SQLite in a temporary directory), so the rule that raises a series' bar and the dates it takes effect
are the pipeline's own. The alerts kept are then scored like any variant (``default+feedback``).
"""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

import polars as pl

from spd_assets.core.feedback import Feedback, apply_adjustments
from spd_assets.core.state_store import StateStore
from spd_assets.core.synthetic.shapes import ShopYear

from .scoring import score, true_alert_ids

VARIANT = "default+feedback"


def with_feedback(alerts: pl.DataFrame, shop: ShopYear, days: list[dt.date]) -> tuple[pl.DataFrame, int]:
    """(the alerts a year of simulated feedback leaves, adjustments made)."""
    truth = true_alert_ids(alerts, shop, days)
    with tempfile.TemporaryDirectory() as tmp:
        feedback = Feedback(StateStore(f"sqlite:///{Path(tmp) / 'state.sqlite'}"))
        kept = []
        for (day,), part in (
            alerts.sort("date").partition_by("date", as_dict=True, maintain_order=True).items()
        ):
            shown = apply_adjustments(part, feedback.in_force(day))
            kept.append(shown)
            real = pl.col("alert_id").is_in(list(truth))
            feedback.give(shown.filter(real), "real", author="simulated")
            feedback.give(shown.filter(~real), "false_alarm", author="simulated")
        made = feedback.adjustments().height
    return (pl.concat(kept) if kept else alerts), made


def score_with_feedback(alerts: pl.DataFrame, shop: ShopYear, days: list[dt.date], n_series: int) -> dict:
    """The scorer's counts of the alerts simulated feedback leaves, with the adjustments made."""
    kept, made = with_feedback(alerts, shop, days)
    counts = score(kept, shop, days, n_series)
    counts["all"]["threshold_adjustments"] = made
    return counts

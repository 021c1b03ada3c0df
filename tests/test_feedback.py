"""Feedback and threshold adjustments in the state store: the rule, the raised bar, undo, precision."""

from __future__ import annotations

import datetime as dt
import hashlib

import polars as pl
import pytest
from conftest import recent_days
from test_state_store import _pg_database

from spd_assets.core.feedback import (
    REASON,
    Feedback,
    apply_adjustments,
    empty_in_force,
    implied_precision,
    series_keys,
)
from spd_assets.core.state_store import StateStore

pytest_plugins = ["pg_server"]


def alert(day: dt.date, pct: float = 0.4, z: float = -5.0, sku: str = "SKU-A", level: str = "sku") -> dict:
    return {
        "alert_id": hashlib.sha256(f"{level}{sku}{day}".encode()).hexdigest()[:16],
        "date": day,
        "level": level,
        "sku": sku if level != "region" else None,
        "category": "toys" if level != "region" else None,
        "region": "eu-west" if level in ("region", "sku_region") else None,
        "pct_drop": pct,
        "robust_z": z,
    }


def frame(*rows: dict) -> pl.DataFrame:
    return pl.DataFrame(list(rows))


@pytest.fixture
def feedback(tmp_path) -> Feedback:
    return Feedback(StateStore(f"sqlite:///{tmp_path / 'state.sqlite'}"))


def test_two_false_alarms_within_30_days_raise_the_series_from_the_next_day(feedback) -> None:
    d1, d2 = recent_days(12)[0], recent_days(12)[-1]
    assert feedback.give(frame(alert(d1)), "false_alarm", note="promo", author="ana") == []
    (adj,) = feedback.give(frame(alert(d2, pct=0.45, z=-6.0)), "false_alarm", author="ana")
    assert feedback.in_force(d2).is_empty()
    (row,) = feedback.in_force(d2 + dt.timedelta(days=1)).to_dicts()
    assert row["adjustment_id"] == adj and row["step"] == 1 and row["reason"] == REASON
    assert row["series"] == "sku SKU-A" and row["level"] == "sku"
    assert row["pct_bar"] == pytest.approx(0.45 * 1.25) and row["z_bar"] == pytest.approx(6.0 * 1.25)
    assert feedback.table()["author"].to_list() == ["ana", "ana"]


def test_false_alarms_further_apart_or_on_other_series_raise_nothing(feedback) -> None:
    days = recent_days(40)
    assert feedback.give(frame(alert(days[0])), "false_alarm") == []
    assert feedback.give(frame(alert(days[-1])), "false_alarm") == []  # 39 days later
    assert feedback.give(frame(alert(days[-2], sku="SKU-B")), "false_alarm") == []
    assert feedback.give(frame(alert(days[-3])), "real") == []
    assert feedback.adjustments().is_empty()


def test_a_verdict_changed_to_real_no_longer_counts(feedback) -> None:
    d1, d2 = recent_days(5)[0], recent_days(5)[-1]
    feedback.give(frame(alert(d1)), "false_alarm")
    feedback.give(frame(alert(d1)), "real")
    assert feedback.give(frame(alert(d2)), "false_alarm") == []


def test_an_equal_drop_is_dropped_a_twice_as_deep_one_kept_with_a_note(feedback) -> None:
    d1, d2, d3 = recent_days(10)[0], recent_days(10)[3], recent_days(10)[-1]
    feedback.give(frame(alert(d1)), "false_alarm")
    feedback.give(frame(alert(d2)), "false_alarm")
    todays = frame(alert(d3), alert(d3, sku="SKU-B"))
    kept = apply_adjustments(todays, feedback.in_force(d3))
    assert kept["sku"].to_list() == ["SKU-B"] and kept["threshold_note"].to_list() == [None]
    deeper = apply_adjustments(frame(alert(d3, pct=0.8, z=-10.0)), feedback.in_force(d3))
    assert deeper["threshold_note"].to_list() == [REASON]
    assert apply_adjustments(todays, empty_in_force()).height == 2


def test_undo_restores_the_default_and_keeps_the_history(feedback) -> None:
    d1, d2, d3 = recent_days(10)[0], recent_days(10)[3], recent_days(10)[-1]
    feedback.give(frame(alert(d1)), "false_alarm")
    (adj,) = feedback.give(frame(alert(d2)), "false_alarm")
    feedback.undo(adj, by="ben")
    assert feedback.in_force(d3).is_empty()
    assert apply_adjustments(frame(alert(d3)), feedback.in_force(d3)).height == 1
    (row,) = feedback.adjustments().to_dicts()
    assert row["undone_by"] == "ben" and row["undone_at"] is not None
    assert feedback.adjustments(include_undone=False).is_empty()
    with pytest.raises(KeyError):
        feedback.undo(adj + 100)


def test_two_more_false_alarms_take_the_next_step(feedback) -> None:
    days = recent_days(20)
    feedback.give(frame(alert(days[0])), "false_alarm")
    feedback.give(frame(alert(days[2])), "false_alarm")
    feedback.give(frame(alert(days[5], pct=0.6, z=-7.0)), "false_alarm")
    (second,) = feedback.give(frame(alert(days[8], pct=0.6, z=-7.0)), "false_alarm")
    assert feedback.in_force(days[5])["step"].to_list() == [1]
    (row,) = feedback.in_force(days[-1]).to_dicts()
    assert (row["adjustment_id"], row["step"]) == (second, 2)
    assert row["z_bar"] == pytest.approx(7.0 * 1.5)


def test_an_incident_counts_once_in_the_implied_precision(feedback) -> None:
    days = recent_days(5)
    incident = frame(alert(days[0], level="region", sku=None), alert(days[0]), alert(days[0], sku="SKU-B"))
    feedback.give(incident, "real", target="incident", target_id="inc-1")
    feedback.give(frame(alert(days[1], sku="SKU-C")), "false_alarm")
    feedback.give(frame(alert(days[2], sku="SKU-D")), "real")
    out = {r["level"]: r for r in implied_precision(feedback.table(), days[-1], 30).to_dicts()}
    assert (out["all"]["real"], out["all"]["false_alarm"]) == (2, 1)
    assert out["all"]["precision"] == pytest.approx(2 / 3)
    assert (out["region"]["real"], out["sku"]["false_alarm"]) == (1, 1)
    assert implied_precision(feedback.table(), days[-1] + dt.timedelta(days=60), 30)[
        "precision"
    ].to_list() == [None]


def test_bad_verdicts_and_incidents_without_an_id_are_refused(feedback) -> None:
    one = frame(alert(recent_days(1)[0]))
    with pytest.raises(ValueError, match="verdict"):
        feedback.give(one, "maybe")
    with pytest.raises(ValueError, match="target_id"):
        feedback.give(one, "real", target="incident")


def test_series_keys_are_the_series_labels() -> None:
    day = recent_days(1)[0]
    keys = series_keys(frame(alert(day, level="sku_region"), alert(day, level="region", sku=None)))
    assert keys.to_list() == ["sku SKU-A in eu-west", "region eu-west"]


def test_feedback_and_adjustments_persist_on_postgresql(pg_url) -> None:
    url = _pg_database(pg_url)
    d1, d2 = recent_days(5)[0], recent_days(5)[-1]
    Feedback(StateStore(url)).give(frame(alert(d1)), "false_alarm")
    (adj,) = Feedback(StateStore(url)).give(frame(alert(d2)), "false_alarm")
    again = Feedback(StateStore(url))
    assert again.in_force(d2 + dt.timedelta(days=1))["adjustment_id"].to_list() == [adj]
    again.undo(adj)
    assert again.in_force(d2 + dt.timedelta(days=1)).is_empty()


def test_four_false_alarms_given_at_once_take_two_steps(feedback) -> None:
    days = recent_days(20)
    four = frame(*(alert(days[k]) for k in (0, 2, 5, 8)))
    first, second = feedback.give(four, "false_alarm")
    assert feedback.in_force(days[-1]).to_dicts()[0]["adjustment_id"] == second
    assert feedback.adjustments()["step"].to_list() == [1, 2] and first < second

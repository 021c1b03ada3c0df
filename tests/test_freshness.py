"""Freshness: yesterday is due by the configured hour; the Data health page says since when it is stale."""

from __future__ import annotations

import datetime as dt

from spd_assets.core.freshness import stale_since


def at(day: dt.date, hour: int) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, tzinfo=dt.UTC)


def test_yesterday_is_due_by_the_hour_and_a_week_old_pipeline_is_stale_since_the_day_after() -> None:
    today = dt.datetime.now(dt.UTC).date()
    yesterday, before = today - dt.timedelta(days=1), today - dt.timedelta(days=2)
    assert stale_since(yesterday, at(today, 9), due_hour=6) is None
    assert stale_since(before, at(today, 5), due_hour=6) is None  # not due yet
    assert stale_since(before, at(today, 7), due_hour=6) == yesterday
    week_ago = today - dt.timedelta(days=7)
    assert stale_since(week_ago, at(today, 12), due_hour=6) == week_ago + dt.timedelta(days=1)
    assert stale_since(None, at(today, 12), due_hour=6) is None


def test_the_data_health_page_says_since_when_the_pipeline_is_stale(dashboard_history, monkeypatch) -> None:
    from pathlib import Path

    from streamlit.testing.v1 import AppTest

    h = dashboard_history  # its last day is the day before yesterday: yesterday is missing
    monkeypatch.setenv("SPD_DATA_DIR", h.data_dir)
    monkeypatch.setenv("SPD_DAGSTER_PORT", "1")  # no Dagster UI
    monkeypatch.setenv("SPD_FRESH_BY_HOUR", "0")  # yesterday was due at midnight, whatever the hour now
    app = AppTest.from_file(str(Path(__file__).parents[1] / "spd_dashboard" / "app.py"), default_timeout=60)
    app.run()
    app.switch_page("views/health.py").run()
    assert not app.exception
    errors = [e.value for e in app.error]
    assert any(f"Stale since {h.last + dt.timedelta(days=1)}" in e for e in errors), errors

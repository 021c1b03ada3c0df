"""The Why view: which baseline belongs to an alert, incidents folded on the Alerts page, and the view
itself through Streamlit's AppTest on the small history the real pipeline materialized."""

from __future__ import annotations

import datetime as dt

import pytest

from spd_assets.core.drivers import alert_periods

DAY = dt.date(2025, 6, 18)  # a Wednesday: every base below must be a Wednesday too
WEEK = dt.timedelta(days=7)


@pytest.mark.parametrize(
    ("window", "first_seen", "base", "current"),
    [
        (1, None, (DAY - WEEK, DAY - WEEK), (DAY, DAY)),
        (7, None, (DAY - 2 * WEEK + dt.timedelta(days=1), DAY - WEEK), (DAY - dt.timedelta(days=6), DAY)),
        (3, DAY, (DAY - dt.timedelta(days=9), DAY - WEEK), (DAY - dt.timedelta(days=2), DAY)),
        # an episode that began 8 days ago: last week's Wednesday is inside the drop, so two weeks back
        (1, DAY - dt.timedelta(days=8), (DAY - 2 * WEEK, DAY - 2 * WEEK), (DAY, DAY)),
    ],
)
def test_an_alerts_base_is_the_same_weekdays_before_its_drop_began(window, first_seen, base, current):
    got_base, got_current = alert_periods(DAY, window, first_seen)
    assert (got_base, got_current) == (base, current)
    assert got_base[0].weekday() == got_current[0].weekday()
    assert (got_base[1] - got_base[0]) == (got_current[1] - got_current[0])
    assert got_base[1] < min(first_seen or DAY, DAY) - dt.timedelta(days=window - 1)


def test_a_zero_run_longer_than_a_week_is_compared_with_days_before_it():
    base, current = alert_periods(DAY, 10)
    assert current == (DAY - dt.timedelta(days=9), DAY)
    assert base == (DAY - dt.timedelta(days=23), DAY - 2 * WEEK) and base[1] < current[0]

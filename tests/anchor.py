"""The day the generated shops of the detection tests end on, the same realization on any date.

A shape's days draw the same random numbers whatever the dates, but its weekday pattern follows the
calendar: shops ending on ``date.today()`` were seven different shops, one per weekday, and a test
that held on one of them failed on another (the known-shape tests passed on Wednesdays only). Ending
every such shop on the latest Wednesday keeps the dates recent and the data identical on any date;
how the rules fare over many realizations is what ``make evaluate`` measures, not these tests.
"""

from __future__ import annotations

import datetime as dt

WEDNESDAY = 2


def anchor_day(today: dt.date | None = None) -> dt.date:
    """The latest Wednesday on or before ``today`` (default: the real today)."""
    today = today or dt.date.today()
    return today - dt.timedelta(days=(today.weekday() - WEDNESDAY) % 7)

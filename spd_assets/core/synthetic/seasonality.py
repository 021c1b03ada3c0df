"""Demand shape over the calendar: weekly and yearly seasonality and promotions.

Kept apart from the generator so tests (and the README) can state the shape in one place.
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np

# Monday..Sunday: shoppers buy less at the weekend (mostly B2C desk-time traffic).
WEEKDAY_FACTOR = (1.05, 1.0, 1.0, 1.0, 0.95, 0.8, 0.85)


def black_friday(year: int) -> dt.date:
    """The day after the fourth Thursday of November."""
    nov1 = dt.date(year, 11, 1)
    first_thursday = nov1 + dt.timedelta(days=(3 - nov1.weekday()) % 7)
    return first_thursday + dt.timedelta(days=22)


def _smooth(x: float) -> float:
    """Cosine ease from 0 to 1 over x in [0, 1]."""
    x = min(max(x, 0.0), 1.0)
    return 0.5 - 0.5 * math.cos(math.pi * x)


def yearly_factor(day: dt.date) -> float:
    """Holiday peak from Black Friday to Christmas, a January slump, a mild summer lull."""
    bf = black_friday(day.year)
    f = 1.0 - 0.05 * _smooth(1 - abs((day - dt.date(day.year, 7, 31)).days) / 45)  # summer lull
    if bf <= day <= dt.date(day.year, 12, 23):
        # Peak opens at +80% on Black Friday, +60% on Cyber Monday, and eases to +30% before Christmas.
        spike = {0: 0.8, 3: 0.6}.get((day - bf).days, 0.0)
        f = 1.3 + spike + 0.1 * _smooth((day - bf).days / 10)
    elif day >= dt.date(day.year, 12, 24) or day < dt.date(day.year, 1, 15):
        # Ease from the peak into the January slump over three weeks, across New Year.
        since = (day - dt.date(day.year - (day.month == 1), 12, 24)).days
        f = 1.35 - 0.55 * _smooth(since / 21)
    elif day.month == 1:
        f = 0.8 + 0.2 * _smooth((day.day - 14) / 17)
    elif day < bf and day.month == 11:
        f = 1.0 + 0.1 * _smooth((day - dt.date(day.year, 11, 1)).days / 25)  # pre-holiday build-up
    return f


def demand_factor(day: dt.date) -> float:
    """Expected orders on ``day`` relative to an ordinary weekday: weekly x yearly seasonality."""
    return WEEKDAY_FACTOR[day.weekday()] * yearly_factor(day)


def promotions(day: dt.date, categories: list[str], seed: int) -> dict[str, tuple[float, float]]:
    """Categories on promotion that day as {category: (discount, demand uplift)}.

    Promotions run Thursday to Sunday; each week a seeded draw picks zero to two categories.
    """
    if day.weekday() < 3:
        return {}
    monday = day - dt.timedelta(days=day.weekday())
    rng = np.random.default_rng([seed, 7, monday.toordinal()])
    picks = rng.choice(len(categories), size=int(rng.integers(0, 3)), replace=False)
    out: dict[str, tuple[float, float]] = {}
    for idx in sorted(picks):
        discount = float(rng.choice([0.1, 0.15, 0.2, 0.3]))
        out[categories[idx]] = (discount, 1.0 + 2.5 * discount)
    return out

"""When the pipeline counts as stale: yesterday's day is expected by a fixed hour (UTC) each day."""

from __future__ import annotations

import datetime as dt


def stale_since(latest: dt.date | None, now: dt.datetime, due_hour: int) -> dt.date | None:
    """The first expected day that is missing, or None while the data is as fresh as it should be.

    Day d is due at ``due_hour`` on d+1 (a nightly run at 02:00 has it by 06:00). Before that hour
    only the day before yesterday is required. No data at all is not "stale" (nothing ran yet).
    """
    if latest is None:
        return None
    today = now.astimezone(dt.UTC).date()
    expected = today - dt.timedelta(days=1 if now.astimezone(dt.UTC).hour >= due_hour else 2)
    return latest + dt.timedelta(days=1) if latest < expected else None

"""The state store as the pages reach it: the event calendar and the feedback, for the data dir shown.

Not cached: the store is a small SQL database that a click changes, and a read takes milliseconds.
A store that cannot be reached (a PostgreSQL URL whose server is down) leaves the charts without
events rather than failing the page.
"""

from __future__ import annotations

import polars as pl
import sqlalchemy as sa

from spd_assets.core.events import EVENT_COLUMNS, Calendar
from spd_assets.core.feedback import Feedback
from spd_assets.core.state_store import StateStore, default_state_url


def store(root: str) -> StateStore:
    """The store for data dir ``root`` (SPD_STATE_URL, else the SQLite file beside the data)."""
    return StateStore(default_state_url(root))


def calendar(root: str) -> Calendar:
    return Calendar(store(root))


def feedback(root: str) -> Feedback:
    return Feedback(store(root))


def events(root: str) -> pl.DataFrame:
    """The current events, or none when the store cannot be read (the charts then shade nothing)."""
    try:
        return calendar(root).table()
    except sa.exc.SQLAlchemyError:
        return pl.DataFrame(schema=EVENT_COLUMNS)

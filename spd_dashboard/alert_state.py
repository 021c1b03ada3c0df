"""Acknowledged and snoozed alerts, kept in a small SQLite file under the data directory.

SQLite commits atomically, so a crash never leaves a half-written state, and the file survives a
dashboard restart. The pipeline never reads it: an acknowledgement changes what a person sees, not
what Dagster detects.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import polars as pl

FILE = Path("_dashboard") / "alert_state.sqlite"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS alert_state (
    alert_id   TEXT PRIMARY KEY,
    status     TEXT NOT NULL CHECK (status IN ('acknowledged', 'snoozed')),
    until      TEXT,
    note       TEXT NOT NULL DEFAULT '',
    updated_at TEXT NOT NULL
)
"""


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


@dataclass(frozen=True)
class AlertState:
    """What a person decided about one alert; a snooze ends by itself at ``until``."""

    alert_id: str
    status: str
    until: dt.datetime | None
    note: str
    updated_at: dt.datetime

    def shown_as(self, now: dt.datetime | None = None) -> str:
        """'acknowledged', 'snoozed until …', or 'open' once a snooze has run out."""
        if self.status == "acknowledged":
            return "acknowledged"
        if self.until is not None and self.until > (now or _now()):
            return f"snoozed until {self.until:%Y-%m-%d %H:%M} UTC"
        return "open"


class AlertStates:
    """Read and change alert states in ``<data_dir>/_dashboard/alert_state.sqlite``."""

    def __init__(self, data_dir: str) -> None:
        self.path = Path(data_dir) / FILE

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        con = sqlite3.connect(self.path, timeout=10)
        con.execute(_SCHEMA)
        return con

    def all(self) -> dict[str, AlertState]:
        """Every recorded state, by alert_id (an empty dict before anything was recorded)."""
        if not self.path.exists():
            return {}
        with closing(self._connect()) as con:
            rows = con.execute("SELECT alert_id, status, until, note, updated_at FROM alert_state").fetchall()
        return {
            r[0]: AlertState(
                r[0],
                r[1],
                dt.datetime.fromisoformat(r[2]) if r[2] else None,
                r[3],
                dt.datetime.fromisoformat(r[4]),
            )
            for r in rows
        }

    def _put(self, alert_id: str, status: str, until: dt.datetime | None, note: str) -> None:
        with closing(self._connect()) as con, con:
            con.execute(
                "INSERT INTO alert_state (alert_id, status, until, note, updated_at) VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT (alert_id) DO UPDATE SET status = excluded.status, until = excluded.until,"
                " note = excluded.note, updated_at = excluded.updated_at",
                (alert_id, status, until.isoformat() if until else None, note, _now().isoformat()),
            )

    def acknowledge(self, alert_id: str, note: str = "") -> None:
        self._put(alert_id, "acknowledged", None, note)

    def snooze(self, alert_id: str, days: float, note: str = "") -> dt.datetime:
        """Hide the alert from the open list for ``days``; returns when the snooze ends."""
        until = _now() + dt.timedelta(days=days)
        self._put(alert_id, "snoozed", until, note)
        return until

    def reopen(self, alert_id: str) -> None:
        with closing(self._connect()) as con, con:
            con.execute("DELETE FROM alert_state WHERE alert_id = ?", (alert_id,))


def with_status(
    alerts: pl.DataFrame, states: dict[str, AlertState], now: dt.datetime | None = None
) -> pl.DataFrame:
    """``alerts`` plus ``status`` (open, acknowledged, or snoozed until a time) and the person's ``note``."""
    ids = alerts["alert_id"].to_list()
    shown = [states[a].shown_as(now) if a in states else "open" for a in ids]
    notes = [states[a].note if a in states else "" for a in ids]
    return alerts.with_columns(
        status=pl.Series(shown, dtype=pl.String), note=pl.Series(notes, dtype=pl.String)
    )

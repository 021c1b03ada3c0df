"""Acknowledged and snoozed alerts, kept in the state store (``spd_assets.core.state_store``).

A SQL database commits atomically, so a crash never leaves a half-written state, and the state
survives a dashboard restart; its URL (``SPD_STATE_URL``, else a SQLite file under the data
directory) lets a deployment share one PostgreSQL between dashboards, which a file on object storage
could not. The pipeline never reads it: an acknowledgement changes what a person sees, not what
Dagster detects. The file of the version before the store (``_dashboard/alert_state.sqlite``) is
imported on first use.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import sqlalchemy as sa

from spd_assets.core.state_store import METADATA, StateStore, default_state_url, insert

PREVIOUS_FILE = Path("_dashboard") / "alert_state.sqlite"
ALERT_STATE = sa.Table(
    "alert_state",
    METADATA,
    sa.Column("alert_id", sa.Text, primary_key=True),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("until", sa.Text),  # ISO time, UTC
    sa.Column("note", sa.Text, nullable=False, server_default=""),
    sa.Column("updated_at", sa.Text, nullable=False),
    sa.CheckConstraint("status IN ('acknowledged', 'snoozed')", name="alert_state_status"),
)
_S = ALERT_STATE.c


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
    """Read and change alert states in the state store of ``data_dir`` (or at ``url``)."""

    def __init__(self, data_dir: str, url: str | None = None) -> None:
        self.store = StateStore(url or default_state_url(data_dir))
        self.store.ensure(ALERT_STATE)
        if "://" not in data_dir:
            self.store.import_previous(ALERT_STATE, Path(data_dir) / PREVIOUS_FILE)

    def all(self) -> dict[str, AlertState]:
        """Every recorded state, by alert_id (an empty dict before anything was recorded)."""
        with self.store.read(ALERT_STATE) as con:
            rows = con.execute(sa.select(_S.alert_id, _S.status, _S.until, _S.note, _S.updated_at)).all()
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
        row = {"alert_id": alert_id, "status": status, "until": until.isoformat() if until else None,
               "note": note, "updated_at": _now().isoformat()}  # fmt: skip
        with self.store.begin(ALERT_STATE) as con:
            new = insert(con, ALERT_STATE).values(row)
            con.execute(new.on_conflict_do_update(index_elements=[_S.alert_id], set_=row))

    def acknowledge(self, alert_id: str, note: str = "") -> None:
        self._put(alert_id, "acknowledged", None, note)

    def snooze(self, alert_id: str, days: float, note: str = "") -> dt.datetime:
        """Hide the alert from the open list for ``days``; returns when the snooze ends."""
        until = _now() + dt.timedelta(days=days)
        self._put(alert_id, "snoozed", until, note)
        return until

    def reopen(self, alert_id: str) -> None:
        with self.store.begin(ALERT_STATE) as con:
            con.execute(ALERT_STATE.delete().where(_S.alert_id == alert_id))


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

"""The delivery ledger: one row per (message, channel), so each message reaches each channel exactly once.

A message is an incident (its stable incident_id; a recovery has an id of its own) or a notice
about the pipeline (``core.notices``: a failed run, a missing day); rows recorded before incidents
existed hold one alert each and are sent as an incident of one. The table keeps
its first column's name, ``alert_id``, so a ledger written by an earlier version is read as is.

The table lives in the state store (``core.state_store``: SQLite by default, PostgreSQL in a
deployment). A row is recorded ``pending``, claimed as ``sending`` by one run in a single conditional
UPDATE (two checks running at once never both send it: SQLite takes the write lock up front, PostgreSQL
re-checks the condition on each row the other claim has just updated), then marked ``delivered`` or
released back to ``pending`` with the error, to be retried by the next check. A claim left by a run
that died mid-send is taken over after ``STALE_CLAIM_S``. A ledger file of the version before the
store (``<data_dir>/_deliveries/deliveries.sqlite``) is imported on first use.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Sequence
from pathlib import Path

import polars as pl
import sqlalchemy as sa

from .incidents import alert_message, as_messages
from .notices import MESSAGES, NOTICE
from .schema import INCIDENTS
from .state_store import METADATA, StateStore, insert

STALE_CLAIM_S = 600.0
CHUNK = 500  # ids per IN (...) list

DELIVERIES = sa.Table(
    "deliveries",
    METADATA,
    sa.Column("alert_id", sa.Text, primary_key=True),  # the message's id (its name from before incidents)
    sa.Column("channel", sa.Text, primary_key=True),
    sa.Column("alert_date", sa.Text, nullable=False),
    sa.Column("alert", sa.Text, nullable=False),  # the message as JSON
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("last_error", sa.Text),
    sa.Column("claimed_by", sa.Text),
    sa.Column("claimed_at", sa.Float),
    sa.Column("recorded_at", sa.Float, nullable=False),
    sa.Column("delivered_at", sa.Float),
    sa.CheckConstraint("status IN ('pending', 'sending', 'delivered')", name="deliveries_status"),
    sa.Index("deliveries_open", "channel", "status"),
)
_D = DELIVERIES.c


def _alert_json(row: dict) -> str:
    return json.dumps({k: (v.isoformat() if isinstance(v, dt.date) else v) for k, v in row.items()})


def _message(row: dict) -> dict:
    """A stored payload as a message; one recorded before incidents (an alert) becomes an incident of one."""
    row = {**row, "date": dt.date.fromisoformat(row["date"])}
    found = alert_message(row) if "alert_id" in row else {c: row.get(c) for c in INCIDENTS}
    return {**found, NOTICE: row.get(NOTICE)}


def _chunks(ids: Sequence[str]) -> list[list[str]]:
    return [list(ids[i : i + CHUNK]) for i in range(0, len(ids), CHUNK)]


class DeliveryLedger:
    """Which alert went to which channel, and which are still owed.

    ``store`` is a state-store URL or a ``StateStore``; ``previous`` the ledger file an earlier
    version wrote, imported into an empty table once.
    """

    def __init__(self, store: str | StateStore, previous: str | Path | None = None) -> None:
        self.store = store if isinstance(store, StateStore) else StateStore(store)
        self.store.ensure(DELIVERIES)
        if previous is not None:
            self.store.import_previous(DELIVERIES, Path(previous))

    def record(self, messages: pl.DataFrame, channels: Sequence[str]) -> int:
        """Owe each message (incidents, alerts standing alone, or notices) to each channel once; one
        already recorded (a re-run, a later day of the same incident) is left alone."""
        now = time.time()
        frame = messages if NOTICE in messages.columns else as_messages(messages)
        rows = [
            {"alert_id": r["incident_id"], "channel": channel, "alert_date": r["date"].isoformat(),
             "alert": _alert_json(r), "status": "pending", "attempts": 0, "recorded_at": now}
            for r in frame.to_dicts()
            for channel in channels
        ]  # fmt: skip
        added = 0
        with self.store.begin(DELIVERIES) as con:
            for i in range(0, len(rows), CHUNK // 5):  # 7 parameters a row: well under SQLite's limit
                new = insert(con, DELIVERIES).values(rows[i : i + CHUNK // 5]).on_conflict_do_nothing()
                added += len(con.execute(new.returning(_D.alert_id)).all())
        return added

    def claim(self, channel: str, claimant: str, stale_after_s: float = STALE_CLAIM_S) -> pl.DataFrame:
        """Take every message still owed to ``channel`` for ``claimant`` to send (MESSAGES layout)."""
        now = time.time()
        owed = sa.or_(
            _D.status == "pending", sa.and_(_D.status == "sending", _D.claimed_at < now - stale_after_s)
        )
        take = (
            DELIVERIES.update()
            .where(_D.channel == channel, owed)
            .values(status="sending", claimed_by=claimant, claimed_at=now, attempts=_D.attempts + 1)
        )
        mine = (
            sa.select(_D.alert)
            .where(_D.channel == channel, _D.status == "sending", _D.claimed_by == claimant)
            .order_by(_D.alert_date, _D.alert_id)
        )
        with self.store.begin(DELIVERIES) as con:
            con.execute(take)
            found = con.execute(mine).scalars().all()
        rows = [_message(json.loads(a)) for a in found]
        return pl.DataFrame(rows, schema=MESSAGES, orient="row") if rows else pl.DataFrame(schema=MESSAGES)

    def _update(self, channel: str, alert_ids: Sequence[str], **values: object) -> None:
        if not alert_ids:
            return
        with self.store.begin(DELIVERIES) as con:
            for part in _chunks(alert_ids):
                where = sa.and_(_D.channel == channel, _D.alert_id.in_(part))
                con.execute(DELIVERIES.update().where(where).values(**values))

    def mark_delivered(self, channel: str, alert_ids: Sequence[str]) -> None:
        """The channel took these messages: never send them to it again."""
        values = {"status": "delivered", "delivered_at": time.time(), "last_error": None, "claimed_by": None}
        self._update(channel, alert_ids, **values)

    def release(self, channel: str, alert_ids: Sequence[str], error: str) -> None:
        """Sending failed: owe these messages again, with the error, for the next check to retry."""
        self._update(channel, alert_ids, status="pending", last_error=error, claimed_by=None)

    def withdraw_absent(self, days: Sequence[dt.date], alert_ids: Sequence[str]) -> int:
        """Forget messages of ``days`` that a re-check no longer finds (late or corrected data), unless sent.

        Returns how many (alert, channel) rows were withdrawn; delivered ones stay as the record, and
        notices (a failed run, a missing day) are never withdrawn by a re-check of alerts (told apart
        by their payload, read here rather than in SQL, so the query is the same on every database).
        """
        if not days:
            return 0
        keep = set(alert_ids)
        open_ = sa.select(_D.alert_id, _D.alert).where(
            _D.alert_date.in_([d.isoformat() for d in days]), _D.status != "delivered"
        )
        with self.store.begin(DELIVERIES) as con:
            rows = con.execute(open_).all()
            gone = sorted(
                {a for a, payload in rows if a not in keep and json.loads(payload).get(NOTICE) is None}
            )
            for part in _chunks(gone):
                con.execute(DELIVERIES.delete().where(_D.status != "delivered", _D.alert_id.in_(part)))
        return len(gone)

    def known(self, ids: Sequence[str]) -> set[str]:
        """Those of ``ids`` recorded for any channel (whatever their status)."""
        found: set[str] = set()
        with self.store.read(DELIVERIES) as con:
            for part in _chunks(ids):
                found.update(
                    con.execute(sa.select(_D.alert_id).where(_D.alert_id.in_(part)).distinct()).scalars()
                )
        return found

    def pending_count(self, channel: str) -> int:
        """Messages still owed to ``channel``."""
        count = sa.select(sa.func.count()).where(_D.channel == channel, _D.status != "delivered")
        with self.store.read(DELIVERIES) as con:
            return int(con.execute(count).scalar_one())

    def table(self) -> pl.DataFrame:
        """Every delivery record (without the alert payload), for metadata, tests and the dashboard."""
        names = ["alert_id", "channel", "alert_date", "status", "attempts", "last_error", "delivered_at"]
        query = sa.select(*(DELIVERIES.c[n] for n in names)).order_by(_D.alert_date, _D.alert_id, _D.channel)
        with self.store.read(DELIVERIES) as con:
            data = [tuple(r) for r in con.execute(query)]
        schema = {
            "alert_id": pl.String, "channel": pl.String, "alert_date": pl.String, "status": pl.String,
            "attempts": pl.Int64, "last_error": pl.String, "delivered_at": pl.Float64,
        }  # fmt: skip
        return pl.DataFrame(data, schema=schema, orient="row")

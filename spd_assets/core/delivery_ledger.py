"""The delivery ledger: one row per (message, channel), so each message reaches each channel exactly once.

A message is an incident (its stable incident_id; a recovery has an id of its own) or a notice
about the pipeline (``core.notices``: a failed run, a missing day); rows recorded before incidents
existed hold one alert each and are sent as an incident of one. The table keeps
its first column's name, ``alert_id``, so a ledger written by an earlier version is read as is.

SQLite on local disk (under the data directory): a row is recorded ``pending``, claimed as
``sending`` by one run inside a write transaction (two checks running at once never both send it),
then marked ``delivered`` or released back to ``pending`` with the error, to be retried by the next
check. A claim left by a run that died mid-send is taken over after ``STALE_CLAIM_S``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import sqlite3
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import polars as pl

from .incidents import alert_message, as_messages
from .notices import MESSAGES, NOTICE
from .schema import INCIDENTS

STALE_CLAIM_S = 600.0

_DDL = """
CREATE TABLE IF NOT EXISTS deliveries (
    alert_id     TEXT NOT NULL,
    channel      TEXT NOT NULL,
    alert_date   TEXT NOT NULL,
    alert        TEXT NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('pending', 'sending', 'delivered')),
    attempts     INTEGER NOT NULL DEFAULT 0,
    last_error   TEXT,
    claimed_by   TEXT,
    claimed_at   REAL,
    recorded_at  REAL NOT NULL,
    delivered_at REAL,
    PRIMARY KEY (alert_id, channel)
);
CREATE INDEX IF NOT EXISTS deliveries_open ON deliveries (channel, status);
"""


def _alert_json(row: dict) -> str:
    return json.dumps({k: (v.isoformat() if isinstance(v, dt.date) else v) for k, v in row.items()})


def _message(row: dict) -> dict:
    """A stored payload as a message; one recorded before incidents (an alert) becomes an incident of one."""
    row = {**row, "date": dt.date.fromisoformat(row["date"])}
    found = alert_message(row) if "alert_id" in row else {c: row.get(c) for c in INCIDENTS}
    return {**found, NOTICE: row.get(NOTICE)}


class DeliveryLedger:
    """Which alert went to which channel, and which are still owed."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(_DDL)

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
        try:
            yield db
        finally:
            db.close()

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction taken up front, so a claim cannot interleave with another."""
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    def record(self, messages: pl.DataFrame, channels: Sequence[str]) -> int:
        """Owe each message (incidents, alerts standing alone, or notices) to each channel once; one
        already recorded (a re-run, a later day of the same incident) is left alone."""
        now = time.time()
        frame = messages if NOTICE in messages.columns else as_messages(messages)
        rows = [
            (r["incident_id"], channel, r["date"].isoformat(), _alert_json(r), now)
            for r in frame.to_dicts()
            for channel in channels
        ]
        with self._write() as db:
            before = db.total_changes
            db.executemany(
                "INSERT OR IGNORE INTO deliveries (alert_id, channel, alert_date, alert, status, recorded_at)"
                " VALUES (?, ?, ?, ?, 'pending', ?)",
                rows,
            )
            return db.total_changes - before

    def claim(self, channel: str, claimant: str, stale_after_s: float = STALE_CLAIM_S) -> pl.DataFrame:
        """Take every message still owed to ``channel`` for ``claimant`` to send (MESSAGES layout)."""
        now = time.time()
        with self._write() as db:
            db.execute(
                "UPDATE deliveries SET status = 'sending', claimed_by = ?, claimed_at = ?,"
                " attempts = attempts + 1 WHERE channel = ?"
                " AND (status = 'pending' OR (status = 'sending' AND claimed_at < ?))",
                (claimant, now, channel, now - stale_after_s),
            )
            found = db.execute(
                "SELECT alert FROM deliveries WHERE channel = ? AND status = 'sending' AND claimed_by = ?"
                " ORDER BY alert_date, alert_id",
                (channel, claimant),
            ).fetchall()
        rows = [_message(json.loads(a)) for (a,) in found]
        return pl.DataFrame(rows, schema=MESSAGES, orient="row") if rows else pl.DataFrame(schema=MESSAGES)

    def _update(self, sql: str, params: tuple, channel: str, alert_ids: Sequence[str]) -> None:
        if not alert_ids:
            return
        marks = ",".join("?" * len(alert_ids))
        with self._write() as db:
            db.execute(f"{sql} WHERE channel = ? AND alert_id IN ({marks})", (*params, channel, *alert_ids))

    def mark_delivered(self, channel: str, alert_ids: Sequence[str]) -> None:
        """The channel took these messages: never send them to it again."""
        sql = (
            "UPDATE deliveries SET status = 'delivered', delivered_at = ?, last_error = NULL,"
            " claimed_by = NULL"
        )
        self._update(sql, (time.time(),), channel, alert_ids)

    def release(self, channel: str, alert_ids: Sequence[str], error: str) -> None:
        """Sending failed: owe these messages again, with the error, for the next check to retry."""
        sql = "UPDATE deliveries SET status = 'pending', last_error = ?, claimed_by = NULL"
        self._update(sql, (error,), channel, alert_ids)

    def withdraw_absent(self, days: Sequence[dt.date], alert_ids: Sequence[str]) -> int:
        """Forget messages of ``days`` that a re-check no longer finds (late or corrected data), unless sent.

        Returns how many (alert, channel) rows were withdrawn; delivered ones stay as the record, and
        notices (a failed run, a missing day) are never withdrawn by a re-check of alerts.
        """
        if not days:
            return 0
        keep = set(alert_ids)
        marks = ",".join("?" * len(days))
        with self._write() as db:
            rows = db.execute(
                f"SELECT alert_id FROM deliveries WHERE alert_date IN ({marks}) AND status != 'delivered'"
                f" AND json_extract(alert, '$.{NOTICE}') IS NULL",
                [d.isoformat() for d in days],
            ).fetchall()
            gone = sorted({a for (a,) in rows if a not in keep})
            for i in range(0, len(gone), 500):
                part = gone[i : i + 500]
                marks = ",".join("?" * len(part))
                sql = f"DELETE FROM deliveries WHERE status != 'delivered' AND alert_id IN ({marks})"
                db.execute(sql, part)
        return len(gone)

    def known(self, ids: Sequence[str]) -> set[str]:
        """Those of ``ids`` recorded for any channel (whatever their status)."""
        found: set[str] = set()
        with self._connect() as db:
            for i in range(0, len(ids), 500):
                part = list(ids[i : i + 500])
                marks = ",".join("?" * len(part))
                rows = db.execute(
                    f"SELECT DISTINCT alert_id FROM deliveries WHERE alert_id IN ({marks})", part
                )
                found.update(a for (a,) in rows)
        return found

    def pending_count(self, channel: str) -> int:
        """Messages still owed to ``channel``."""
        with self._connect() as db:
            sql = "SELECT COUNT(*) FROM deliveries WHERE channel = ? AND status != 'delivered'"
            return int(db.execute(sql, (channel,)).fetchone()[0])

    def table(self) -> pl.DataFrame:
        """Every delivery record (without the alert payload), for metadata, tests and the dashboard."""
        with self._connect() as db:
            cursor = db.execute(
                "SELECT alert_id, channel, alert_date, status, attempts, last_error, delivered_at"
                " FROM deliveries ORDER BY alert_date, alert_id, channel"
            )
            names = [c[0] for c in cursor.description]
            data = cursor.fetchall()
        schema = {
            "alert_id": pl.String, "channel": pl.String, "alert_date": pl.String, "status": pl.String,
            "attempts": pl.Int64, "last_error": pl.String, "delivered_at": pl.Float64,
        }  # fmt: skip
        return pl.DataFrame(data, schema=dict(zip(names, schema.values(), strict=True)), orient="row")

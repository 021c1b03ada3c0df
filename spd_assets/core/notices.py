"""Notices about the pipeline itself: a failed run, a day that did not arrive by the expected hour.

A notice travels as a message of the delivery ledger (the INCIDENTS layout plus a ``notice`` JSON
column with what it says), under an id made from what it is about (the run, the missing day), so
it goes through the same channels as incidents, once per channel, and is retried while a channel
is down. The text never carries a secret: known secret values are blanked from error lines.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from typing import Any

import polars as pl

from .freshness import stale_since
from .run_tags import tag_span
from .schema import INCIDENTS

NOTICE = "notice"  # the column (and payload key) holding a notice's JSON; null for an incident
MESSAGES = {**INCIDENTS, NOTICE: pl.String}  # what the ledger hands back to the channels
MAX_ERROR = 300  # characters of the error's first line in a message


def first_line(text: str | None, limit: int = MAX_ERROR) -> str:
    """The first non-empty line of ``text``, cut to ``limit`` characters."""
    line = next((s.strip() for s in (text or "").splitlines() if s.strip()), "")
    return line if len(line) <= limit else line[: limit - 3] + "..."


def redact(text: str, secrets: Sequence[str | None]) -> str:
    """``text`` with every known secret value (a webhook URL and its token, a password) blanked."""
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def _row(notice_id: str, day: dt.date, root: str, severity: str, status: str, body: dict) -> dict[str, Any]:
    row: dict[str, Any] = dict.fromkeys(MESSAGES)
    return {**row, "incident_id": notice_id, "date": day, "root": root, "severity": severity,
            "status": status, NOTICE: json.dumps(body)}  # fmt: skip


def failure_notice(
    run_id: str,
    job: str,
    tags: Mapping[str, str],
    error: str,
    run_url: str | None,
    today: dt.date,
    secrets: Sequence[str | None] = (),
) -> dict[str, Any]:
    """One message for one failed run: the job, its partitions, the error's first line, the run's link.

    Keyed by the run id, so a failure is told once however often it is looked at; dated by its
    first partition (else ``today``).
    """
    span = tag_span(tags)
    try:
        day = dt.date.fromisoformat(span[0]) if span else today
    except ValueError:
        day = today
    where = (
        "" if span is None else f" for {span[0]}" if span[0] == span[1] else f" for {span[0]} .. {span[1]}"
    )
    body = {"kind": "failure", "run_id": run_id, "job": job, "partitions": list(span) if span else None,
            "error": first_line(redact(error, secrets)), "url": run_url}  # fmt: skip
    return _row(f"failure-{run_id}", day, f"run failed: {job}{where}", "critical", "failed", body)


def stale_notices(
    latest: dt.date | None,
    now: dt.datetime,
    due_hour: int,
    lookback_days: int,
    asset: str = "daily_metrics",
    url: str | None = None,
) -> list[dict[str, Any]]:
    """One message per day of ``asset`` still missing after its due hour (``core.freshness``), the
    last ``lookback_days`` + 1 such days at most; keyed by the day, so each is told once."""
    first = stale_since(latest, now, due_hour)
    if first is None:
        return []
    span = (now.astimezone(dt.UTC).date() - first).days + 1
    after = (first + dt.timedelta(days=k) for k in range(span))  # day d is due once d - 1 is not enough
    due_days = [d for d in after if stale_since(d - dt.timedelta(days=1), now, due_hour) is not None]
    found = []
    for day in due_days[-(lookback_days + 1) :]:
        due = f"{due_hour:02d}:00 UTC on {day + dt.timedelta(days=1)}"
        body = {"kind": "stale", "asset": asset, "day": day.isoformat(), "due": due,
                "latest": latest.isoformat() if latest else None, "url": url}  # fmt: skip
        found.append(
            _row(f"stale-{asset}-{day}", day, f"{asset} for {day} missing", "warning", "stale", body)
        )
    return found


def notices_frame(notices: Sequence[Mapping[str, Any]]) -> pl.DataFrame:
    """Notices as a frame the ledger records (MESSAGES layout)."""
    return (
        pl.DataFrame(list(notices), schema=MESSAGES, orient="row")
        if notices
        else pl.DataFrame(schema=MESSAGES)
    )


def body(message: Mapping[str, Any]) -> dict[str, Any] | None:
    """What a notice says, or None for an incident."""
    raw = message.get(NOTICE)
    return json.loads(raw) if raw else None


def notice_subject(message: Mapping[str, Any]) -> str:
    """'[spd] run failed: daily_pipeline for 2026-11-30: ValueError: ...' or '[spd] pipeline stale: ...'."""
    said = body(message) or {}
    if said.get("kind") == "failure":
        return f"[spd] {message['root']}: {said['error']}"
    return f"[spd] pipeline stale: {message['root']} (due {said.get('due')}; latest day {said.get('latest')})"


def notice_lines(message: Mapping[str, Any]) -> list[str]:
    """The lines of a notice: what happened, the error, where to look."""
    said = body(message) or {}
    if said.get("kind") == "failure":
        lines = [f"Run {said['run_id']} of {said['job']} failed", f"Error: {said['error']}"]
        return [*lines, *([f"The run in the Dagster UI: {said['url']}"] if said.get("url") else [])]
    lines = [
        f"No {said.get('asset')} for {said.get('day')} by {said.get('due')}; the latest day is "
        f"{said.get('latest')}. Check the schedule, the sensors and the last runs."
    ]
    return [*lines, *([f"Dagster UI: {said['url']}"] if said.get("url") else [])]

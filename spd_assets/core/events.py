"""The event calendar: holidays, promotions, site changes that make a drop expected.

Events live in the state store (``core.state_store``), edited from the dashboard or an
``events.csv``; a removed event keeps its row (``removed_at``), so history is never lost.

Which days an event expects a drop on (``expected_days``, one rule): the day after a promotion ends
(demand pulled forward falls back), and every day of a holiday, a site change or another event.
An alert is expected (``label_expected``) when one of those days is its date and the event's scope
covers its series: no scope is the whole shop; a region, category or SKU scope covers the alerts
whose own column has that value (a SKU alert carries its category, so a category scope covers it).
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import uuid
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import IO, Any

import polars as pl
import sqlalchemy as sa

from .state_store import IMPORTS, METADATA, StateStore, stamp
from .synthetic.catalog import CATEGORIES
from .synthetic.seasonality import black_friday, promotions

KINDS = ("holiday", "promotion", "site_change", "other")
SCOPES = ("region", "category", "sku")
DEFAULT_SEED = "events_default_calendar"  # its row in state_imports: the default was seeded once

EVENTS = sa.Table(
    "events",
    METADATA,
    sa.Column("event_id", sa.Text, primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("start", sa.Text, nullable=False),  # YYYY-MM-DD
    sa.Column("end", sa.Text, nullable=False),  # YYYY-MM-DD, inclusive
    sa.Column("scope_level", sa.Text),
    sa.Column("scope_value", sa.Text),
    sa.Column("created_at", sa.Text, nullable=False),
    sa.Column("updated_at", sa.Text, nullable=False),
    sa.Column("removed_at", sa.Text),
)
_E = EVENTS.c

EVENT_COLUMNS = {
    "event_id": pl.String,
    "name": pl.String,
    "kind": pl.String,
    "start": pl.Date,
    "end": pl.Date,
    "scope_level": pl.String,
    "scope_value": pl.String,
}
CSV_FIELDS = ("name", "kind", "start", "end", "scope_level", "scope_value")  # event_id optional, first


class EventError(ValueError):
    """An event that cannot be stored; the text names the field (and the file and row on import)."""


def _date(value: object, field: str) -> dt.date:
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        raise EventError(f"field {field}: {str(value)!r} is not a date (YYYY-MM-DD)") from None


def validated(fields: dict[str, Any]) -> dict[str, Any]:
    """One event's fields checked and normalised (dates as dates, blank scope as none)."""
    name = str(fields.get("name") or "").strip()
    if not name:
        raise EventError("field name: an event needs a name")
    kind = str(fields.get("kind") or "").strip()
    if kind not in KINDS:
        raise EventError(f"field kind: {kind!r} is not one of {', '.join(KINDS)}")
    start, end = _date(fields.get("start"), "start"), _date(fields.get("end"), "end")
    if end < start:
        raise EventError(f"field end: {end} is before the start {start}")
    level = (fields.get("scope_level") or "").strip() or None
    value = (fields.get("scope_value") or "").strip() or None
    if level is not None and level not in SCOPES:
        raise EventError(f"field scope_level: {level!r} is not one of {', '.join(SCOPES)} (or empty)")
    if (level is None) != (value is None):
        raise EventError("field scope_value: a scope needs both scope_level and scope_value")
    return {
        "name": name,
        "kind": kind,
        "start": start,
        "end": end,
        "scope_level": level,
        "scope_value": value,
    }


def _row(fields: dict[str, Any]) -> dict[str, Any]:
    return {**fields, "start": fields["start"].isoformat(), "end": fields["end"].isoformat()}


def _frame(rows: Iterable[dict[str, Any]]) -> pl.DataFrame:
    cols = list(EVENT_COLUMNS)
    data = [tuple(_date(r[c], c) if c in ("start", "end") else r[c] for c in cols) for r in rows]
    return pl.DataFrame(data, schema=EVENT_COLUMNS, orient="row").sort("start", "name", "event_id")


class Calendar:
    """The events in ``store``: add, edit, remove (kept as removed), import and export CSV."""

    def __init__(self, store: StateStore) -> None:
        self.store = store
        store.ensure(EVENTS, IMPORTS)

    def add(
        self,
        name: str,
        kind: str,
        start: dt.date,
        end: dt.date,
        scope_level: str | None = None,
        scope_value: str | None = None,
    ) -> str:
        """Store a new event; returns its id."""
        fields = validated(locals())
        event_id = uuid.uuid4().hex[:12]
        now = stamp()
        with self.store.begin(EVENTS) as con:
            con.execute(
                EVENTS.insert().values(event_id=event_id, created_at=now, updated_at=now, **_row(fields))
            )
        return event_id

    def get(self, event_id: str) -> dict[str, Any] | None:
        """One current event's fields (dates as dates), or None if unknown or removed."""
        found = self.table().filter(event_id=event_id)
        return found.row(0, named=True) if found.height else None

    def update(self, event_id: str, **fields: Any) -> None:
        """Change some fields of a current event (the others stay)."""
        unknown = set(fields) - set(CSV_FIELDS)
        if unknown:
            raise EventError(f"unknown event field(s): {', '.join(sorted(unknown))}")
        current = self.get(event_id)
        if current is None:
            raise KeyError(f"no current event {event_id}")
        new = validated({**current, **fields})
        with self.store.begin(EVENTS) as con:
            changed = EVENTS.update().where(_E.event_id == event_id)
            con.execute(changed.values(updated_at=stamp(), **_row(new)))

    def remove(self, event_id: str) -> None:
        """Take an event off the calendar; its row stays, marked removed."""
        with self.store.begin(EVENTS) as con:
            done = con.execute(
                EVENTS.update()
                .where(_E.event_id == event_id, _E.removed_at.is_(None))
                .values(removed_at=stamp())
            )
        if done.rowcount == 0:
            raise KeyError(f"no current event {event_id}")

    def table(self) -> pl.DataFrame:
        """The current events (EVENT_COLUMNS), by start date."""
        with self.store.read(EVENTS) as con:
            rows = con.execute(sa.select(*[_E[c] for c in EVENT_COLUMNS]).where(_E.removed_at.is_(None)))
            return _frame(dict(r._mapping) for r in rows)

    def history(self) -> pl.DataFrame:
        """Every event ever stored, removed ones included (with created/updated/removed times)."""
        with self.store.read(EVENTS) as con:
            rows = con.execute(sa.select(EVENTS).order_by(_E.created_at, _E.event_id)).all()
        return pl.DataFrame([tuple(r) for r in rows], schema=[c.name for c in EVENTS.columns], orient="row")

    def import_csv(self, source: str | Path | IO[str]) -> int:
        """Add the rows of an ``events.csv`` (an ``event_id`` column, if any, updates those events and
        puts removed ones back); a row equal to a current event is skipped, so importing twice adds
        nothing. All or nothing: the first bad row raises an EventError naming the file, row and field."""
        name = getattr(source, "name", None) or (
            str(source) if isinstance(source, str | Path) else "events.csv"
        )
        text = Path(source).read_text() if isinstance(source, str | Path) else source.read()
        reader = csv.DictReader(io.StringIO(text))
        missing = [f for f in CSV_FIELDS if f not in (reader.fieldnames or [])]
        if missing:
            raise EventError(
                f"{name}: missing column(s) {', '.join(missing)}; expected {','.join(CSV_FIELDS)}"
            )
        rows = []
        for line, raw in enumerate(reader, start=2):
            try:
                rows.append(((raw.get("event_id") or "").strip() or None, validated(raw)))
            except EventError as err:
                raise EventError(f"{name}, row {line}: {err}") from None
        current = self.table()
        with self.store.read(EVENTS) as con:
            known = set(con.execute(sa.select(_E.event_id)).scalars())  # removed ones too: put back
        same = {tuple(r[f] for f in CSV_FIELDS) for r in current.iter_rows(named=True)}
        now, count = stamp(), 0
        with self.store.begin(EVENTS) as con:
            for event_id, fields in rows:
                if tuple(fields[f] for f in CSV_FIELDS) in same:
                    continue
                if event_id in known:
                    con.execute(
                        EVENTS.update()
                        .where(_E.event_id == event_id)
                        .values(updated_at=now, removed_at=None, **_row(fields))
                    )
                else:
                    new_id = event_id or uuid.uuid4().hex[:12]
                    con.execute(
                        EVENTS.insert().values(
                            event_id=new_id, created_at=now, updated_at=now, **_row(fields)
                        )
                    )
                count += 1
        return count

    def export_csv(self, target: str | Path | IO[str]) -> None:
        """Write the current events as an ``events.csv`` (event_id first) that ``import_csv`` reads back."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["event_id", *CSV_FIELDS])
        for r in self.table().iter_rows(named=True):
            writer.writerow([r["event_id"], *(r[f] if r[f] is not None else "" for f in CSV_FIELDS)])
        if isinstance(target, str | Path):
            Path(target).write_text(out.getvalue())
        else:
            target.write(out.getvalue())

    def seed_default(self, start: dt.date, end: dt.date, seed: int = 7) -> int:
        """Add the default calendar for ``start``..``end`` if it was never seeded here; returns rows added."""
        events = default_calendar(start, end, seed=seed)
        now = stamp()
        with self.store.begin(EVENTS, IMPORTS) as con:
            done = sa.select(IMPORTS.c.table_name).where(IMPORTS.c.table_name == DEFAULT_SEED)
            if con.execute(done).first() is not None:
                return 0
            con.execute(
                IMPORTS.insert().values(
                    table_name=DEFAULT_SEED, source="default_calendar", rows=events.height, imported_at=0.0
                )
            )
            rows = [{**_row(r), "created_at": now, "updated_at": now} for r in events.iter_rows(named=True)]
            if rows:
                con.execute(EVENTS.insert(), rows)
        return len(rows)


def _event(
    name: str, kind: str, start: dt.date, end: dt.date, level: str | None = None, value: str | None = None
):
    key = f"{name}|{kind}|{start}|{end}|{level}|{value}".encode()
    event_id = "default-" + hashlib.sha256(key).hexdigest()[:8]
    return (event_id, name, kind, start, end, level, value)


def default_calendar(
    start: dt.date, end: dt.date, seed: int = 7, categories: Sequence[str] = CATEGORIES
) -> pl.DataFrame:
    """The major retail dates and the synthetic shop's promotions (``seasonality.promotions``) that
    overlap ``start``..``end``; ids derive from the content, so the same range gives the same rows."""
    rows = []
    for year in range(start.year - 1, end.year + 1):
        bf = black_friday(year)
        rows += [
            _event("Black Friday", "promotion", bf, bf),
            _event("Cyber Monday", "promotion", bf + dt.timedelta(days=3), bf + dt.timedelta(days=3)),
            _event("Christmas", "holiday", dt.date(year, 12, 24), dt.date(year, 12, 26)),
            _event("New Year", "holiday", dt.date(year, 12, 31), dt.date(year + 1, 1, 1)),
        ]
    monday = start - dt.timedelta(days=start.weekday())
    while monday <= end:
        thursday, sunday = monday + dt.timedelta(days=3), monday + dt.timedelta(days=6)
        for category, (discount, _) in sorted(promotions(thursday, sorted(categories), seed).items()):
            name = f"{category} promotion (-{discount:.0%})"
            rows.append(_event(name, "promotion", thursday, sunday, "category", category))
        monday += dt.timedelta(days=7)
    frame = pl.DataFrame(rows, schema=EVENT_COLUMNS, orient="row")
    return between(frame, start, end).unique("event_id", maintain_order=True)


def between(events: pl.DataFrame, first: dt.date, last: dt.date) -> pl.DataFrame:
    """The events overlapping ``first``..``last`` (what a chart of those days shades)."""
    return events.filter((pl.col("start") <= last) & (pl.col("end") >= first))


def expected_days(row: dict[str, Any]) -> list[dt.date]:
    """The days an event expects a drop on: the day after a promotion, else each day it lasts."""
    start, end = _date(row["start"], "start"), _date(row["end"], "end")
    if row["kind"] == "promotion":
        return [end + dt.timedelta(days=1)]
    return [start + dt.timedelta(days=k) for k in range((end - start).days + 1)]


def days_covered(old_row: dict[str, Any] | None, new_row: dict[str, Any] | None) -> list[dt.date]:
    """The days whose anomaly check must re-run after an event is added, edited or removed."""
    days = {d for row in (old_row, new_row) if row is not None for d in expected_days(row)}
    return sorted(days)


def expected_spans(events: pl.DataFrame) -> pl.DataFrame:
    """One row per (event, expected day): date, name, scope_level, scope_value."""
    rows = [
        (d, r["name"], r["scope_level"], r["scope_value"])
        for r in events.iter_rows(named=True)
        for d in expected_days(r)
    ]
    schema = {"date": pl.Date, "name": pl.String, "scope_level": pl.String, "scope_value": pl.String}
    return pl.DataFrame(rows, schema=schema, orient="row")


def label_expected(alerts: pl.DataFrame, events: pl.DataFrame) -> pl.DataFrame:
    """``alerts`` with ``expected``: the name of the event that expects the drop (names joined by
    '; ' when several do), null for an unexpected drop."""
    base = alerts.drop("expected", strict=False)
    if alerts.is_empty() or events.is_empty():
        return base.with_columns(pl.lit(None, pl.String).alias("expected"))
    spans = expected_spans(events)
    keyed = base.with_row_index("_row")
    hits = keyed.select("_row", "date", *SCOPES).join(spans, on="date", how="inner")
    in_scope = pl.col("scope_level").is_null()
    for level in SCOPES:
        in_scope = in_scope | ((pl.col("scope_level") == level) & (pl.col(level) == pl.col("scope_value")))
    names = (
        hits.filter(in_scope)
        .group_by("_row")
        .agg(pl.col("name").unique(maintain_order=True).sort().str.join("; ").alias("expected"))
    )
    return keyed.join(names, on="_row", how="left").sort("_row").drop("_row")


def expected_by_incident(alerts: pl.DataFrame) -> pl.DataFrame:
    """An incident whose root is expected is expected: its other alerts take the root's label (an
    incident with no root alert is expected when all its alerts are)."""
    if alerts.is_empty() or "incident_id" not in alerts.columns:
        return alerts
    labelled = pl.col("expected").is_not_null()
    root = pl.col("expected").filter(pl.col("is_root").fill_null(False)).drop_nulls().first()
    whole = pl.when(labelled.all()).then(pl.col("expected").first())
    has_root = pl.col("is_root").fill_null(False).any()
    label = pl.when(has_root).then(root).otherwise(whole).over("incident_id")
    grouped = pl.col("incident_id").is_not_null()
    return alerts.with_columns(
        expected=pl.when(grouped).then(pl.coalesce(label, pl.col("expected"))).otherwise(pl.col("expected"))
    )


def expected_incidents(alerts: pl.DataFrame) -> set[str]:
    """Ids of the messages the calendar expects (all their alerts expected, after
    ``expected_by_incident``); an alert without an incident is a message under its own id."""
    if alerts.is_empty() or "expected" not in alerts.columns:
        return set()
    key = pl.coalesce("incident_id", "alert_id") if "incident_id" in alerts.columns else pl.col("alert_id")
    quiet = alerts.group_by(key.alias("_id")).agg(pl.col("expected").is_not_null().all().alias("_quiet"))
    return set(quiet.filter("_quiet")["_id"])

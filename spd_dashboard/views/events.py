"""Event calendar: list, add, edit and remove the events that explain expected drops, import and export
``events.csv``; every change re-runs the anomaly check for exactly the days it covers."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable

import polars as pl
import streamlit as st

from spd_assets.core.events import KINDS, SCOPES, days_covered
from spd_assets.core.text import md_escape
from spd_dashboard import charts, check_panel, ui
from spd_dashboard.query import state

_DONE = "spd_calendar_done"  # the last change's outcome, shown after the rerun
_NONE = "everywhere"

v = ui.view()
st.title("Event calendar")
cal = state.calendar(v.root)


def changed_days(before: pl.DataFrame, after: pl.DataFrame) -> list[dt.date]:
    """The days to re-check after a change: ``days_covered`` of every event added, edited or removed."""
    old = {r["event_id"]: r for r in before.iter_rows(named=True)}
    new = {r["event_id"]: r for r in after.iter_rows(named=True)}
    days: set[dt.date] = set()
    for event_id in old.keys() | new.keys():
        if old.get(event_id) != new.get(event_id):
            days.update(days_covered(old.get(event_id), new.get(event_id)))
    return sorted(days)


def _change(what: str, edit: Callable[[], object]) -> None:
    """Apply one edit, then launch the check for the days it covers; a failed launch keeps the edit."""
    before = cal.table()
    try:
        edit()
    except (ValueError, KeyError) as exc:
        st.session_state[_DONE] = {"what": what, "error": str(exc)}
        return
    days = changed_days(before, cal.table())
    st.session_state[_DONE] = {"what": what, "launches": check_panel.launch_days(v.root, days)}


def _fields(prefix: str) -> dict:
    s = st.session_state
    scope = s[f"{prefix}_scope"]
    return {
        "name": s[f"{prefix}_name"].strip(),
        "kind": s[f"{prefix}_kind"],
        "start": s[f"{prefix}_start"],
        "end": s[f"{prefix}_end"],
        "scope_level": None if scope == _NONE else scope,
        "scope_value": (s[f"{prefix}_value"].strip() or None) if scope != _NONE else None,
    }


def _form(prefix: str, event: dict, submit: str, on_submit: Callable[..., None], args: tuple = ()) -> None:
    """The fields of one event, prefilled with ``event``; keys carry ``prefix`` so each form keeps its own."""
    with st.form(f"{prefix}_form", border=False):
        name, kind = st.columns([3, 2])
        name.text_input("Name", value=event["name"], key=f"{prefix}_name", placeholder="e.g. Spring sale")
        kind.selectbox("Kind", KINDS, index=KINDS.index(event["kind"]), key=f"{prefix}_kind")
        start, end, scope, value = st.columns([2, 2, 2, 3])
        start.date_input("Start", value=event["start"], key=f"{prefix}_start", format="YYYY-MM-DD")
        end.date_input("End (included)", value=event["end"], key=f"{prefix}_end", format="YYYY-MM-DD")
        scopes = (_NONE, *SCOPES)
        at = scopes.index(event["scope_level"] or _NONE)
        scope.selectbox("Scope", scopes, index=at, key=f"{prefix}_scope")
        value.text_input(
            "Scope value", value=event["scope_value"] or "", key=f"{prefix}_value", placeholder="e.g. us-east"
        )
        st.form_submit_button(submit, on_click=on_submit, args=args, type="primary")


def _add() -> None:
    f = _fields("add")
    _change(f"Added {f['name']!r}", lambda: cal.add(**f))


def _save(event_id: str) -> None:
    f = _fields(f"edit_{event_id}")
    _change(f"Saved {f['name']!r}", lambda: cal.update(event_id, **f))


def _remove(event_id: str, name: str) -> None:
    _change(f"Removed {name!r}", lambda: cal.remove(event_id))


def _import() -> None:
    upload = st.session_state.get("events_upload")
    if upload is not None:
        text = io.StringIO(upload.getvalue().decode("utf-8-sig"))
        text.name = upload.name  # import errors name the file, the row and the field
        _change(f"Imported {upload.name}", lambda: cal.import_csv(text))


def _seed(first: dt.date, last: dt.date) -> None:
    _change("Added the default retail calendar", lambda: cal.seed_default(first, last))


def _retry(what: str, days: list[dt.date]) -> None:
    st.session_state[_DONE] = {"what": what, "launches": check_panel.launch_days(v.root, days)}


done = st.session_state.get(_DONE)
if done:
    if "error" in done:
        st.error(f"{md_escape(done['what'])}: not saved. {md_escape(done['error'])}", icon=":material/error:")
    else:
        st.markdown(f"**{md_escape(done['what'])}.**")
        check_panel.show_launches(done["launches"])
        if done["launches"].pending:
            st.button("Launch the check again", icon=":material/replay:", on_click=_retry,
                      args=(done["what"], done["launches"].pending))  # fmt: skip

events = cal.table().sort("start", "name")
st.caption(
    "A drop the calendar expects (during a site change, the day after a promotion ends, within its scope) "
    "is kept and labelled `expected`, and not notified. Every trend chart shades these events."
)
if events.is_empty():
    st.info("No event yet: add one below, import an events.csv, or add the default retail dates.")
else:
    config = {"start": ui.DATE, "end": ui.DATE, "scope_level": "scope", "scope_value": "scope value"}
    st.dataframe(events.drop("event_id"), hide_index=True, column_config=config)
buffer = io.StringIO()
cal.export_csv(buffer)
st.download_button(
    "Export events.csv",
    buffer.getvalue().encode(),
    file_name="events.csv",
    mime="text/csv",
    icon=":material/download:",
)

today = dt.datetime.now(dt.UTC).date()
blank = {"name": "", "kind": "promotion", "start": today, "end": today}
blank |= {"scope_level": None, "scope_value": None}
add_tab, edit_tab, import_tab = st.tabs(["Add", "Edit or remove", "Import"])
with add_tab:
    _form("add", blank, "Add event", _add)
with edit_tab:
    if events.is_empty():
        st.caption("Nothing to edit yet.")
    else:
        rows = {r["event_id"]: r for r in events.iter_rows(named=True)}
        picked = st.selectbox(
            "Event",
            list(rows),
            key="event_pick",
            format_func=lambda e: f"{charts.event_label(rows[e])} · {rows[e]['start']} to {rows[e]['end']}",
        )
        _form(f"edit_{picked}", rows[picked], "Save changes", _save, (picked,))
        st.button(
            "Remove event", icon=":material/delete:", on_click=_remove, args=(picked, rows[picked]["name"])
        )
with import_tab:
    st.file_uploader(
        "events.csv",
        type="csv",
        key="events_upload",
        help="Columns name, kind, start, end and optionally scope_level, scope_value (as exported).",
    )
    st.button("Import", icon=":material/upload:", on_click=_import)
    if v.bounds is not None:
        st.button(
            "Add the default retail dates",
            help="Black Friday, Cyber Monday, Christmas, New Year and the demo shop's promotions, over the "
            "history; only once.",
            on_click=_seed,
            args=(v.bounds.first, v.bounds.last),
        )

"""Streamlit pieces every page shares: the sidebar filters (kept in the URL), tables, the empty state."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import polars as pl
import streamlit as st

from spd_assets.core.text import md_code, md_escape

from . import query
from .dagster_runs import LaunchError, dagster_ui
from .selection import Period, Selection, default_period, match_skus, period_from_input

FILTER_KEYS = ("dates", "region", "category", "sku")
_VIEW_KEY = "_spd_view"


@dataclass(frozen=True)
class View:
    """What the pages draw: where the data is, its bounds, and the user's period and selection."""

    root: str
    bounds: query.Bounds | None
    period: Period | None
    selection: Selection
    sku_query: str
    prev_complete: bool

    @property
    def has_data(self) -> bool:
        return self.bounds is not None and self.period is not None


def _pipeline_link() -> None:
    try:
        url = dagster_ui().url
    except LaunchError:
        return
    st.caption(f"Pipeline runs and backfills: [Dagster UI]({url})")


def _reset_filters() -> None:
    for key in FILTER_KEYS:
        st.session_state.pop(key, None)


def sidebar(root: str) -> View:
    """Draw the filters (each bound to a URL query parameter) and remember the resulting view."""
    b = query.bounds(root)
    if b is None:
        st.sidebar.caption("No sales data yet: the filters appear once daily_agg has a day.")
        with st.sidebar:
            _pipeline_link()
        view = View(root, None, None, Selection(), "", False)
        st.session_state[_VIEW_KEY] = view
        return view
    fallback = default_period(b.first, b.last)
    with st.sidebar:
        st.subheader("Filters")
        picked = st.date_input(
            "Date range",
            value=(fallback.start, fallback.end),
            min_value=b.first,
            max_value=b.last,
            key="dates",
            bind="query-params",
            format="YYYY-MM-DD",
            help=f"History available: {b.first} to {b.last}. Deltas compare with the period just before.",
        )
        regions = st.multiselect(
            "Region", b.regions, key="region", bind="query-params", placeholder="All regions"
        )
        cats = st.multiselect(
            "Category", b.categories, key="category", bind="query-params", placeholder="All"
        )
        search = st.text_input(
            "SKU search", key="sku", bind="query-params", placeholder="id or name, e.g. SKU-0004"
        )
        st.button("Reset filters", on_click=_reset_filters, type="tertiary", icon=":material/restart_alt:")
        _pipeline_link()
    period = period_from_input(picked, fallback)
    skus = match_skus(query.catalog(root), search)
    selection = Selection(tuple(regions), tuple(cats), skus)
    if skus == ():
        st.sidebar.warning(f"No SKU matches '{md_escape(search)}'.")
    elif skus is not None:
        st.sidebar.caption(f"{len(skus)} SKU(s) match '{md_escape(search)}'.")
    prev_ok = query.scan(root, "daily_agg").count_between(period.prev_start, period.prev_end) == period.days
    view = View(root, b, period, selection, search, prev_ok)
    st.session_state[_VIEW_KEY] = view
    return view


def view() -> View:
    """The view the entry script computed for this run (pages call this first)."""
    found = st.session_state.get(_VIEW_KEY)
    return found if isinstance(found, View) else sidebar(query.data_dir())


def empty_state(root: str) -> None:
    """The no-data message: what to run, and where, instead of a stack trace."""
    ui = dagster_ui()
    st.info(
        f"**No data yet** in {md_code(root)}: run `make run` (it materializes a demo history and starts "
        "both UIs), "
        f"or materialize the assets in the Dagster UI at {ui.url}.",
        icon=":material/database:",
    )


def require_data(v: View) -> None:
    """Show the empty state and stop the page when there is nothing to draw."""
    if not v.has_data:
        empty_state(v.root)
        st.stop()


def header(title: str, v: View) -> None:
    st.title(title)
    if v.period is not None:
        note = "" if v.prev_complete else " · previous period not fully materialized: no deltas"
        st.caption(f"{v.period.label()} · {md_escape(v.selection.describe())}{note}")


MONEY = st.column_config.NumberColumn(format="dollar")
PERCENT = st.column_config.NumberColumn(format="percent")
DATE = st.column_config.DateColumn(format="YYYY-MM-DD")


def table(frame: pl.DataFrame, name: str, column_config: dict | None = None, **kwargs: object) -> object:
    """A dataframe with a CSV download button beside it (list columns, like sparklines, are left out)."""
    dates = {c: DATE for c, t in frame.schema.items() if t == pl.Date}
    shown = st.dataframe(frame, hide_index=True, column_config=dates | (column_config or {}), **kwargs)
    flat = frame.select([c for c, t in frame.schema.items() if not isinstance(t, pl.List)])
    st.download_button(
        f"Download {name} (CSV)",
        flat.write_csv().encode(),
        file_name=f"spd-{name.replace(' ', '-')}.csv",
        mime="text/csv",
        key=f"dl-{name}",
        icon=":material/download:",
        type="tertiary",
    )
    return shown


def fmt_day(day: dt.date | None) -> str:
    return day.isoformat() if day else "—"

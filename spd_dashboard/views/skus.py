"""SKUs: a searchable table of SKU performance, the best and worst, and one SKU's history."""

import datetime as dt

import polars as pl
import streamlit as st

from spd_assets.core.text import md_escape
from spd_dashboard import charts, query, summary, ui
from spd_dashboard.query.state import events
from spd_dashboard.selection import Selection

v = ui.view()
ui.header("SKUs", v)
ui.require_data(v)
p, sel = v.period, v.selection

table = summary.sku_table(query.by_sku(v.root, sel, p), query.catalog(v.root), v.prev_complete)
if table.is_empty():
    st.info("No SKU sold in this period with these filters.")
    st.stop()

top = table.row(0, named=True)
ranked = table.filter(pl.col("change_abs").is_not_null())
with st.container(horizontal=True):
    st.metric(
        "Top seller",
        md_escape(top["sku"]),
        delta=f"${top['revenue']:,.0f} · {top['share']:.1%} of revenue",
        delta_color="off",
        delta_arrow="off",
        border=True,
        help=md_escape(top["name"]) if top["name"] else None,
    )
    if ranked.height:
        best = ranked.sort("change_abs", descending=True).row(0, named=True)
        worst = ranked.sort("change_abs").row(0, named=True)
        for label, row in (("Biggest gain", best), ("Biggest loss", worst)):
            st.metric(
                label,
                md_escape(row["sku"]),
                delta=f"{row['change_abs']:+,.0f} $ ({summary.delta_text(row['change'])})",
                border=True,
                help=md_escape(row["name"]) if row["name"] else None,
            )
    st.metric("SKUs in view", table.height, border=True, help=f"Selection: {md_escape(sel.describe())}")

skus = table["sku"].to_list()


def _pick_from_table() -> None:
    rows = st.session_state["sku_table"].selection.rows
    if rows:
        st.session_state["sku_pick"] = skus[rows[0]]


st.subheader("SKU performance")
st.caption("Click a row to see its history below. Share is of the selection's revenue.")
ui.table(
    table.drop("prev_revenue") if v.prev_complete else table.drop("prev_revenue", "change", "change_abs"),
    "skus",
    {
        "revenue": ui.MONEY,
        "share": ui.PERCENT,
        "change": st.column_config.NumberColumn("change %", format="percent"),
        "change_abs": st.column_config.NumberColumn("change", format="dollar"),
        "daily": st.column_config.LineChartColumn("daily revenue", y_min=0, color="auto"),
    },
    key="sku_table",
    on_select=_pick_from_table,
    selection_mode="single-row",
)

names = dict(zip(table["sku"], table["name"], strict=True))
if st.session_state.get("sku_pick") not in skus:
    st.session_state.pop("sku_pick", None)
sku = st.selectbox("SKU history", skus, key="sku_pick", format_func=lambda s: f"{s} · {names.get(s) or ''}")
start = max(v.bounds.first, min(p.start, p.end - dt.timedelta(days=89)))
one = Selection(regions=sel.regions, skus=(sku,))
daily = query.region_daily(v.root, one, start, p.end)
seven = query.seven_day(v.root, one, start, p.end)
name = md_escape(f"{sku} · {names.get(sku) or ''}")
st.markdown(f"**{name}**: daily revenue by region, {start} to {p.end}")
st.plotly_chart(charts.sku_history(daily, seven, events(v.root)), key="sku_history")

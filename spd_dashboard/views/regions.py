"""Regions: revenue by region and category (bars and a treemap) and each region's trend."""

import streamlit as st

from spd_assets.core.metrics import ONE_REGION
from spd_dashboard import charts, query, summary, ui
from spd_dashboard.query.state import events

v = ui.view()
ui.header("Regions", v)
ui.require_data(v)
p, sel = v.period, v.selection
if v.bounds.regions == (ONE_REGION,):
    st.info(
        "This shop's exports name no region, so every order is in one region `all`: there is nothing to "
        "break down by region. Map a country or region column on import (`spd import --map region=...`).",
        icon=":material/public_off:",
    )
    st.stop()

by_rc = query.by_region_category(v.root, sel, p)
if by_rc.is_empty():
    st.info("Nothing sold in this period with these filters.")
    st.stop()
regions = summary.region_totals(by_rc, v.prev_complete)

bars, tree = st.columns([2, 3])
with bars:
    st.subheader("Revenue by region")
    st.plotly_chart(charts.region_bars(regions), key="region_bars")
with tree:
    st.subheader("Region → category")
    st.plotly_chart(charts.region_treemap(by_rc), key="region_treemap")

st.subheader("Each region's trend")
st.caption("Bars: daily revenue · line: 7-day average from daily_metrics · shaded: calendar events.")
daily = query.region_daily(v.root, sel, p.start, p.end)
seven = query.seven_day(v.root, sel, p.start, p.end, by_region=True)
st.plotly_chart(charts.region_trends(daily, seven, events(v.root)), key="region_trends")

st.subheader("Region × category")
detail = summary.with_share_and_change(by_rc, v.prev_complete)
if not v.prev_complete:
    detail = detail.drop("prev_revenue", "change")
config = {
    "revenue": ui.MONEY,
    "prev_revenue": st.column_config.NumberColumn("previous period", format="dollar"),
    "share": ui.PERCENT,
    "change": st.column_config.NumberColumn("change %", format="percent"),
}
ui.table(detail, "regions", config)

"""Overview: KPI cards with deltas, the revenue trend with its 7-day line and alerts, top movers."""

import streamlit as st

from spd_dashboard import charts, query, summary, ui
from spd_dashboard.query.state import events
from spd_dashboard.selection import filter_alerts

v = ui.view()
ui.header("Overview", v)
ui.require_data(v)
p, sel = v.period, v.selection

totals = query.daily_totals(v.root, sel, p.start, p.end)
previous = query.period_totals(v.root, sel, p.prev_start, p.prev_end) if v.prev_complete else None
seven = query.seven_day(v.root, sel, p.start, p.end)

kpis = summary.period_kpis(totals, previous, seven)
n_cancelled, cancelled_revenue = query.cancelled(v.root, sel, p.start, p.end)
cards = st.columns(len(kpis) + (1 if n_cancelled else 0), gap="small")
for card, kpi in zip(cards, kpis, strict=False):
    card.metric(
        kpi.label,
        kpi.shown,
        delta=summary.delta_text(kpi.delta),
        border=True,
        chart_data=kpi.spark,
        chart_type="area" if kpi.label.startswith("7-day") else "line",
        help=kpi.help,
    )

if n_cancelled:
    cards[-1].metric(
        "Cancelled",
        summary.short(cancelled_revenue, summary.MONEY),
        border=True,
        help=f"{n_cancelled:,} order line(s) cancelled, refunded, voided or failed in the period, worth "
        f"${cancelled_revenue:,.2f}: kept out of revenue, units and orders.",
    )

alerts = filter_alerts(query.alerts(v.root, p.start, p.end), sel)
st.subheader("Revenue trend")
marks = summary.alert_marks(alerts, totals)
st.plotly_chart(charts.trend_figure(totals, seven, marks, events(v.root)), key="trend")
st.caption(
    f"Bars: daily revenue · line: 7-day average from daily_metrics"
    f" (level `{seven['level'][0] if seven.height else '—'}`)"
    f" · triangles: {alerts.height} alert(s) in the period, worst severity per day"
    " · shaded: the event calendar's events."
)

st.subheader("Top movers vs previous period")
if not v.prev_complete:
    st.caption("The previous period is not fully materialized, so changes are not shown.")
else:
    up, down = summary.movers(
        summary.sku_table(query.by_sku(v.root, sel, p, daily=False), query.catalog(v.root), True)
    )
    config = {
        "revenue": ui.MONEY,
        "change_abs": st.column_config.NumberColumn("change", format="dollar"),
        "change": st.column_config.NumberColumn("change %", format="percent"),
    }
    gaining, losing = st.columns(2)
    with gaining:
        st.markdown("**Gaining**")
        ui.table(up, "movers up", config)
    with losing:
        st.markdown("**Losing**")
        ui.table(down, "movers down", config)

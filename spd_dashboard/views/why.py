"""Why: the key drivers of a KPI for an alert (its window against its baseline), an incident, or two
periods; a waterfall from the base total to the current one, each driver a click from its own trend."""

import streamlit as st

from spd_assets.core.drivers import DIMENSIONS, KPIS, alert_periods, effects, key_drivers
from spd_assets.core.text import md_escape
from spd_dashboard import charts, query, ui
from spd_dashboard.incidents import fold
from spd_dashboard.selection import Period, Selection, drill_down, period_from_input
from spd_dashboard.summary import series_names

GO = "_why_go"  # set by a driver's button: the page to open on this run
if target := st.session_state.pop(GO, None):
    st.switch_page(target, query_params={})  # {} not None: None refuses to clear the bound filters

v = ui.view()
ui.header("Why", v)
ui.require_data(v)
b = v.bounds

alerts = query.alerts(v.root).with_columns(series=series_names())
found = query.incidents(v.root)
incidents = fold(alerts, found)
left, right = st.columns([3, 2], vertical_alignment="bottom")
mode = left.radio(
    "Explain", ("alert", "incident", "periods"), key="explain", bind="query-params", horizontal=True
)
kpi = right.radio("KPI", KPIS, key="kpi", bind="query-params", horizontal=True)


def _pick(label: str, rows: dict[str, dict], param: str, *shown: str) -> dict:
    """The row picked in a selectbox that starts at the URL's ``param`` and writes it back (links open it)."""
    ids = list(rows)
    wanted = st.query_params.get(param)
    picked = st.selectbox(
        label,
        ids,
        index=ids.index(wanted) if wanted in rows else 0,
        key=f"why_{param}",
        format_func=lambda i: " · ".join(str(rows[i][k]) for k in shown),
    )
    st.query_params[param] = picked
    return rows[picked]


if mode in ("alert", "incident") and alerts.is_empty():
    st.info("No alert yet: compare two periods instead.", icon=":material/notifications_off:")
    st.stop()
if mode == "alert":
    a = _pick("Alert", {r["alert_id"]: r for r in alerts.iter_rows(named=True)}, "alert",
              "date", "severity", "series", "metric")  # fmt: skip
    base, current = alert_periods(a["date"], a["window_days"], a["first_seen"])
    series = Selection.of_series(a["level"], a["sku"], a["category"], a["region"])
    what = f"{a['series']} ({a['metric']} on {a['date']})"
elif mode == "incident":
    i = _pick("Incident", {r["incident_id"]: r for r in incidents.iter_rows(named=True)}, "incident",
              "date", "severity", "root", "folded")  # fmt: skip
    base, current = alert_periods(i["date"], i["incident_window"], i["incident_first_seen"])
    root = found.filter(found["incident_id"] == i["incident_id"]).head(1).to_dicts() or [i]
    series = Selection.of_series(*(root[0][k] for k in ("level", "sku", "category", "region")))
    what = f"incident {i['root']} on {i['date']}"
else:
    p = v.period
    previous = Period(max(b.first, p.prev_start), max(b.first, p.prev_end))
    one, two = st.columns(2)
    picked = {}
    for col, key, label, default in ((one, "why_base", "Base period", previous),
                                     (two, "why_current", "Compared period", p)):  # fmt: skip
        value = col.date_input(
            label,
            (default.start, default.end),
            min_value=b.first,
            max_value=b.last,
            key=key,
            bind="query-params",
            format="YYYY-MM-DD",
        )
        picked[key] = period_from_input(value, default)
    base = (picked["why_base"].start, picked["why_base"].end)
    current = (picked["why_current"].start, picked["why_current"].end)
    series, what = v.selection, v.selection.describe()

within = mode == "periods" or st.toggle(
    "Within the alert's series", value=True, key="within", help="Off: explain the whole shop's change."
)
scope = series if within else Selection()
frame, (n_base, n_current) = query.agg_days(v.root, scope, (base, current))
days = [(hi - lo).days + 1 for lo, hi in (base, current)]
st.caption(
    md_escape(f"{what}: {kpi} in {base[0]}..{base[1]} (base) against {current[0]}..{current[1]}")
    + f" · materialized days {n_base}/{days[0]} and {n_current}/{days[1]}"
    + ("" if within else " · whole shop")
)
if not n_base or not n_current:
    st.warning("The base or the compared period has no materialized day of daily_agg: nothing to compare.")
    st.stop()

dims = [d for d in DIMENSIONS if frame[d].n_unique() > 1]  # one value: its only segment is the whole
fixed = {d: frame[d][0] for d in DIMENSIONS if d not in dims and frame.height}  # where a driver sits
drivers = key_drivers(frame, kpi, base, current, dimensions=dims, top=5)
money = kpi in ("revenue", "aov")
shown = "${:,.2f}".format if money else "{:,.0f}".format
with st.container(horizontal=True):
    st.metric("Base", shown(drivers.base), border=True)
    pct = f"{drivers.pct_change:+.1%}" if drivers.pct_change is not None else None
    st.metric("Compared", shown(drivers.current), delta=pct, border=True)
    st.metric(f"Explained by the top {drivers.top.height}", f"{drivers.explained:.0%}", border=True)
st.plotly_chart(charts.drivers_waterfall(drivers, money), key="why_waterfall")
if not dims:
    st.info("One series, nothing to split: turn off 'Within the alert's series' to see where it sits.")


def _open(page: str, state: dict) -> None:
    st.session_state.update(state)
    st.session_state[GO] = page


if drivers.top.height:
    st.subheader("Each driver's own trend")
    with st.container(horizontal=True):
        names = charts.driver_labels(drivers)
        for n, (row, name) in enumerate(zip(drivers.top.iter_rows(named=True), names, strict=True)):
            segment = fixed | {k: v for k, v in row.items() if k in DIMENSIONS and v is not None}
            page, state = drill_down(segment, current[1], b.first)
            share = f" ({row['share']:.0%})" if row["share"] is not None else ""
            st.button(
                md_escape(name) + share,
                key=f"why_driver_{n}",
                on_click=_open,
                args=(page, state),
                icon=":material/show_chart:",
                help="Select this segment in the sidebar and open its trend.",
            )

st.subheader("Every segment")
columns = ["dimension", *dims, "base", "current", "contribution", "share"]
config = {"share": ui.PERCENT} | ({c: ui.MONEY for c in ("base", "current", "contribution")} if money else {})
ui.table(drivers.table.select(columns + (["mix", "rate"] if kpi == "aov" else [])), "drivers", config)
if kpi == "aov":
    st.caption("AOV: the mix effect (orders moving between segments) and the rate effect, per dimension.")
    st.dataframe(effects(drivers), hide_index=True)

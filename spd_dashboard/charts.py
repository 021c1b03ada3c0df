"""Plotly figures for the pages, with one colour per region everywhere (bars, treemap, lines), and the
event calendar shaded on every trend chart (``shade_events``).

Plotly renders tags such as <b>, <a> or <br> in labels, hover text, legend and subplot titles: every
name from the data goes in through ``_names`` (HTML-escaped), so it shows as typed.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
from collections.abc import Sequence

import plotly.graph_objects as go
import polars as pl
from plotly.subplots import make_subplots

from spd_assets.core.drivers import Drivers, segment_label
from spd_assets.core.events import between
from spd_assets.core.schema import SEVERITIES
from spd_assets.core.text import html_text

# Okabe-Ito colours (readable with colour-blindness), fixed per region so every chart agrees.
REGION_COLORS = {
    "us-east": "#0072B2", "us-west": "#56B4E9", "eu-west": "#009E73", "eu-central": "#F0B400",
    "apac": "#D55E00", "latam": "#CC79A7",
}  # fmt: skip
_SPARE = ["#7F7F7F", "#8C564B", "#17BECF", "#BCBD22", "#9467BD", "#E377C2"]
SEVERITY_COLORS = {"critical": "#C62828", "warning": "#EF8F00", "info": "#1E88E5"}
REVENUE_COLOR = "#4C78A8"
HEIGHT = 340
EVENT_COLORS = {"holiday": "#9467BD", "promotion": "#009E73", "site_change": "#D55E00", "other": "#7F7F7F"}
_HALF_DAY = dt.timedelta(hours=12)


def region_color(region: str) -> str:
    """The region's colour; a region spd does not know gets a stable spare colour from its name."""
    return REGION_COLORS.get(region) or _SPARE[sum(map(ord, region)) % len(_SPARE)]


def _names(values: object) -> list[str]:
    return [html_text(v) for v in values]


def _layout(fig: go.Figure, height: int = HEIGHT, **kw: object) -> go.Figure:
    layout = {
        "height": height,
        "margin": {"l": 10, "r": 10, "t": 30, "b": 10},
        "legend": {"orientation": "h", "y": 1.08, "x": 0},
        "hovermode": "x unified",
    }
    fig.update_layout(**(layout | kw))
    return fig


def event_label(event: dict) -> str:
    """'Black Friday' or 'Warehouse move (region us-east)': the name a span carries (the scope only
    when the name does not already say it, as in 'books promotion (-20%)')."""
    value = event.get("scope_value") or ""
    scoped = event.get("scope_level") and value.lower() not in event["name"].lower()
    return f"{event['name']} ({event['scope_level']} {value})" if scoped else event["name"]


def _spans(events: pl.DataFrame) -> list[tuple[dt.date, dt.date, str, str]]:
    """Events of the same days and kind as one span (a week's category promotions), by start date."""
    merged: dict[tuple, list[str]] = {}
    for e in events.sort("start", "name").iter_rows(named=True):
        merged.setdefault((e["start"], e["end"], e["kind"]), []).append(event_label(e))
    return [(start, end, kind, " · ".join(names)) for (start, end, kind), names in merged.items()]


def shade_events(
    fig: go.Figure, events: pl.DataFrame | None, dates: Sequence[dt.date], **where: object
) -> go.Figure:
    """Shade each calendar event overlapping ``dates`` (the chart's days) as a named span behind the
    data; whole days are covered, so a one-day event shades its bar. ``where`` is row=/col= for subplots.

    A name goes on the first line where it does not run into the previous one (its width estimated
    from its length against the chart's days), so neighbouring spans stay readable."""
    if events is None or events.is_empty() or not len(dates):
        return fig
    first, last = min(dates), max(dates)
    days_per_char = ((last - first).days + 1) / (45 if where else 160)  # a subplot is about a third wide
    lines: list[dt.date] = []  # where each line's last name ends
    for start, end, kind, label in _spans(between(events, first, last)):
        line = next((i for i, taken in enumerate(lines) if taken < start), len(lines))
        ends = max(start, first) + dt.timedelta(days=len(label) * days_per_char)
        lines[line : line + 1] = [ends]
        fig.add_vrect(
            x0=dt.datetime.combine(max(start, first), dt.time()) - _HALF_DAY,  # clipped to the chart's days,
            x1=dt.datetime.combine(min(end, last), dt.time()) + _HALF_DAY,  # so its axis keeps its range
            fillcolor=EVENT_COLORS.get(kind, EVENT_COLORS["other"]),
            opacity=0.14,
            layer="below",
            line_width=0,
            annotation_text=html_text(label),
            annotation_position="top left",
            annotation_font={"size": 10, "color": "#444"},
            annotation_yshift=-13 * line,
            **where,
        )
    return fig


def _add_seven_day_line(fig: go.Figure, metrics: pl.DataFrame) -> None:
    """The 7-day average line drawn over daily bars, the same on every page."""
    fig.add_scatter(
        x=metrics["date"].to_list(),
        y=_avg7(metrics),
        name="7-day average",
        mode="lines",
        line={"color": "#1B2A49", "width": 3},
    )


def _avg7(seven: pl.DataFrame) -> list[float | None]:
    """7-day revenue as a daily average, so the line sits on the same scale as the daily bars."""
    return [
        r / w if r is not None and w else None
        for r, w in zip(seven["revenue_7d"], seven["window_days"], strict=True)
    ]


def trend_figure(
    totals: pl.DataFrame, seven: pl.DataFrame, marks: pl.DataFrame, events: pl.DataFrame | None = None
) -> go.Figure:
    """Daily revenue bars, the 7-day average line (daily_metrics), a marker on each day with alerts,
    and the calendar's events as shaded spans."""
    fig = go.Figure()
    fig.add_bar(
        x=totals["date"].to_list(),
        y=totals["revenue"].to_list(),
        name="Daily revenue",
        marker_color=REVENUE_COLOR,
        opacity=0.55,
    )
    _add_seven_day_line(fig, seven)
    for severity in SEVERITIES:
        rows = marks.filter(pl.col("severity") == severity)
        if rows.height:
            fig.add_scatter(
                x=rows["date"].to_list(),
                y=rows["revenue"].to_list(),
                mode="markers",
                name=f"{severity} alerts",
                marker={
                    "color": SEVERITY_COLORS[severity],
                    "size": 13,
                    "symbol": "triangle-down",
                    "line": {"color": "white", "width": 1},
                },
                text=rows["text"].to_list(),
                hovertemplate="%{text}<extra></extra>",
            )
    shade_events(fig, events, totals["date"].to_list())
    return _layout(fig, yaxis_title="Revenue", yaxis_tickprefix="$")


def region_bars(regions: pl.DataFrame) -> go.Figure:
    """Revenue per region, each bar in its region's colour, with the change in the label."""
    labels = [
        f"${r:,.0f}" + (f"  ({c:+.1%})" if c is not None else "")
        for r, c in zip(regions["revenue"], regions["change"], strict=True)
    ]
    fig = go.Figure(
        go.Bar(
            x=regions["revenue"].to_list(),
            y=_names(regions["region"]),
            orientation="h",
            text=labels,
            marker_color=[region_color(r) for r in regions["region"]],
            textposition="auto",
        )
    )
    fig.update_yaxes(autorange="reversed")
    return _layout(fig, hovermode="closest", xaxis_title="Revenue", showlegend=False)


def region_treemap(by_region_category: pl.DataFrame) -> go.Figure:
    """Region → category revenue as a treemap, regions in their colours and categories in shades of them."""
    sums = by_region_category.filter(pl.col("revenue") > 0)
    regions = sums.group_by("region").agg(pl.col("revenue").sum()).sort("region")
    ids = _names(regions["region"]) + _names(
        f"{r}/{c}" for r, c in zip(sums["region"], sums["category"], strict=True)
    )
    fig = go.Figure(
        go.Treemap(
            ids=ids,
            labels=_names(regions["region"]) + _names(sums["category"]),
            parents=[""] * regions.height + _names(sums["region"]),
            values=regions["revenue"].to_list() + sums["revenue"].to_list(),
            branchvalues="total",
            marker={
                "colors": [region_color(r) for r in regions["region"]]
                + [region_color(r) for r in sums["region"]]
            },
            texttemplate="%{label}<br>$%{value:,.0f}",
            hovertemplate="%{id}: $%{value:,.0f} (%{percentRoot:.1%})<extra></extra>",
        )
    )
    return _layout(fig, hovermode="closest")


def region_trends(daily: pl.DataFrame, seven: pl.DataFrame, events: pl.DataFrame | None = None) -> go.Figure:
    """One small chart per region: daily revenue (faint) and its 7-day average, in the region's colour;
    events shaded on every region's chart, a region-scoped one on its region's only."""
    regions = sorted(daily["region"].unique().to_list())
    cols = 3 if len(regions) > 4 else max(len(regions), 1)
    rows = max(math.ceil(len(regions) / cols), 1)
    fig = make_subplots(
        rows=rows, cols=cols, subplot_titles=_names(regions), shared_xaxes=True, vertical_spacing=0.12
    )
    for i, region in enumerate(regions):
        r, c = divmod(i, cols)
        day = daily.filter(pl.col("region") == region)
        week = seven.filter(pl.col("region") == region)
        color = region_color(region)
        fig.add_bar(
            x=day["date"].to_list(),
            y=day["revenue"].to_list(),
            marker_color=color,
            opacity=0.35,
            name=html_text(region),
            showlegend=False,
            row=r + 1,
            col=c + 1,
        )
        fig.add_scatter(
            x=week["date"].to_list(),
            y=_avg7(week),
            mode="lines",
            line={"color": color, "width": 2.5},
            name=f"{html_text(region)} 7-day avg",
            showlegend=False,
            row=r + 1,
            col=c + 1,
        )
        if events is not None and events.height:
            elsewhere = (pl.col("scope_level") != "region").fill_null(True)
            mine = events.filter(elsewhere | (pl.col("scope_value") == region))
            shade_events(fig, mine, day["date"].to_list(), row=r + 1, col=c + 1)
    return _layout(fig, height=220 * rows + 40, hovermode="closest")


def sku_history(daily: pl.DataFrame, metrics: pl.DataFrame, events: pl.DataFrame | None = None) -> go.Figure:
    """One SKU: daily revenue stacked by region (region colours), the SKU's 7-day average and events."""
    fig = go.Figure()
    for region in sorted(daily["region"].unique().to_list()):
        rows = daily.filter(pl.col("region") == region)
        fig.add_bar(
            x=rows["date"].to_list(),
            y=rows["revenue"].to_list(),
            name=html_text(region),
            marker_color=region_color(region),
        )
    if metrics.height:
        _add_seven_day_line(fig, metrics)
    shade_events(fig, events, daily["date"].to_list())
    return _layout(fig, barmode="stack", yaxis_tickprefix="$")


def alert_series(
    series: pl.DataFrame, alert: dict, metric: str, events: pl.DataFrame | None = None
) -> go.Figure:
    """An alert's series around its date: the daily metric, its 7-day average, the baseline, the drop
    and the events around it (an expected drop shows its reason beside it)."""
    fig = go.Figure()
    color = SEVERITY_COLORS.get(alert.get("severity") or "", "#555555")
    fig.add_scatter(
        x=series["date"].to_list(),
        y=series[metric].to_list(),
        name=f"daily {metric}",
        mode="lines+markers",
        line={"color": REVENUE_COLOR},
    )
    if metric == "revenue" and "revenue_7d" in series.columns:
        fig.add_scatter(
            x=series["date"].to_list(),
            y=_avg7(series),
            name="7-day average",
            mode="lines",
            line={"color": "#1B2A49", "dash": "dot"},
        )
    if alert.get("baseline") is not None:
        fig.add_hline(
            y=alert["baseline"],
            line={"color": "#666", "dash": "dash"},
            annotation_text="baseline",
            annotation_position="top left",
        )
    fig.add_scatter(
        x=[alert["date"]],
        y=[alert.get("observed")],
        name="alerted day",
        mode="markers",
        marker={"color": color, "size": 16, "symbol": "triangle-down"},
    )
    shade_events(fig, events, [*series["date"].to_list(), alert["date"]])
    return _layout(fig, yaxis_title=metric)


def driver_labels(drivers: Drivers) -> list[str]:
    """Each top driver's name ('region us-east, sku SKU-0004'), in the order the waterfall draws them."""
    return [segment_label(row) for row in drivers.top.iter_rows(named=True)]


def drivers_waterfall(drivers: Drivers, money: bool = True) -> go.Figure:
    """From the base total to the current one: a step per top driver, then what the rest moved."""
    steps = drivers.top["contribution"].to_list()
    rest = drivers.change - sum(steps)
    labels = _names(driver_labels(drivers))
    fmt = "${:,.2f}" if money else "{:,.0f}"
    signed = ("{:+,.2f}" if money else "{:+,.0f}").format
    fig = go.Figure(
        go.Waterfall(
            x=["base", *labels, "everything else", "current"],
            measure=["absolute", *["relative"] * len(steps), "relative", "total"],
            y=[drivers.base, *steps, rest, drivers.current],
            text=[fmt.format(drivers.base), *map(signed, steps), signed(rest), fmt.format(drivers.current)],
            textposition="outside",
            connector={"line": {"color": "#9E9E9E", "dash": "dot"}},
            increasing={"marker": {"color": "#009E73"}},
            decreasing={"marker": {"color": SEVERITY_COLORS["critical"]}},
            totals={"marker": {"color": REVENUE_COLOR}},
            hovertemplate="%{x}: %{text}<extra></extra>",
        )
    )
    levels = list(itertools.accumulate([drivers.base, *steps, rest]))
    lo, hi = min(levels), max(levels)
    pad = max(hi - lo, abs(hi) * 0.02, 1e-9) * 0.35  # small steps on a big total stay visible
    fig.update_yaxes(range=[max(lo - pad, 0.0) if lo >= 0 else lo - pad, hi + pad])
    return _layout(fig, height=420, hovermode="closest", showlegend=False, yaxis_title=drivers.kpi)


def partition_strip(parts: dict[str, pl.DataFrame], first: object, last: object) -> go.Figure:
    """One row per asset, one cell per day: materialized with rows, materialized empty, or missing."""
    days = pl.date_range(first, last, interval="1d", eager=True)
    z, text = [], []
    for frame in parts.values():
        rows = dict(zip(frame["date"], frame["rows"], strict=True))
        z.append([2 if rows.get(d, -1) > 0 else 1 if d in rows else 0 for d in days])
        text.append([f"{rows[d]:,} rows" if d in rows else "not materialized" for d in days])
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=days.to_list(),
            y=_names(parts),
            text=text,
            zmin=0,
            zmax=2,
            showscale=False,
            xgap=1,
            ygap=3,
            colorscale=[[0, "#E57373"], [0.5, "#FFE082"], [1, "#66BB6A"]],
            hovertemplate="%{y} %{x}: %{text}<extra></extra>",
        )
    )
    return _layout(fig, height=60 + 34 * len(parts), hovermode="closest")

"""What the cards and tables show, from the data module's frames: period sums, deltas, shares, movers.

Plain functions on polars frames, no Streamlit, so the numbers a user sees are tested directly.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from spd_assets.core.schema import series_label, severity_rank
from spd_assets.core.text import html_text

MONEY, COUNT = "money", "count"


def short(value: float | None, kind: str) -> str:
    """A number that fits a KPI card on a laptop screen: '$8.03M', '$16.3K', '$100.59', '79,642', '2.80M'."""
    if value is None:
        return "—"
    prefix = "$" if kind == MONEY else ""
    for size, suffix in ((1e9, "B"), (1e6, "M")):
        if abs(value) >= size:
            return f"{prefix}{value / size:.2f}{suffix}"
    if kind == MONEY:
        return f"${value / 1e3:.1f}K" if abs(value) >= 1e4 else f"${value:,.2f}"
    return f"{value:,.0f}"


@dataclass(frozen=True)
class Kpi:
    """One KPI card: value, change against the previous period (a fraction), and a daily sparkline."""

    label: str
    value: float | None
    delta: float | None
    spark: list[float]
    kind: str
    help: str

    @property
    def shown(self) -> str:
        return short(self.value, self.kind)


def pct_change(current: float | None, previous: float | None) -> float | None:
    """current / previous - 1, or None when there is nothing to compare with."""
    if current is None or previous is None or previous == 0:
        return None
    return current / previous - 1.0


def delta_text(delta: float | None) -> str | None:
    """A signed percentage for st.metric ('+4.2%', '-12.0%'), or None for no delta."""
    return None if delta is None else f"{delta:+.1%}"


def _ratio(num: float, den: float) -> float | None:
    return num / den if den else None


def period_kpis(current: pl.DataFrame, previous: pl.DataFrame | None, seven: pl.DataFrame) -> list[Kpi]:
    """Revenue, orders, units, AOV and 7-day revenue for the period.

    ``current``/``previous`` are daily totals (date, revenue, orders, units) of the period and of the
    one before (None when that one is not fully materialized: no delta then, rather than a wrong one);
    ``seven`` is the 7-day series of the period, whose last day gives the 7-day card.
    """
    cur = {c: float(current[c].sum()) for c in ("revenue", "orders", "units")}
    prev = (
        {c: float(previous[c].sum()) for c in ("revenue", "orders", "units")} if previous is not None else {}
    )
    daily_aov = current.select(
        pl.when(pl.col("orders") > 0).then(pl.col("revenue") / pl.col("orders")).otherwise(0.0)
    ).to_series()
    aov, prev_aov = (
        _ratio(cur["revenue"], cur["orders"]),
        _ratio(prev.get("revenue", 0), prev.get("orders", 0)),
    )
    vs = "the previous period of the same length"
    sums = (
        ("Revenue", "revenue", MONEY, f"Sum of daily revenue; change vs {vs}."),
        ("Orders", "orders", COUNT, f"Orders (per SKU and region); vs {vs}."),
        ("Units", "units", COUNT, f"Units sold; change vs {vs}."),
    )
    kpis = [
        Kpi(
            label, cur[col], pct_change(cur[col], prev.get(col)), [float(v) for v in current[col]], kind, text
        )
        for label, col, kind, text in sums
    ]
    kpis.append(
        Kpi(
            "AOV",
            aov,
            pct_change(aov, prev_aov),
            daily_aov.to_list(),
            MONEY,
            f"Average order value: revenue / orders over the period; vs {vs}.",
        )
    )
    last = seven.filter(pl.col("revenue_7d").is_not_null()).tail(1)
    kpis.append(
        Kpi(
            "7-day revenue",
            float(last["revenue_7d"][0]) if last.height else None,
            last["pct_change_7d"][0] if last.height else None,
            seven["revenue_7d"].fill_null(0.0).to_list(),
            MONEY,
            "Revenue of the 7 days ending on the last day, from daily_metrics; change vs the 7 before.",
        )
    )
    return [_with_exact(k) for k in kpis]


def _with_exact(kpi: Kpi) -> Kpi:
    if kpi.value is None:
        return kpi
    exact = f"${kpi.value:,.2f}" if kpi.kind == MONEY else f"{kpi.value:,.0f}"
    return Kpi(kpi.label, kpi.value, kpi.delta, kpi.spark, kpi.kind, f"{kpi.help} Exactly {exact}.")


def sku_table(by_sku: pl.DataFrame, catalog: pl.DataFrame, prev_complete: bool) -> pl.DataFrame:
    """SKU rows with name, share of the selection's revenue and change vs the previous period."""
    total = float(by_sku["revenue"].sum()) or 1.0
    names = catalog.select("sku", "name")
    change = pl.col("revenue") / pl.col("prev_revenue") - 1.0
    return (
        by_sku.join(names, on="sku", how="left")
        .with_columns(
            share=pl.col("revenue") / total,
            change=pl.when(pl.lit(prev_complete) & (pl.col("prev_revenue") > 0)).then(change),
            change_abs=pl.when(pl.lit(prev_complete)).then(pl.col("revenue") - pl.col("prev_revenue")),
        )
        .select(
            "sku",
            "name",
            "category",
            "revenue",
            "units",
            "orders",
            "share",
            "change",
            "change_abs",
            "prev_revenue",
            "daily",
        )
        .sort("revenue", descending=True)
    )


def movers(table: pl.DataFrame, n: int = 5) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The ``n`` SKUs that gained and lost the most revenue (in money, so tiny SKUs do not dominate)."""
    ranked = table.filter(pl.col("change_abs").is_not_null())
    cols = ["sku", "name", "revenue", "change_abs", "change"]
    up = ranked.filter(pl.col("change_abs") > 0).sort("change_abs", descending=True).head(n).select(cols)
    down = ranked.filter(pl.col("change_abs") < 0).sort("change_abs").head(n).select(cols)
    return up, down


def with_share_and_change(frame: pl.DataFrame, prev_complete: bool) -> pl.DataFrame:
    """Adds share (of the frame's revenue) and change vs prev_revenue (only if that period is complete)."""
    total = float(frame["revenue"].sum()) or 1.0
    return frame.with_columns(
        share=pl.col("revenue") / total,
        change=pl.when(pl.lit(prev_complete) & (pl.col("prev_revenue") > 0)).then(
            pl.col("revenue") / pl.col("prev_revenue") - 1.0
        ),
    )


def region_totals(by_region_category: pl.DataFrame, prev_complete: bool) -> pl.DataFrame:
    """region, revenue, units, share, change: the region breakdown of the selection."""
    sums = by_region_category.group_by("region").agg(pl.col("revenue", "units", "prev_revenue").sum())
    return with_share_and_change(sums, prev_complete).sort("revenue", descending=True)


_MARKS = {
    "date": pl.Date,
    "revenue": pl.Float64,
    "count": pl.UInt32,
    "severity": pl.String,
    "text": pl.String,
}


def series_names() -> pl.Expr:
    """Each row's series as the core names it everywhere (alerts, messages, charts)."""
    return pl.struct("level", "sku", "category", "region").map_elements(
        lambda r: series_label(r["level"], r["sku"], r["category"], r["region"]), return_dtype=pl.String
    )


def alert_marks(alerts: pl.DataFrame, totals: pl.DataFrame) -> pl.DataFrame:
    """One mark per day with alerts: date, revenue (where to draw it), count, worst severity, hover text."""
    if alerts.is_empty():
        return pl.DataFrame(schema=_MARKS)
    lines = alerts.with_columns(
        _rank=severity_rank(),
        _line=pl.format(
            "{} {}: -{}%",
            pl.col("severity"),
            series_names().map_elements(html_text, return_dtype=pl.String),  # joined with <br> below
            (pl.col("pct_drop") * 100).round(0),
        ),
    )
    by_day = lines.group_by("date").agg(
        count=pl.len(),
        severity=pl.col("severity").sort_by("_rank").first(),
        text=pl.col("_line").sort_by("_rank").head(6).str.join("<br>"),
    )
    return by_day.join(totals.select("date", "revenue"), on="date", how="inner").sort("date")


_HEALTH_SCHEMA = {
    "asset": pl.String, "days": pl.Int64, "first": pl.Date, "latest": pl.Date, "missing_days": pl.Int64,
    "empty_days": pl.Int64, "rows": pl.Int64, "state": pl.String,
}  # fmt: skip


def asset_summary(parts: dict[str, pl.DataFrame], catalog_rows: int) -> pl.DataFrame:
    """One row per asset: days materialized, first and latest day, missing and empty days, rows, state."""
    rows = [
        {
            "asset": "catalog",
            "rows": catalog_rows,
            "state": "materialized" if catalog_rows else "not materialized",
        }
    ]
    for asset, frame in parts.items():
        if frame.is_empty():
            rows.append({"asset": asset, "days": 0, "rows": 0, "state": "not materialized"})
            continue
        first, last = frame["date"].min(), frame["date"].max()
        missing = (last - first).days + 1 - frame.height
        rows.append(
            {
                "asset": asset,
                "days": frame.height,
                "first": first,
                "latest": last,
                "missing_days": missing,
                "empty_days": int((frame["rows"] == 0).sum()),
                "rows": int(frame["rows"].sum()),
                "state": "gaps" if missing else "complete",
            }
        )
    return pl.DataFrame([{k: r.get(k) for k in _HEALTH_SCHEMA} for r in rows], schema=_HEALTH_SCHEMA)

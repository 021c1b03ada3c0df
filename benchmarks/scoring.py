"""Scoring alerts against a generated shop's incidents: the counts, the metrics and the Markdown tables."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl

from benchmarks.oracle import oracle_power
from spd_assets.core.schema import LEVEL_KEYS, LEVELS
from spd_assets.core.synthetic.shape_incidents import KINDS, STEP_KINDS
from spd_assets.core.synthetic.shapes import ShopYear

IMPLIED_DROP = 0.10  # an incident cutting a series' expected orders this much makes its alerts true
SERIES = ("level", "sku", "category", "region")
INCIDENT_SCHEMA = {"incident": pl.String, "kind": pl.String, **dict.fromkeys(SERIES, pl.String),
                   "start": pl.Date, "end": pl.Date}  # fmt: skip
# Delay allowed per kind (days after the first): step drops the same day, a slow decline by its 5th
# day, a low-volume stop within 4 days.
DELAY_TARGET = {**dict.fromkeys(STEP_KINDS, 0), "slow_decline": 4, "low_volume_stop": 3}


def footprint(shop: ShopYear) -> pl.DataFrame:
    """Series-days whose expected orders an incident cut by at least IMPLIED_DROP."""
    first = shop.days[0]
    idx = sorted(
        {(i.start - first).days + k for i in shop.incidents for k in range((i.end - i.start).days + 1)}
    )
    idx = [i for i in idx if 0 <= i < len(shop.days)]
    if not idx:
        return pl.DataFrame(schema={"date": pl.Date, **dict.fromkeys(SERIES, pl.String)})
    normal, hit = shop.expected[idx], shop.expected[idx] * shop.kept[idx]
    n_days, n_skus, n_regions = normal.shape
    cells = pl.DataFrame(
        {
            "date": np.repeat(
                np.array([shop.days[i] for i in idx], dtype="datetime64[D]"), n_skus * n_regions
            ),
            "sku": np.tile(np.repeat(shop.catalog["sku"].to_numpy(), n_regions), n_days),
            "category": np.tile(np.repeat(shop.catalog["category"].to_numpy(), n_regions), n_days),
            "region": np.tile(np.array(shop.shape.regions), n_days * n_skus),
            "normal": normal.ravel(),
            "hit": hit.ravel(),
        }
    ).with_columns(pl.col("date").cast(pl.Date))
    levels = []
    for level in LEVELS:
        keys = LEVEL_KEYS[level] + (("category",) if "sku" in LEVEL_KEYS[level] else ())
        sums = cells.group_by("date", *keys).agg(pl.col("normal", "hit").sum())
        levels.append(sums.with_columns(level=pl.lit(level), drop=1 - pl.col("hit") / pl.col("normal")))
    out = pl.concat(levels, how="diagonal_relaxed").filter(pl.col("drop") >= IMPLIED_DROP)
    return out.select("date", *SERIES)


def incidents_frame(shop: ShopYear) -> pl.DataFrame:
    rows = [
        (i.incident_id, i.kind, i.level, i.sku, i.category, i.region, i.start, i.end) for i in shop.incidents
    ]
    return pl.DataFrame(rows, schema=INCIDENT_SCHEMA, orient="row")


def _own(alerts: pl.DataFrame, shop: ShopYear, days: list[dt.date]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(incidents starting in ``days``, their pairs with the alerts naming their own series inside them)."""
    own = incidents_frame(shop).filter(pl.col("start").is_between(days[0], days[-1]))
    pairs = own.join(
        alerts.select("alert_id", "date", *SERIES), on=list(SERIES), how="inner", nulls_equal=True
    )
    return own, pairs.filter(pl.col("date").is_between(pl.col("start"), pl.col("end")))


def true_alert_ids(
    alerts: pl.DataFrame, shop: ShopYear, days: list[dt.date], pairs: pl.DataFrame | None = None
) -> set[str]:
    """The alerts that name an incident's own series inside its window, or a series an incident cut
    by IMPLIED_DROP that day (what a person knowing the truth marks 'real')."""
    pairs = _own(alerts, shop, days)[1] if pairs is None else pairs
    implied = alerts.join(footprint(shop), on=["date", *SERIES], how="inner", nulls_equal=True)
    return set(pairs["alert_id"]) | set(implied["alert_id"])


def score(alerts: pl.DataFrame, shop: ShopYear, days: list[dt.date], n_series: int) -> dict:
    """Raw counts overall and per incident kind: incidents, found, delays, alert-days, episodes, true ones."""
    own, pairs = _own(alerts, shop, days)
    true_ids = true_alert_ids(alerts, shop, days, pairs)
    delays = pairs.group_by("incident").agg(
        delay=(pl.col("date").min() - pl.col("start").first()).dt.total_days()
    )
    own = own.join(delays, on="incident", how="left")
    alerts = alerts.with_columns(true=pl.col("alert_id").is_in(list(true_ids)))
    episodes = alerts.group_by("episode_id").agg(pl.col("true").any())
    power = {i.incident_id: oracle_power(shop, i, DELAY_TARGET[i.kind]) for i in shop.incidents}
    whole = {i.incident_id: oracle_power(shop, i, (i.end - i.start).days) for i in shop.incidents}

    def counts(inc: pl.DataFrame, with_alerts: bool) -> dict:
        kinds = inc["kind"].to_list()
        on_time = [d is not None and d <= DELAY_TARGET[k] for d, k in zip(inc["delay"], kinds, strict=True)]
        base = {"incidents": inc.height, "found": int(inc["delay"].is_not_null().sum()),
                "on_time": sum(on_time), "delays": inc["delay"].drop_nulls().to_list(),
                "oracle": sum(power[i] for i in inc["incident"]),
                "oracle_found": sum(whole[i] for i in inc["incident"])}  # fmt: skip
        if not with_alerts:
            return base
        return {**base, "alerts": alerts.height, "true_alerts": int(alerts["true"].sum()),
                "episodes": episodes.height, "true_episodes": int(episodes["true"].sum()),
                "series_days": n_series * len(days)}  # fmt: skip

    return {"all": counts(own, True), "by_kind": {k: counts(own.filter(kind=k), False) for k in KINDS}}


def merge(raws: list[dict]) -> dict:
    """Counts of several shops added up."""
    out: dict = {"all": {}, "by_kind": {}}

    def add(into: dict, counts: dict) -> None:
        for k, v in counts.items():
            into[k] = into.get(k, [] if isinstance(v, list) else 0) + v

    for raw in raws:
        add(out["all"], raw["all"])
        for kind, c in raw["by_kind"].items():
            add(out["by_kind"].setdefault(kind, {}), c)
    return out


def _ratio(a: int, b: int) -> float | None:
    return a / b if b else None


def metrics(c: dict) -> dict:
    """Recall, precision per alert-day and per episode, false alerts per 1,000 series-days, delays."""
    out = {
        "incidents": c["incidents"], "found": c["found"], "recall": _ratio(c["found"], c["incidents"]),
        "on_time": _ratio(c["on_time"], c["incidents"]),
        "oracle_recall": _ratio(c["oracle_found"], c["incidents"]) if "oracle_found" in c else None,
        "oracle_on_time": _ratio(c["oracle"], c["incidents"]) if "oracle" in c else None,
        "median_delay_days": float(np.median(c["delays"])) if c["delays"] else None,
        "max_delay_days": max(c["delays"]) if c["delays"] else None,
    }  # fmt: skip
    if "alerts" in c:
        out |= {
            "alerts": c["alerts"], "episodes": c["episodes"],
            "precision_alert_days": _ratio(c["true_alerts"], c["alerts"]),
            "precision_episodes": _ratio(c["true_episodes"], c["episodes"]),
            "false_per_1000_series_days": _ratio(1000 * (c["alerts"] - c["true_alerts"]), c["series_days"]),
        }  # fmt: skip
    if "threshold_adjustments" in c:
        out["threshold_adjustments"] = c["threshold_adjustments"]
    return out


def summarize(raw: dict) -> dict:
    return {"all": metrics(raw["all"]), "by_kind": {k: metrics(c) for k, c in raw["by_kind"].items()}}


def _fmt(v) -> str:
    return "—" if v is None else (f"{v:.2f}" if isinstance(v, float) else str(v))


COLUMNS = {"incidents": "incidents", "found": "found", "recall": "recall", "on_time": "on time",
           "oracle_recall": "oracle recall", "oracle_on_time": "oracle on time",
           "precision_alert_days": "precision (alert-days)", "precision_episodes": "precision (episodes)",
           "false_per_1000_series_days": "false / 1k series-days", "median_delay_days": "median delay (d)",
           "alerts": "alert-days", "episodes": "episodes"}  # fmt: skip


def _flatten(block: dict, label: str = "") -> list[tuple[str, dict]]:
    if "all" in block:
        return [(label, block)]
    return [
        row for name, sub in block.items() for row in _flatten(sub, f"{label} / {name}" if label else name)
    ]


def table(block: dict) -> str:
    """Markdown: one row per shop and rule, then recall (on time) per incident kind."""
    rows = _flatten(block)
    lines = ["| shop / rule | " + " | ".join(COLUMNS.values()) + " |", "|---" * (len(COLUMNS) + 1) + "|"]
    lines += [f"| {name} | " + " | ".join(_fmt(s["all"].get(k)) for k in COLUMNS) + " |" for name, s in rows]
    lines += ["", "| shop / rule | " + " | ".join(KINDS) + " |", "|---" * (len(KINDS) + 1) + "|"]
    for name, s in rows:
        cells = [f"{m['found']}/{m['incidents']} ({_fmt(m['median_delay_days'])} d; oracle "
                 f"{_fmt(m.get('oracle_recall'))} / {_fmt(m.get('oracle_on_time'))})"
                 for m in (s["by_kind"][k] for k in KINDS)]  # fmt: skip
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)

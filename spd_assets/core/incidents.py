"""One day's alerts grouped into incidents around a root cause, so a region outage is one message, not 40.

The root is what ``root_causes`` finds on the day's SKU x region leaves (observed revenue against the
same baseline the one-day alert test uses); an alert lies in an incident when its series is inside the
root or contains it (a total or region alert explained by it). Alerts no root explains are nested
instead: the widest alerted series holds the alerts inside it, but a total alert joins the biggest
of them when it explains half the total's drop (the total is the root of a site-wide drop only).
An incident's id is a hash of its root and the root's episode, so the same ongoing drop is the same
incident on every day it lasts.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import urllib.parse
from collections.abc import Mapping, Sequence
from typing import Any

import polars as pl

from .drivers import DIMENSIONS, alert_periods, key_drivers, root_causes, segment_label
from .episodes import episode_id, with_alert_columns
from .schema import ALERTS, INCIDENTS, LEVEL_KEYS, LEVELS, SEVERITY_ORDER
from .settings import load_servers

COMBINED = "category_region"  # a root no detection level has: one category in one region
ROOT_KEYS: dict[str, tuple[str, ...]] = {**LEVEL_KEYS, COMBINED: ("category", "region")}
TOP_DRIVERS = 3
EXPLAINED = 0.5  # a wider alert joins a root inside it that carries at least this share of its drop
LEAF_RULE = "weekday_mad"  # its baseline is the leaves' expected revenue
LEAF_ROWS = (pl.col("level") == "sku_region") & (pl.col("rule") == LEAF_RULE)  # detection's rows leaves reads
LEAF_COLUMNS = ("date", "level", "rule", *DIMENSIONS, "observed", "baseline")  # ... and their columns
DRIVER_COLUMNS = ("date", "region", "category", "sku", "orders", "units", "revenue")
CELL_SCHEMA = {"date": pl.Date, **dict.fromkeys(("region", "category", "sku"), pl.String),
               "orders": pl.Int64, "units": pl.Int64, "revenue": pl.Float64}  # fmt: skip
DASHBOARD_URL_VAR = "SPD_DASHBOARD_URL"  # where people open the dashboard, for links in messages
Segment = dict[str, str]


def cell_rows(day_frames: Sequence[pl.DataFrame]) -> pl.DataFrame:
    """The SKU x region rows (DRIVER_COLUMNS) of daily_metrics day frames, for the drivers.

    A day file holds its levels one after the other, so each day's cells are a slice of it, not a
    copy (a month's history at 5,000 x 20 is 12 M rows: a filter copied 0.9 GB of them)."""
    parts = []
    for frame in day_frames:
        at = (frame.get_column("level") == "sku_region").arg_true()
        whole = at.len() > 0 and at[-1] - at[0] + 1 == at.len()
        cells = frame.slice(at[0], at.len()) if whole else frame.filter(pl.col("level") == "sku_region")
        parts.append(cells.select(DRIVER_COLUMNS))
    return pl.concat(parts) if parts else pl.DataFrame(schema=CELL_SCHEMA)


def leaves(scored: pl.DataFrame) -> pl.DataFrame:
    """The SKU x region leaves of detection's scored rows: observed against the one-day baseline.

    A leaf without a baseline (short history) counts as expected, so it explains nothing. Keys kept
    Categorical (``detect_drops(compact=True)``) come back as text.
    """
    rows = scored.filter(LEAF_ROWS)
    keys = [pl.col(d).cast(pl.String) for d in DIMENSIONS]
    return rows.select("date", *keys, "observed", expected=pl.coalesce("baseline", "observed")).filter(
        pl.col("observed").is_not_null()
    )


def segment(row: dict[str, Any], level: str | None = None) -> Segment:
    """The series' keys as a segment: a SKU's category is kept, so 'inside a category' can be tested."""
    keys = ROOT_KEYS[level or row["level"]]
    wanted = set(keys) | ({"category"} if "sku" in keys else set())
    return {d: row[d] for d in DIMENSIONS if d in wanted and row.get(d) is not None}


def inside(child: Segment, parent: Segment) -> bool:
    """``child`` lies inside ``parent`` (or is it): it has every key of the parent, with its value."""
    return all(child.get(k) == v for k, v in parent.items())


def level_of(seg: Segment) -> str:
    keys = set(seg) - ({"category"} if "sku" in seg else set())
    return next(level for level, k in ROOT_KEYS.items() if set(k) == keys)


def label(seg: Segment) -> str:
    """'total', 'region us-east', 'sku SKU-0007', 'region eu-west, category toys'."""
    shown = {k: v for k, v in seg.items() if not (k == "category" and "sku" in seg)}
    return segment_label(shown) or "total"


def incident_link(incident_id: str, env: Mapping[str, str] | None = None) -> str:
    """The Alerts page with this incident selected, where its feedback buttons are (SPD_DASHBOARD_URL,
    else the local dashboard)."""
    env = os.environ if env is None else env
    base = env.get(DASHBOARD_URL_VAR, "").strip().rstrip("/")
    base = base or f"http://127.0.0.1:{load_servers(env).dashboard_port}"
    return f"{base}/alerts?incident={urllib.parse.quote(incident_id, safe='')}"


def incident_id(seg: Segment, episode: str) -> str:
    """Stable: the root and its episode (re-runs and later days of one drop give the same id)."""
    key = "|".join(["incident", level_of(seg), *(seg.get(d, "") for d in DIMENSIONS), episode])
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def _root_segments(day_leaves: pl.DataFrame) -> list[Segment]:
    """The day's root causes that are drops (a SKU's root keeps its category, for nesting)."""
    if day_leaves.is_empty():
        return []
    found = root_causes(day_leaves, DIMENSIONS, "observed", "expected")
    category = dict(day_leaves.select("sku", "category").unique("sku").iter_rows())
    roots = [{**r, "category": category[r["sku"]]} if "sku" in r else r for r in found]
    return [r for r in roots if (sums := _sums(day_leaves, r))[0] < sums[1]]  # drops, not rises


def _sums(day_leaves: pl.DataFrame, seg: Segment) -> tuple[float, float]:
    """(observed, expected) of the leaves inside ``seg``."""
    part = day_leaves.filter(*(pl.col(k) == v for k, v in seg.items()))
    return float(part["observed"].sum()), float(part["expected"].sum())


def _drop(day_leaves: pl.DataFrame, seg: Segment) -> float:
    observed, expected = _sums(day_leaves, seg)
    return expected - observed


def _groups(
    rows: list[dict], roots: list[Segment], day_leaves: pl.DataFrame
) -> list[tuple[Segment, list[int]]]:
    """(root, member row numbers): each alert goes to the first root it lies in, else to the first it
    contains that explains most of its drop (a total explained by a region); the rest nest under the
    widest alerted series around them."""
    groups: list[tuple[Segment, list[int]]] = [(r, []) for r in roots]
    drops = [_drop(day_leaves, r) for r in roots]
    loose = []
    for i, row in enumerate(rows):
        seg = row["_seg"]
        home = next((g for g in groups if inside(seg, g[0])), None)
        if home is None and (wider := [k for k, g in enumerate(groups) if inside(g[0], seg)]):
            own = _drop(day_leaves, seg)
            home = next((groups[k] for k in wider if drops[k] >= EXPLAINED * own), None)
        (home[1] if home else loose).append(i)
    nested: list[tuple[Segment, list[int]]] = []
    widest_first = sorted(
        loose,
        key=lambda i: (LEVELS.index(rows[i]["level"]), -rows[i]["revenue_at_risk"], rows[i]["alert_id"]),
    )
    # A total alert whose drop another alert explains says nothing that one does not: it joins the
    # biggest such alert's group (a small shop's category drop moves its total), not the other way.
    widest_first = [i for i in widest_first if rows[i]["level"] != "total"] + [
        i for i in widest_first if rows[i]["level"] == "total"
    ]
    for i in widest_first:
        if rows[i]["level"] == "total" and nested:
            big = max(nested, key=lambda g: rows[g[1][0]]["revenue_at_risk"])
            if rows[big[1][0]]["revenue_at_risk"] >= EXPLAINED * rows[i]["revenue_at_risk"]:
                big[1].append(i)
                continue
        home = next((g for g in nested if inside(rows[i]["_seg"], g[0])), None)
        if home:
            home[1].append(i)
        else:
            nested.append((rows[i]["_seg"], [i]))
    return [g for g in groups if g[1]] + nested


def _drivers(daily: pl.DataFrame, seg: Segment, base: tuple, current: tuple) -> str:
    """The top drivers inside the root, over the dimensions the root does not fix, as JSON."""
    dims = [d for d in DIMENSIONS if d not in seg]
    frame = daily.filter(
        *(pl.col(k) == v for k, v in seg.items()),
        pl.col("date").is_between(*base) | pl.col("date").is_between(*current),
    ).with_columns(pl.col(DIMENSIONS).cast(pl.String))  # the window's keys may be Categorical
    if not dims or frame.filter(pl.col("date").is_between(*base)).is_empty():
        return "[]"
    top = key_drivers(frame, "revenue", base, current, dimensions=dims, top=TOP_DRIVERS).top
    return json.dumps(
        [
            {
                "segment": segment_label(r),
                "contribution": round(r["contribution"], 2),
                "share": None if r["share"] is None else round(r["share"], 4),
            }
            for r in top.iter_rows(named=True)
        ]
    )


def _incident(day: dt.date, seg: Segment, members: list[dict], day_leaves: pl.DataFrame, daily: pl.DataFrame):
    """The INCIDENTS row of one group, and the ids of the alerts that are its root."""
    roots = sorted(
        (m for m in members if m["_seg"] == seg),
        key=lambda m: (m["rule"] == "seed_wow", -m["revenue_at_risk"], m["alert_id"]),
    )
    lead = roots[0] if roots else None
    if lead:
        figures = {k: lead[k] for k in ("observed", "baseline", "pct_drop", "revenue_at_risk")}
        first, episode, window = lead["first_seen"], lead["episode_id"], lead["window_days"]
    else:  # a root no alert names: its figures are the sum of its leaves
        observed, expected = _sums(day_leaves, seg)
        figures = {
            "observed": round(observed, 2),
            "baseline": round(expected, 2),
            "pct_drop": round(1 - observed / expected, 4) if expected > 0 else None,
            "revenue_at_risk": round(max(expected - observed, 0.0), 2),
        }
        first, window = min(m["first_seen"] or day for m in members), 1
        episode = episode_id(level_of(seg), seg.get("sku"), seg.get("category"), seg.get("region"), first)
    base, current = alert_periods(day, window, first)
    row = {
        "incident_id": incident_id(seg, episode),
        "date": day,
        "level": level_of(seg),
        **{d: seg.get(d) for d in DIMENSIONS},
        "root": label(seg),
        "alerts": len(members),
        "children": len(members) - len(roots),
        **figures,
        "severity": min((m["severity"] for m in members), key=SEVERITY_ORDER.__getitem__),
        "drivers": _drivers(daily, seg, base, current),
        "episode_id": episode,
        "status": "open" if first == day else "ongoing",
    }
    return row, {m["alert_id"] for m in roots}


def group(
    alerts: pl.DataFrame, day_leaves: pl.DataFrame, daily: pl.DataFrame
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(alerts with incident_id and is_root, their INCIDENTS rows), each day grouped on its own.

    ``alerts`` carry episodes; ``day_leaves`` are ``leaves`` of the same days; ``daily`` holds the
    SKU x region rows (DRIVER_COLUMNS) of those days and their baseline periods, for the drivers.
    """
    if alerts.is_empty():
        return alerts.select(list(ALERTS)), pl.DataFrame(schema=INCIDENTS)
    out, found = [], []
    for (day,), part in alerts.partition_by("date", as_dict=True, maintain_order=True).items():
        rows = [{**r, "_seg": segment(r)} for r in part.iter_rows(named=True)]
        here = day_leaves.filter(pl.col("date") == day)
        ids, roots_of = {}, set()
        for seg, members in _groups(rows, _root_segments(here), here):
            row, root_ids = _incident(day, seg, [rows[i] for i in members], here, daily)
            found.append(row)
            roots_of |= root_ids
            ids.update({rows[i]["alert_id"]: row["incident_id"] for i in members})
        out.append(
            part.with_columns(
                incident_id=pl.col("alert_id").replace_strict(ids, return_dtype=pl.String),
                is_root=pl.col("alert_id").is_in(list(roots_of)),
            )
        )
    return pl.concat(out).select(list(ALERTS)), pl.DataFrame(found, schema=INCIDENTS, orient="row")


def alert_message(row: dict[str, Any]) -> dict[str, Any]:
    """An alert with no incident (older files, older ledger rows) as an incident of its own."""
    status = row.get("episode_status") or "open"
    return {
        "incident_id": row["alert_id"],
        "date": row["date"],
        "level": row["level"],
        **{d: row.get(d) for d in DIMENSIONS},
        "root": label(segment(row)),
        "alerts": 1,
        "children": 0,
        **{k: row.get(k) for k in ("observed", "baseline", "pct_drop", "revenue_at_risk", "severity")},
        "drivers": "[]",
        "episode_id": row.get("episode_id"),
        "status": status,
    }


def as_messages(frame: pl.DataFrame, incidents: pl.DataFrame | None = None) -> pl.DataFrame:
    """One row per incident to notify (INCIDENTS layout) from incidents or from alerts.

    Alerts that belong to an incident in ``incidents`` are that incident; any other alert (no
    incident_id: an older file) stands alone, under its own alert_id.
    """
    if "alert_id" not in frame.columns:
        return frame.select(list(INCIDENTS))
    alerts = with_alert_columns(frame)
    known = incidents if incidents is not None else pl.DataFrame(schema=INCIDENTS)
    grouped = known.filter(pl.col("incident_id").is_in(alerts["incident_id"].drop_nulls().implode()))
    alone = alerts.filter(~pl.col("incident_id").is_in(grouped["incident_id"].implode()).fill_null(False))
    rows = [alert_message(r) for r in alone.iter_rows(named=True)]
    return pl.concat([grouped.select(list(INCIDENTS)), pl.DataFrame(rows, schema=INCIDENTS, orient="row")])


def recovered(
    alerts: pl.DataFrame, incidents: pl.DataFrame, days: Sequence[dt.date], gap_days: int = 1
) -> pl.DataFrame:
    """One message row (status 'recovered') per incident that ends on one of ``days``.

    An incident ends ``gap_days`` + 1 days after its last day, unless one of its episodes went on
    inside another incident (the drop did not end: its root moved). ``alerts`` must cover the days
    before ``days`` back to the episodes' starts; alerts without an incident end per episode, as
    before incidents existed (same message id).
    """
    if alerts.is_empty() or not days:
        return pl.DataFrame(schema=INCIDENTS)
    keyed = alerts.with_columns(_key=pl.coalesce("incident_id", "episode_id"))
    episode_end = keyed.group_by("episode_id").agg(_ends=pl.col("date").max())
    ends = (
        keyed.join(episode_end, on="episode_id")
        .group_by("_key")
        .agg(
            last=pl.col("date").max(),
            ends=pl.col("_ends").max(),
            is_incident=pl.col("incident_id").is_not_null().any(),
        )
        .filter(
            (pl.col("last") == pl.col("ends"))
            & (pl.col("last") + dt.timedelta(days=gap_days + 1)).is_in(list(days))
        )
    )
    latest = incidents.sort("date").group_by("incident_id").agg(pl.all().last())
    rows = []
    for end in ends.iter_rows(named=True):
        match = latest.filter(pl.col("incident_id") == end["_key"])
        if end["is_incident"] and match.height:
            row = match.row(0, named=True)
        else:
            last = keyed.filter(pl.col("_key") == end["_key"]).sort("is_root", "date").row(-1, named=True)
            row = alert_message(last)
        mark = hashlib.sha256(f"recovered|{end['_key']}".encode()).hexdigest()[:16]
        date = end["last"] + dt.timedelta(days=gap_days + 1)
        rows.append({**row, "incident_id": mark, "date": date, "status": "recovered"})
    return pl.DataFrame(rows, schema=INCIDENTS, orient="row")

"""``spd why``: the key drivers of a KPI between two date ranges of the materialized daily_agg."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys

import polars as pl

from .core.drivers import KPIS, Drivers, effects, key_drivers, segment_label
from .core.settings import SettingsError, load_settings
from .core.storage import DayStore


def parse_range(text: str) -> tuple[dt.date, dt.date]:
    """``2025-06-01..2025-06-07`` (or one day) as (first, last), both included."""
    first, _, last = text.partition("..")
    try:
        lo, hi = dt.date.fromisoformat(first.strip()), dt.date.fromisoformat((last or first).strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a date range: expected YYYY-MM-DD..YYYY-MM-DD"
        ) from None
    if hi < lo:
        raise argparse.ArgumentTypeError(f"{text!r} ends before it starts")
    return lo, hi


def _stored(store: DayStore, period: tuple[dt.date, dt.date], flag: str) -> list[dt.date]:
    stored = [d for d in store.days("daily_agg") if period[0] <= d <= period[1]]
    if not stored:
        raise SystemExit(
            f"spd why: no materialized daily_agg in {flag} {period[0]}..{period[1]} "
            f"(under {store.folder_uri('daily_agg')}); materialize those days first"
        )
    return stored


def _as_json(result: Drivers, days: dict[str, int], limit: int | None) -> dict:
    """Every segment unless ``--limit`` is given: a truncated list would not add up to the change."""

    def rows(frame: pl.DataFrame) -> list[dict]:
        return [{k: v for k, v in r.items() if v is not None} for r in frame.iter_rows(named=True)]

    out = {
        "kpi": result.kpi,
        "base": result.base,
        "current": result.current,
        "change": result.change,
        "pct_change": result.pct_change,
        "days": days,
        "explained_by_top": result.explained,
        "top": rows(result.top),
        "drivers": rows(result.table if limit is None else result.table.head(limit)),
    }
    if result.kpi == "aov":
        out["effects"] = rows(effects(result))
    return out


def _as_table(result: Drivers, limit: int) -> str:
    pct = f" ({result.pct_change:+.1%})" if result.pct_change is not None else ""
    lines = [
        f"{result.kpi}: {result.base:,.2f} -> {result.current:,.2f}, change {result.change:+,.2f}{pct}",
        f"the top {result.top.height} drivers explain {result.explained:.0%} of the change",
        "",
        f"{'segment':<44} {'base':>14} {'current':>14} {'contribution':>14} {'share':>7}",
    ]
    for row in result.table.head(limit).iter_rows(named=True):
        share = f"{row['share']:.0%}" if row["share"] is not None else ""
        lines.append(
            f"{segment_label(row)[:44]:<44} {row['base']:>14,.2f} {row['current']:>14,.2f} "
            f"{row['contribution']:>+14,.2f} {share:>7}"
        )
    if result.kpi == "aov":
        lines += ["", "mix and rate effects per dimension:"]
        for row in effects(result).iter_rows(named=True):
            lines.append(f"  {row['dimension']:<20} mix {row['mix']:+.4f}  rate {row['rate']:+.4f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="spd why", description=__doc__)
    parser.add_argument("--from", dest="base", type=parse_range, required=True, help="base range A..B")
    parser.add_argument("--to", dest="current", type=parse_range, required=True, help="compared range C..D")
    parser.add_argument("--kpi", choices=KPIS, default="revenue")
    parser.add_argument("--top", type=int, default=5, help="drivers counted as the top (default 5)")
    parser.add_argument(
        "--limit", type=int, default=None, help="rows shown (default 15 in the table, every row in JSON)"
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)
    try:
        store = DayStore(load_settings(check_writable=False).data_dir)
    except SettingsError as exc:
        print(f"spd why: {exc}", file=sys.stderr)
        return 2
    base_days, current_days = _stored(store, args.base, "--from"), _stored(store, args.current, "--to")
    frame = store.read_days("daily_agg", sorted(set(base_days) | set(current_days)))
    result = key_drivers(frame, args.kpi, args.base, args.current, top=args.top)
    if args.json:
        days = {"from": len(base_days), "to": len(current_days)}
        print(json.dumps(_as_json(result, days, args.limit), default=str))
    else:
        print(_as_table(result, 15 if args.limit is None else args.limit))
    return 0


if __name__ == "__main__":
    sys.exit(main())

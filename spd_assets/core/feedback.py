"""Feedback on alerts ("real" / "false alarm") and the stricter thresholds it earns a noisy series.

Both live in the state store (``core.state_store``), history kept: a verdict is a new row (the
latest for an alert counts), an undone adjustment keeps its row with ``undone_at`` set.

The rule, in one place (``_due``): a series whose alerts were marked ``false_alarm`` twice within
``WINDOW_DAYS`` days (by the alerts' dates, counting only false alarms dated on or after its last
adjustment) gets the next step, effective from the day after the later false alarm.

The raised bar is anchored on the false alarms themselves, not on the default thresholds, so it
means the same on a tiny series and a huge one: at step ``k`` an alert of that series is kept only
when its drop is deeper than the deepest of the two false alarms by ``1 + STEP_RAISE * k`` on
both measures: ``pct_drop > min(PCT_CAP, pct * (1 + STEP_RAISE*k))`` and
``-robust_z > z * (1 + STEP_RAISE*k)``. With STEP_RAISE = 0.25 a drop equal to the false alarms
fails from step 1 and one twice as deep passes up to step 3; PCT_CAP keeps a total outage alerting.

The adjustments in force on a day (``in_force``) are those effective by then and not undone, the
latest per series: a re-run of an old day applies what applied then, and an undo restores the
default everywhere.
"""

from __future__ import annotations

import datetime as dt
import itertools

import polars as pl
import sqlalchemy as sa

from .schema import series_label
from .state_store import METADATA, StateStore, stamp

VERDICTS = ("real", "false_alarm")
TARGETS = ("alert", "incident")
WINDOW_DAYS = 30  # two false alarms within this many days raise the bar
FALSE_ALARMS = 2
STEP_RAISE = 0.25  # each step asks for a drop this much deeper than the false alarms'
PCT_CAP = 0.95  # the raised percent bar never exceeds this: a total outage always alerts
REASON = f"threshold raised after {FALSE_ALARMS} false alarms"

FEEDBACK = sa.Table(
    "feedback",
    METADATA,
    sa.Column("feedback_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("target", sa.Text, nullable=False),
    sa.Column("target_id", sa.Text, nullable=False),
    sa.Column("alert_id", sa.Text, nullable=False),
    sa.Column("alert_date", sa.Text, nullable=False),  # YYYY-MM-DD
    sa.Column("level", sa.Text, nullable=False),
    sa.Column("series", sa.Text, nullable=False),  # schema.series_label
    sa.Column("pct_drop", sa.Float),  # the alert's measures, which anchor a raised bar
    sa.Column("robust_z", sa.Float),
    sa.Column("verdict", sa.Text, nullable=False),
    sa.Column("note", sa.Text, nullable=False, server_default=""),
    sa.Column("author", sa.Text, nullable=False, server_default=""),
    sa.Column("created_at", sa.Text, nullable=False),  # ISO time, UTC
    sa.CheckConstraint("verdict IN ('real', 'false_alarm')", name="feedback_verdict"),
    sa.CheckConstraint("target IN ('alert', 'incident')", name="feedback_target"),
)
ADJUSTMENTS = sa.Table(
    "threshold_adjustments",
    METADATA,
    sa.Column("adjustment_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("series", sa.Text, nullable=False),
    sa.Column("level", sa.Text, nullable=False),
    sa.Column("step", sa.Integer, nullable=False),
    sa.Column("pct_bar", sa.Float, nullable=False),  # keep an alert only when pct_drop > pct_bar
    sa.Column("z_bar", sa.Float, nullable=False),  # ... and robust_z < -z_bar
    sa.Column("effective_from", sa.Text, nullable=False),  # YYYY-MM-DD
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("created_at", sa.Text, nullable=False),
    sa.Column("undone_at", sa.Text),
    sa.Column("undone_by", sa.Text),
    sa.CheckConstraint("step >= 1", name="threshold_adjustments_step"),
)
_F, _A = FEEDBACK.c, ADJUSTMENTS.c

FEEDBACK_COLUMNS = {c.name: pl.Int64 if c.name == "feedback_id" else pl.String for c in FEEDBACK.columns} | {
    "pct_drop": pl.Float64,
    "robust_z": pl.Float64,
}
ADJUSTMENT_COLUMNS = {c.name: pl.String for c in ADJUSTMENTS.columns} | {
    "adjustment_id": pl.Int64,
    "step": pl.Int64,
    "pct_bar": pl.Float64,
    "z_bar": pl.Float64,
}
IN_FORCE_COLUMNS = {
    k: ADJUSTMENT_COLUMNS[k]
    for k in ("series", "level", "step", "reason", "adjustment_id", "pct_bar", "z_bar", "effective_from")
}


def series_keys(alerts: pl.DataFrame) -> pl.Series:
    """Each alert's series as schema.series_label names it (the key of feedback and adjustments)."""
    rows = alerts.select("level", "sku", "category", "region").rows()
    return pl.Series("series", [series_label(*r) for r in rows], dtype=pl.String)


def _frame(rows: list, columns: dict[str, pl.DataType]) -> pl.DataFrame:
    return pl.DataFrame([tuple(r) for r in rows], schema=columns, orient="row")


def step_bars(pct: float, z: float, step: int) -> tuple[float, float]:
    """The raised (pct_drop, |robust_z|) bars at ``step``, from the false alarms' own deepest measures."""
    factor = 1 + STEP_RAISE * step
    return min(PCT_CAP, pct * factor), z * factor


def _due(false_alarms: list[dict], since: dt.date | None) -> tuple[dict, dict] | None:
    """The first pair of false alarms (dated on/after ``since``) within WINDOW_DAYS, or None."""
    dated = sorted(
        (r for r in false_alarms if since is None or r["alert_date"] >= since.isoformat()),
        key=lambda r: r["alert_date"],
    )
    for earlier, later in itertools.pairwise(dated):
        gap = dt.date.fromisoformat(later["alert_date"]) - dt.date.fromisoformat(earlier["alert_date"])
        if gap.days <= WINDOW_DAYS:
            return earlier, later
    return None


class Feedback:
    """Verdicts on alerts and the threshold adjustments they cause, in ``store``."""

    def __init__(self, store: StateStore) -> None:
        self.store = store
        store.ensure(FEEDBACK, ADJUSTMENTS)

    def give(
        self,
        alerts: pl.DataFrame,
        verdict: str,
        note: str = "",
        author: str = "",
        target: str = "alert",
        target_id: str | None = None,
    ) -> list[int]:
        """Record ``verdict`` on every alert in ``alerts`` (an incident passes its alerts with
        target='incident'), then raise the bar of any series the rule now says is noisy.

        Returns the ids of the adjustments created (usually none).
        """
        if verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {VERDICTS}, not {verdict!r}")
        if target not in TARGETS:
            raise ValueError(f"target must be one of {TARGETS}, not {target!r}")
        if target == "incident" and not target_id:
            raise ValueError("feedback on an incident needs its incident_id as target_id")
        if alerts.is_empty():
            return []
        now = stamp()
        keys = series_keys(alerts)
        rows = [
            {
                "target": target,
                "target_id": target_id or a["alert_id"],
                "alert_id": a["alert_id"],
                "alert_date": str(a["date"]),
                "level": a["level"],
                "series": series,
                "pct_drop": a.get("pct_drop"),
                "robust_z": a.get("robust_z"),
                "verdict": verdict,
                "note": note,
                "author": author,
                "created_at": now,
            }
            for a, series in zip(alerts.to_dicts(), keys, strict=True)
        ]
        with self.store.begin(FEEDBACK, ADJUSTMENTS) as con:
            con.execute(FEEDBACK.insert(), rows)
            if verdict == "real":  # a 'real' can only take a false alarm back: it never raises a bar
                return []
            touched = sorted({(r["series"], r["level"]) for r in rows})
            made = []
            for series, level in touched:  # each raise counts only the false alarms after it: it ends
                while (made_id := self._reevaluate(con, series, level, now)) is not None:
                    made.append(made_id)
            return made

    @staticmethod
    def _reevaluate(con: sa.Connection, series: str, level: str, now: str) -> int | None:
        """Add the series' next step if its false alarms since its last adjustment call for one."""
        mine = (_F.series == series) & (_F.level == level)
        latest = sa.select(sa.func.max(_F.feedback_id)).where(mine).group_by(_F.alert_id)
        verdicts = con.execute(
            sa.select(_F.alert_date, _F.pct_drop, _F.robust_z).where(
                _F.feedback_id.in_(latest), _F.verdict == "false_alarm"
            )
        )
        adjusted = (_A.series == series) & (_A.level == level)
        last = con.execute(sa.select(sa.func.max(_A.effective_from)).where(adjusted)).scalar()
        pair = _due([dict(r._mapping) for r in verdicts], dt.date.fromisoformat(last) if last else None)
        if pair is None:
            return None
        current = con.execute(
            sa.select(sa.func.max(_A.step)).where(adjusted, _A.undone_at.is_(None))
        ).scalar()
        step = (current or 0) + 1
        pct = max(abs(p["pct_drop"] or 0.0) for p in pair)
        z = max(abs(p["robust_z"] or 0.0) for p in pair)
        pct_bar, z_bar = step_bars(pct, z, step)
        effective = dt.date.fromisoformat(pair[1]["alert_date"]) + dt.timedelta(days=1)
        result = con.execute(
            ADJUSTMENTS.insert().values(
                series=series,
                level=level,
                step=step,
                pct_bar=pct_bar,
                z_bar=z_bar,
                effective_from=effective.isoformat(),
                reason=REASON,
                created_at=now,
            )
        )
        return int(result.inserted_primary_key[0])

    def table(self) -> pl.DataFrame:
        """Every verdict ever given, oldest first (FEEDBACK_COLUMNS)."""
        cols = [_F[c] for c in FEEDBACK_COLUMNS]
        with self.store.read(FEEDBACK) as con:
            rows = con.execute(sa.select(*cols).order_by(_F.feedback_id)).all()
        return _frame(rows, FEEDBACK_COLUMNS)

    def adjustments(self, include_undone: bool = True) -> pl.DataFrame:
        """Threshold adjustments, oldest first (ADJUSTMENT_COLUMNS); undone ones kept unless asked."""
        query = sa.select(*[_A[c] for c in ADJUSTMENT_COLUMNS]).order_by(_A.adjustment_id)
        if not include_undone:
            query = query.where(_A.undone_at.is_(None))
        with self.store.read(ADJUSTMENTS) as con:
            rows = con.execute(query).all()
        return _frame(rows, ADJUSTMENT_COLUMNS)

    def in_force(self, day: dt.date) -> pl.DataFrame:
        """The adjustment applying to each series on ``day``: effective by then, not undone, latest."""
        query = (
            sa.select(*[_A[c] for c in IN_FORCE_COLUMNS])
            .where(_A.effective_from <= day.isoformat(), _A.undone_at.is_(None))
            .order_by(_A.adjustment_id)
        )
        with self.store.read(ADJUSTMENTS) as con:
            rows = con.execute(query).all()
        frame = _frame(rows, IN_FORCE_COLUMNS)
        return frame.unique(["series", "level"], keep="last", maintain_order=True)

    def in_force_on(self, days: list[dt.date]) -> pl.DataFrame:
        """``in_force`` for each of ``days``, stacked with a ``date`` column (one read for a range)."""
        live = self.adjustments(include_undone=False).select(*IN_FORCE_COLUMNS)
        frames = [
            live.filter(pl.col("effective_from") <= d.isoformat())
            .unique(["series", "level"], keep="last", maintain_order=True)
            .with_columns(date=pl.lit(d, pl.Date))
            for d in sorted(set(days))
        ]
        return pl.concat(frames) if frames else empty_in_force().with_columns(date=pl.lit(None, pl.Date))

    def undo(self, adjustment_id: int, by: str = "") -> None:
        """Stop applying one adjustment (its row stays, with who undid it and when)."""
        with self.store.begin(ADJUSTMENTS) as con:
            done = con.execute(
                ADJUSTMENTS.update()
                .where(_A.adjustment_id == adjustment_id, _A.undone_at.is_(None))
                .values(undone_at=stamp(), undone_by=by)
            )
            if done.rowcount == 0:
                known = con.execute(sa.select(_A.undone_at).where(_A.adjustment_id == adjustment_id)).first()
                if known is None:
                    raise KeyError(f"no threshold adjustment {adjustment_id}")


def empty_in_force() -> pl.DataFrame:
    """No adjustment anywhere: what a run without a store applies."""
    return pl.DataFrame(schema=IN_FORCE_COLUMNS)


def apply_adjustments(alerts: pl.DataFrame, in_force: pl.DataFrame) -> pl.DataFrame:
    """Drop the alerts that their series' raised bar no longer passes; note the bar on those kept.

    ``in_force`` is ``Feedback.in_force(day)`` for the alerts' day (or several days' stacked with a
    ``date`` column, one frame per day's adjustments). Alerts of series without an adjustment pass
    untouched, with a null ``threshold_note``.
    """
    out = alerts.with_columns(series_keys(alerts).alias("_series"))
    if "threshold_note" not in out.columns:
        out = out.with_columns(pl.lit(None, pl.String).alias("threshold_note"))
    if in_force.is_empty() or alerts.is_empty():
        return out.drop("_series")
    keys = ["_series", "level", *(["date"] if "date" in in_force.columns else [])]
    bars = in_force.select(
        pl.col("series").alias("_series"),
        "level",
        *(["date"] if "date" in in_force.columns else []),
        pl.col("pct_bar").alias("_pct_bar"),
        pl.col("z_bar").alias("_z_bar"),
        pl.col("reason").alias("_reason"),
    )
    joined = out.join(bars, on=keys, how="left")
    passes = pl.col("_pct_bar").is_null() | (
        (pl.col("pct_drop") > pl.col("_pct_bar")) & (pl.col("robust_z") < -pl.col("_z_bar"))
    )
    note = (
        pl.when(pl.col("_reason").is_not_null()).then(pl.col("_reason")).otherwise(pl.col("threshold_note"))
    )
    return (
        joined.filter(passes).with_columns(note.alias("threshold_note")).select(out.columns).drop("_series")
    )


def implied_precision(feedback: pl.DataFrame, as_of: dt.date, days: int) -> pl.DataFrame:
    """The precision the users' verdicts imply over the ``days`` up to ``as_of``, per level and overall.

    One vote per target, its latest verdict: an incident counts once, at the level of the first alert
    it was given with (pass the root first). Columns: level ('all' for overall), real, false_alarm, precision.
    """
    first = (as_of - dt.timedelta(days=days - 1)).isoformat()
    recent = feedback.filter((pl.col("alert_date") >= first) & (pl.col("alert_date") <= as_of.isoformat()))
    votes = (
        recent.sort("feedback_id")
        .group_by("target", "target_id")
        .agg(pl.col("level").first(), pl.col("verdict").last())
    )
    rows = [("all", votes), *((lv, votes.filter(level=lv)) for lv in sorted(votes["level"].unique()))]
    out = []
    for level, v in rows:
        real = v.filter(verdict="real").height
        false = v.filter(verdict="false_alarm").height
        out.append((level, real, false, real / (real + false) if real + false else None))
    return pl.DataFrame(
        out,
        schema={"level": pl.String, "real": pl.Int64, "false_alarm": pl.Int64, "precision": pl.Float64},
        orient="row",
    )

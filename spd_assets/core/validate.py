"""Validation of one day's orders file: whole-file checks that fail the day, row checks that quarantine.

Pure and vectorised on polars frames (a day may hold a million orders). Rows in = rows kept + rows
quarantined, always: every input row leaves either as an order in ``schema.ORDERS`` or as exactly one
quarantine row naming its line, the field(s) and the reason(s), with the original row as JSON.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field

import polars as pl

from . import schema

LINE = "__line"  # 1-based line (CSV, header = line 1) or row number (Parquet), added by the reader
MALFORMED = "__malformed"  # optional: a reason the reader found the row malformed (too many fields)
REQUIRED = ("order_id", "sku", "region", "qty", "price")  # plus `date` or `ts`
OPTIONAL = ("date", "ts", "revenue")
REVENUE_ABS_TOL = 0.01  # revenue may differ from qty × price by a cent ...
REVENUE_REL_TOL = 0.005  # ... or by 0.5 %, whichever is larger (rounded unit prices)
_DATETIME_FORMATS = ("%Y-%m-%dT%H:%M:%S%.f%z", "%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M%z", "%Y-%m-%dT%H:%M")
_P = "__spd_"  # prefix of working columns, so they never collide with a file's own columns


class LandingFileError(ValueError):
    """A whole-file problem: the day cannot be loaded; the message names the file and what is wrong."""

    def __init__(self, file: str, problem: str) -> None:
        super().__init__(f"{file}: {problem}")
        self.file, self.problem = file, problem


@dataclass(frozen=True)
class ValidationReport:
    """What one file gave: rows in, kept and quarantined, and how often each problem occurred."""

    day: dt.date
    source_file: str
    rows_in: int
    rows_kept: int
    rows_quarantined: int
    problems: dict[str, int] = field(default_factory=dict)
    sha256: str | None = None

    @property
    def quarantine_rate(self) -> float:
        return self.rows_quarantined / self.rows_in if self.rows_in else 0.0


@dataclass(frozen=True)
class ValidatedDay:
    """The orders kept (``schema.ORDERS``), the rows quarantined (``schema.QUARANTINE``) and the report."""

    orders: pl.DataFrame
    quarantine: pl.DataFrame
    report: ValidationReport


def resolve_columns(columns: Iterable[str], source_file: str) -> dict[str, str]:
    """Map each known column (case-insensitive, spaces trimmed) to the file's own name for it."""
    found: dict[str, list[str]] = {}
    for name in columns:
        found.setdefault(name.strip().lower(), []).append(name)
    names = {}
    for want in (*REQUIRED, *OPTIONAL):
        hits = found.get(want, [])
        if len(hits) > 1:
            raise LandingFileError(source_file, f"column {want!r} appears {len(hits)} times ({hits})")
        if hits:
            names[want] = hits[0]
    have_when = "date" in names or "ts" in names
    missing = [
        c for c in ("order_id", "date", *REQUIRED[1:]) if c not in names and (c != "date" or not have_when)
    ]
    if missing:
        have = ", ".join(repr(c) for c in columns) or "none"
        what = ", ".join("'date' (or 'ts')" if c == "date" else repr(c) for c in missing)
        verb = "column {} is" if len(missing) == 1 else "columns {} are"
        raise LandingFileError(source_file, f"required {verb.format(what)} missing; columns found: {have}")
    return names


def _text(col: str, dtype: pl.DataType) -> pl.Expr:
    """Trimmed text, with empty cells as null."""
    text = pl.col(col).str.strip_chars() if dtype == pl.String else pl.col(col).cast(pl.String)
    return pl.when(text.str.len_bytes() > 0).then(text)


def _number(col: str, dtype: pl.DataType) -> pl.Expr:
    value = pl.col(col).str.strip_chars() if dtype == pl.String else pl.col(col)
    return value.cast(pl.Float64, strict=False)


def parse_when(text: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """(date as written, UTC timestamp) from ISO 8601 text: a date, or a date-time with optional offset.

    A bare date is midnight UTC; a naive date-time is taken as UTC; the date is the one written, so an
    export in local time keeps each order on its local day.
    """
    iso = text.str.replace(r"^(\d{4}-\d{2}-\d{2}) ", "${1}T").str.replace(r"[zZ]$", "+00:00")
    stamps = [
        iso.str.to_datetime(f, strict=False, time_unit="us", time_zone="UTC") for f in _DATETIME_FORMATS
    ]
    day = text.str.slice(0, 10).str.to_date("%Y-%m-%d", strict=False)
    bare = pl.when(text.str.len_bytes() == 10).then(day.cast(pl.Datetime("us")).dt.replace_time_zone("UTC"))
    ts = pl.coalesce(bare, *stamps)
    return pl.when(ts.is_not_null()).then(day), ts


def when_column(col: str, dtype: pl.DataType) -> tuple[pl.Expr, pl.Expr]:
    """(date, ts) of a date/ts column: text, Date or Datetime (naive = UTC); ``spd import`` uses it too."""
    if dtype == pl.Date:
        return pl.col(col), pl.col(col).cast(pl.Datetime("us")).dt.replace_time_zone("UTC")
    if isinstance(dtype, pl.Datetime):
        local = pl.col(col) if dtype.time_zone else pl.col(col).dt.replace_time_zone("UTC")
        return local.dt.date(), local.dt.convert_time_zone("UTC").dt.cast_time_unit("us")
    return parse_when(_text(col, dtype))


def _problems(names: dict[str, str], types: dict[str, pl.DataType], day: dt.date, tol: float) -> list:
    """(field, condition, reason) for every row check, in the order reasons are listed."""
    num = {k: pl.col(f"{_P}{k}") for k in ("qty", "price", "revenue") if k in names}
    when_field = "date" if "date" in names else "ts"
    checks = [("order_id", pl.col(f"{_P}order_id").is_null(), "order_id is empty")]
    for name in ("sku", "region"):
        checks.append((name, pl.col(f"{_P}{name}").is_null(), f"{name} is empty"))
    for name in ("qty", "price"):
        empty = _text(names[name], types[names[name]]).is_null()
        checks.append((name, empty, f"{name} is empty"))
        nan = num[name].is_null() | ~num[name].is_finite()
        checks.append((name, ~empty & nan, f"{name} is not a number"))
    qty, price = num["qty"], num["price"]
    checks.append(("qty", qty.is_finite() & (qty != qty.floor()), "qty is not a whole number"))
    checks.append(("qty", qty.is_finite() & (qty <= 0), "qty is not positive"))
    checks.append(("price", price.is_finite() & (price < 0), "price is negative"))
    usable = qty.is_finite() & (qty == qty.floor()) & (qty > 0) & price.is_finite() & (price >= 0)
    if "revenue" in names:
        rev = num["revenue"]
        given = _text(names["revenue"], types[names["revenue"]]).is_not_null()
        checks.append(("revenue", given & (rev.is_null() | ~rev.is_finite()), "revenue is not a number"))
        expected = qty * price
        off = (rev - expected).abs() > pl.max_horizontal(pl.lit(tol), REVENUE_REL_TOL * expected.abs())
        checks.append(("revenue", usable & rev.is_finite() & off, "revenue differs from qty × price"))
    for name in ("date", "ts"):
        if name in names:
            empty = _text(names[name], types[names[name]]).is_null()
            if name == "ts" and "date" in names:
                checks.append(("ts", ~empty & pl.col(f"{_P}ts_own").is_null(), "ts does not parse"))
                continue
            checks.append((name, empty, f"{name} is empty"))
            checks.append((name, ~empty & pl.col(f"{_P}date").is_null(), f"{name} does not parse"))
    wrong_day = pl.col(f"{_P}date").is_not_null() & (pl.col(f"{_P}date") != day)
    checks.append((when_field, wrong_day, f"{when_field} is not the file's day"))
    return checks


def validate_orders(
    raw: pl.DataFrame, day: dt.date, source_file: str, revenue_tolerance: float = REVENUE_ABS_TOL
) -> ValidatedDay:
    """Split one file's rows (as read: text or typed columns) into kept orders and quarantined rows.

    Raises LandingFileError when the file as a whole is wrong: a required column is missing, or most
    rows are dated another day than ``day`` (the day in the file's name).
    """
    if LINE not in raw.columns:
        raw = raw.with_row_index(LINE, offset=2).with_columns(pl.col(LINE).cast(pl.Int64))
    data_cols = [c for c in raw.columns if c not in (LINE, MALFORMED)]
    names = resolve_columns(data_cols, source_file)
    types = {c: raw.schema[c] for c in data_cols}
    when_col = names.get("date", names.get("ts"))
    date_expr, ts_expr = when_column(when_col, types[when_col])
    numbers = [k for k in ("qty", "price", "revenue") if k in names]
    typed = [
        *[_text(names[k], types[names[k]]).alias(f"{_P}{k}") for k in ("order_id", "sku", "region")],
        *[_number(names[k], types[names[k]]).alias(f"{_P}{k}") for k in numbers],
        date_expr.alias(f"{_P}date"),
        ts_expr.alias(f"{_P}ts_date"),
    ]
    if "ts" in names and "date" in names:
        typed.append(when_column(names["ts"], types[names["ts"]])[1].alias(f"{_P}ts_own"))
    frame = raw.with_columns(typed)
    _check_day(frame, day, source_file, when_col)

    checks = _problems(names, types, day, revenue_tolerance)
    if MALFORMED in raw.columns:
        checks.insert(0, ("row", pl.col(MALFORMED).is_not_null(), "row has more fields than the header"))
    fields = _listed([(c, f) for f, c, _ in checks], ",")
    reasons = _listed([(c, r) for _, c, r in checks], "; ")
    frame = frame.with_columns(
        fields.str.split(",").list.unique(maintain_order=True).list.join(",").alias(f"{_P}field"),
        reasons.fill_null("").alias(f"{_P}reason"),
    )
    good = pl.col(f"{_P}reason") == ""
    duplicate = good & ~pl.col(f"{_P}order_id").is_first_distinct().over(good)  # keep the first clean row
    frame = frame.with_columns(
        pl.when(duplicate).then(pl.lit("order_id")).otherwise(f"{_P}field").alias(f"{_P}field"),
        pl.when(duplicate).then(pl.lit("duplicate order_id")).otherwise(f"{_P}reason").alias(f"{_P}reason"),
    )
    kept = frame.filter(pl.col(f"{_P}reason") == "")
    bad = frame.filter(pl.col(f"{_P}reason") != "")
    orders = _orders(kept, names)
    quarantine = bad.select(
        date=pl.lit(day, dtype=pl.Date),
        source_file=pl.lit(source_file),
        line=pl.col(LINE).cast(pl.Int64),
        order_id=pl.col(f"{_P}order_id"),
        field=pl.col(f"{_P}field"),
        reason=pl.col(f"{_P}reason"),
        raw=pl.struct(data_cols).struct.json_encode() if data_cols else pl.lit("{}"),
    )
    quarantine = schema.conform(quarantine, schema.QUARANTINE)
    if orders.height + quarantine.height != raw.height:  # a bug, never bad input
        raise AssertionError(f"{source_file}: {raw.height} in != {orders.height} + {quarantine.height}")
    report = ValidationReport(
        day=day,
        source_file=source_file,
        rows_in=raw.height,
        rows_kept=orders.height,
        rows_quarantined=quarantine.height,
        problems=problem_counts(quarantine),
    )
    return ValidatedDay(orders=orders, quarantine=quarantine, report=report)


def _listed(items: list[tuple[pl.Expr, str]], separator: str) -> pl.Expr:
    """The labels whose condition holds, joined (null when none does)."""
    labels = [pl.when(c).then(pl.lit(label)) for c, label in items]
    return pl.concat_str(labels, separator=separator, ignore_nulls=True)


def _check_day(frame: pl.DataFrame, day: dt.date, source_file: str, when_col: str) -> None:
    """A file whose dated rows are mostly another day is a misnamed or mis-split file, not bad rows."""
    dated = frame.filter(pl.col(f"{_P}date").is_not_null())
    other = dated.filter(pl.col(f"{_P}date") != day)
    if dated.height and other.height * 2 > dated.height:
        first, last = other[f"{_P}date"].min(), other[f"{_P}date"].max()
        span = f"{first}" if first == last else f"{first} .. {last}"
        raise LandingFileError(
            source_file,
            f"{other.height} of {dated.height} rows are dated {span}, not {day} (the day in the file's name; "
            f"first at line {other[LINE][0]}, {when_col}={other[when_col][0]!r})",
        )


def _orders(kept: pl.DataFrame, names: dict[str, str]) -> pl.DataFrame:
    """Kept rows in schema.ORDERS: ts from `ts` when given (else the date column's own time or midnight)."""
    ts = pl.col(f"{_P}ts_date")
    if "ts" in names and "date" in names:
        ts = pl.coalesce(pl.col(f"{_P}ts_own"), ts)
    qty, price = pl.col(f"{_P}qty"), pl.col(f"{_P}price")
    revenue = (qty * price).round(2)
    if "revenue" in names:
        revenue = pl.coalesce(pl.col(f"{_P}revenue"), revenue)
    out = kept.select(
        order_id=pl.col(f"{_P}order_id"),
        ts=ts,
        date=pl.col(f"{_P}date"),
        sku=pl.col(f"{_P}sku"),
        region=pl.col(f"{_P}region"),
        qty=qty.cast(pl.Int64),
        price=price,
        revenue=revenue,
    )
    return schema.conform(out, schema.ORDERS)


def problem_counts(quarantine: pl.DataFrame) -> dict[str, int]:
    """How many quarantined rows have each reason (a row with two problems counts under both)."""
    if quarantine.is_empty():
        return {}
    counts = (
        quarantine.select(pl.col("reason").str.split("; ").explode())
        .group_by("reason")
        .len()
        .sort(["len", "reason"], descending=[True, False])
    )
    return dict(zip(counts["reason"].to_list(), counts["len"].to_list(), strict=True))


def empty_quarantine() -> pl.DataFrame:
    """No quarantined rows (a clean file, or a source that cannot produce bad rows)."""
    return schema.empty(schema.QUARANTINE)

"""The day and instant of an order, from a date or timestamp column of any type.

Text is ISO 8601 (a space may replace the T, the offset may follow a space: Shopify's
"2025-03-01 10:15:00 -0500"). Without a shop time zone the date is the one written, so an export in
local time keeps each order on its local day. With one (SPD_TIMEZONE), a timestamp that carries an
offset or a zone is converted to it before the day is taken; a bare date or a naive time stays as
written (it is taken to be the shop's local time).
"""

from __future__ import annotations

import datetime as dt
from typing import TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import polars as pl

from .distinct import per_value

FORMATS = ("%Y-%m-%dT%H:%M:%S%.f%z", "%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M%z", "%Y-%m-%dT%H:%M")
_OFFSET = r"(Z|[+-]\d{2}:?\d{2})$"
_ZONE = r"\s+([A-Za-z]+/[A-Za-z_]+(?:/[A-Za-z_]+)?)$"  # an IANA zone name after the time: Europe/Berlin


def _zoned_to_utc(rows: pl.Series) -> pl.Series:
    """(naive ISO text, zone name) -> the UTC instant; null when either does not parse."""
    out = []
    for row in rows:
        try:
            local = dt.datetime.fromisoformat(row["local"]).replace(tzinfo=ZoneInfo(row["zone"]))
            out.append(local.astimezone(dt.UTC).replace(tzinfo=None))
        except (TypeError, ValueError, ZoneInfoNotFoundError):
            out.append(None)
    return pl.Series(out, dtype=pl.Datetime("us")).dt.replace_time_zone("UTC")


FrameT = TypeVar("FrameT", pl.DataFrame, pl.LazyFrame)


def trimmed_text(col: str, dtype: pl.DataType) -> pl.Expr:
    """A cell as trimmed text, with an empty cell as null: how every landing field is first read."""
    text = pl.col(col).str.strip_chars() if dtype == pl.String else pl.col(col).cast(pl.String)
    return text.replace("", None)


def trimmed_column(frame: pl.DataFrame, col: str) -> pl.Series:
    """``trimmed_text`` of one column, exactly: a column of few values is trimmed once per distinct
    value, and is returned as it is (no copy) when no value changes, the usual case."""
    column = frame[col]
    if column.dtype != pl.String:
        return frame.select(trimmed_text(col, column.dtype)).to_series()
    return per_value(column, lambda text: text.str.strip_chars().replace("", None))


def with_when(
    frame: FrameT,
    col: str,
    dtype: pl.DataType,
    prefix: str,
    timezone: str | None = None,
    trimmed: bool = False,
    plain: pl.Series | None = None,
) -> FrameT:
    """Add ``{prefix}date`` and ``{prefix}ts`` (UTC) parsed from ``col``; nulls where it does not parse.

    ``trimmed``: text ``col`` is already ``trimmed_text`` (validation has it), so it is not trimmed
    again; ``plain``: which of those rows match ``_PLAIN``, when the caller knows (``when_text``).
    """
    date, ts = f"{prefix}date", f"{prefix}ts"
    local_zone = timezone or "UTC"
    if dtype == pl.Date:
        stamp = pl.col(col).cast(pl.Datetime("us")).dt.replace_time_zone(local_zone)
        return frame.with_columns(pl.col(col).alias(date), stamp.dt.convert_time_zone("UTC").alias(ts))
    if isinstance(dtype, pl.Datetime):
        if dtype.time_zone:
            local = pl.col(col).dt.convert_time_zone(timezone) if timezone else pl.col(col)
        else:
            local = pl.col(col).dt.replace_time_zone(local_zone, non_existent="null", ambiguous="earliest")
        utc = local.dt.convert_time_zone("UTC").dt.cast_time_unit("us")
        return frame.with_columns(local.dt.date().alias(date), utc.alias(ts))
    if isinstance(frame, pl.DataFrame):
        return _with_when_text(frame, col, dtype, prefix, timezone, trimmed, plain)
    return _parsed_text(frame, col, dtype, prefix, timezone)


_PLAIN = r"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}$"  # what most exports write: a naive local time


def when_text(frame: pl.DataFrame, col: str) -> tuple[pl.Series, pl.Series | None]:
    """(``trimmed_column`` of a date/time column; which rows are plain, when that is known): a column
    of plain ``YYYY-MM-DD HH:MM:SS`` cells, digits at both ends, has nothing to trim and is not copied."""
    column = frame[col]
    if column.dtype == pl.String:
        plain = column.str.contains(_PLAIN).fill_null(False)
        if plain.all():
            return column, plain
    return trimmed_column(frame, col), None


def _with_when_text(
    frame: pl.DataFrame,
    col: str,
    dtype: pl.DataType,
    prefix: str,
    timezone: str | None,
    trimmed: bool,
    plain: pl.Series | None,
) -> pl.DataFrame:
    """Text timestamps: the plain ``YYYY-MM-DD HH:MM:SS`` rows by one fixed format, the rest by the
    general rules, which give a plain row the same date and instant at many times the cost. Only the
    text column is worked on, never the (perhaps wide) frame."""
    text, date, ts = f"{prefix}when_text", f"{prefix}date", f"{prefix}ts"
    texts = frame.select((pl.col(col) if trimmed else trimmed_text(col, dtype)).alias(text))
    if plain is None:
        plain = texts.select(pl.col(text).str.contains(_PLAIN).fill_null(False)).to_series()
    if not plain.any():
        return _parsed_text(frame, col, dtype, prefix, timezone)
    every = plain.all()
    stamp = pl.col(text)
    if texts.select(stamp.str.contains("T", literal=True).any()).item():
        stamp = stamp.str.replace("T", " ", literal=True)
    stamp = stamp.str.to_datetime("%Y-%m-%d %H:%M:%S", strict=False, time_unit="us")
    local = stamp.dt.replace_time_zone(timezone or "UTC", non_existent="null", ambiguous="earliest")
    fast = (
        (texts if every else texts.filter(plain))
        .select(local.alias(text))  # the shop's local time: its date is the day of the order
        .select(pl.col(text).dt.date().alias(date), pl.col(text).dt.convert_time_zone("UTC").alias(ts))
    )
    if not every:
        order = f"{prefix}row"
        general = _parsed_text(frame.select(col).filter(~plain), col, dtype, prefix, timezone)
        parts = [
            fast.with_columns(pl.Series(order, plain.arg_true())),
            general.select(date, ts, pl.Series(order, (~plain).arg_true())),
        ]
        fast = pl.concat(parts).sort(order).drop(order)
    return frame.with_columns(fast.get_columns())


def _parsed_text(frame: FrameT, col: str, dtype: pl.DataType, prefix: str, timezone: str | None) -> FrameT:
    """Text timestamps by the general rules: offsets, zone names, a bare date, a space for the T."""
    date, ts = f"{prefix}date", f"{prefix}ts"
    local_zone = timezone or "UTC"
    text, iso, aware = f"{prefix}when_text", f"{prefix}iso", f"{prefix}aware"
    zone = f"{prefix}zone"
    frame = frame.with_columns(trimmed_text(col, dtype).alias(text))  # in stages: each computed once
    frame = frame.with_columns(
        pl.col(text).str.extract(_ZONE, 1).alias(zone), pl.col(text).str.replace(_ZONE, "").alias(text)
    )
    frame = frame.with_columns(
        pl.col(text)
        .str.replace(r"\s*(UTC|GMT)$", "Z")
        .str.replace(r"\s+([+-]\d{2}:?\d{2})$", "$1")
        .str.replace(" ", "T", literal=True, n=1)  # the ISO date-time separator may be a space
        .str.replace(r"Z$", "+00:00")
        .alias(iso),
        pl.col(text).str.slice(0, 10).str.to_date("%Y-%m-%d", strict=False).alias(date),
    )
    frame = frame.with_columns((pl.col(iso).str.contains(_OFFSET) | pl.col(zone).is_not_null()).alias(aware))
    bare = pl.when(pl.col(text).str.len_bytes() == 10).then(
        pl.col(date).cast(pl.Datetime("us")).dt.replace_time_zone(local_zone).dt.convert_time_zone("UTC")
    )
    stamps = [
        pl.col(iso).str.to_datetime(f, strict=False, time_unit="us", time_zone="UTC")
        for f in FORMATS
        if "%z" in f
    ]
    naive = [
        pl.col(iso)
        .str.to_datetime(f, strict=False, time_unit="us")
        .dt.replace_time_zone(local_zone, non_existent="null", ambiguous="earliest")
        .dt.convert_time_zone("UTC")
        for f in FORMATS
        if "%z" not in f
    ]
    zoned = pl.when(pl.col(zone).is_not_null()).then(
        pl.struct(local=pl.col(iso), zone=pl.col(zone)).map_batches(
            _zoned_to_utc, return_dtype=pl.Datetime("us", "UTC")
        )
    )
    parsed = pl.coalesce(
        bare,
        zoned,
        pl.when(pl.col(aware) & pl.col(zone).is_null())
        .then(pl.coalesce(*stamps))
        .otherwise(pl.when(pl.col(zone).is_null()).then(pl.coalesce(*naive))),
    )
    frame = frame.with_columns(parsed.alias(ts))
    day = pl.col(date)
    if timezone:  # an instant with an offset falls on the shop's day
        day = pl.when(pl.col(aware)).then(pl.col(ts).dt.convert_time_zone(timezone).dt.date()).otherwise(day)
    return frame.with_columns(pl.when(pl.col(ts).is_not_null()).then(day).alias(date)).drop(
        text, iso, aware, zone
    )

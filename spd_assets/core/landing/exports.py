"""A shop's export in spd's fields: columns renamed by the mapping, money parsed, missing fields derived.

Shared by ``spd import`` and by the landing folder's mapping.toml, so a file imported and a file
dropped in are read by the same rules. Values stay text here: validation then quarantines what
still does not parse, naming the line.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from .distinct import per_value
from .mapping import ORDER_LEVEL, Mapping
from .money import check_one_currency, currencies, detect_decimal, parse_money
from .validate import LINE, MALFORMED

ONE_REGION = "all"  # the region of a shop whose export names none
MONEY = ("price", "revenue")


@dataclass(frozen=True)
class Mapped:
    """The rows in spd's fields, what was derived, and the currencies the rows name."""

    frame: pl.DataFrame
    derived: tuple[str, ...]
    currencies: frozenset[str]


def derived_fields(mapping: Mapping) -> tuple[str, ...]:
    """The fields spd makes up for this mapping, as said to the user."""
    out = []
    if "order_id" not in mapping.columns:
        out.append("order_id (from the file name and line)")
    if "region" not in mapping.columns:
        out.append(f"region ({ONE_REGION!r}: one region)")
    if "category" not in mapping.columns:
        out.append("category (from the catalog, else 'unknown')")
    return tuple(out)


def to_spd(
    frame: pl.DataFrame, mapping: Mapping, source_id: str, decimal: str, carry: pl.DataFrame | None = None
) -> Mapped:
    """``frame`` (text columns, with LINE) with spd's field names; ``carry``: the previous batch's last row.

    An order's later lines that leave order-level fields empty (Shopify writes them on the first line
    only) take them from the line above within the same order. Without an order_id each line gets
    ``<source_id>-L<line>``, stable across re-imports of the same file.
    """
    cols = {f: c for f, c in mapping.columns.items() if c in frame.columns}
    sources = set(cols.values())
    keep = [
        c
        for c in frame.columns
        if c not in sources and c.strip().lower() not in cols and c not in (LINE, MALFORMED)
    ]
    out = frame.select(
        *[_text(frame[c]).alias(f) for f, c in cols.items()],
        *keep,
        *[c for c in (LINE, MALFORMED) if c in frame.columns],
    )
    found: set[str] = set()
    for name in (*MONEY, "currency"):
        if name in out.columns:  # the codes the distinct values name are the codes the rows name
            values = pl.lit(out[name].unique())
            codes = pl.select(currencies(values).explode().drop_nulls().unique()).to_series()
            found.update(s.upper() for s in codes.to_list())
    out = out.with_columns(
        per_value(out[m], lambda text: parse_money(text, decimal)).alias(m) for m in MONEY if m in out.columns
    )
    if "order_id" in out.columns:
        out = _fill_down(out, [f for f in ORDER_LEVEL if f in out.columns], carry)
    else:
        out = out.with_columns((pl.lit(f"{source_id}-L") + pl.col(LINE).cast(pl.String)).alias("order_id"))
    if "region" not in out.columns:
        out = out.with_columns(pl.lit(ONE_REGION).alias("region"))
    return Mapped(out, derived_fields(mapping), frozenset(found))


def file_decimal(frame: pl.DataFrame, mapping: Mapping, file: str) -> str:
    """The decimal separator of a file's money columns: given in the mapping, else detected on ``frame``.

    Detected on the distinct values in the order they first appear: the same verdict and the same
    example values as on every row (each value votes alike every time), without a million Python strings.
    """
    if mapping.decimal:
        return mapping.decimal
    columns = [
        frame[col].cast(pl.String).drop_nulls()
        for col in (mapping.columns.get(name) for name in MONEY)
        if col in frame.columns
    ]
    if not columns:
        return detect_decimal([], file)
    values = pl.concat(columns).unique(maintain_order=True)
    return detect_decimal(values.to_list(), file)


def map_file(frame: pl.DataFrame, mapping: Mapping, source_id: str, file: str) -> pl.DataFrame:
    """A whole file (a landing day) in spd's fields; one currency only."""
    mapped = to_spd(frame, mapping, source_id, file_decimal(frame, mapping, file))
    check_one_currency(set(mapped.currencies), file)
    return mapped.frame


def _blank_null(expr: pl.Expr) -> pl.Expr:
    return pl.when(expr.str.strip_chars().str.len_bytes() > 0).then(expr)


def _text(column: pl.Series) -> pl.Series:
    """A mapped column as text, a blank cell as null (once per distinct value when it repeats few)."""
    if column.dtype != pl.String:
        return pl.select(_blank_null(pl.lit(column).cast(pl.String))).to_series()
    return per_value(column, _blank_null)


def _fill_down(frame: pl.DataFrame, fields: list[str], carry: pl.DataFrame | None) -> pl.DataFrame:
    fields = [f for f in fields if frame[f].null_count()]  # a field never left empty is filled already
    if not fields or frame.is_empty():
        return frame
    marker = "__spd_carry"
    parts = [frame.with_columns(pl.lit(False).alias(marker))]
    if carry is not None and not carry.is_empty():
        head = carry.select("order_id", *fields).with_columns(pl.lit(True).alias(marker))
        parts.insert(0, head)
    both = pl.concat(parts, how="diagonal_relaxed")
    filled = both.with_columns(pl.col(f).forward_fill().over("order_id") for f in fields)
    return filled.filter(~pl.col(marker)).drop(marker).select(frame.columns)

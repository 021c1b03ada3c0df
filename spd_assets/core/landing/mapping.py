"""Which column of a shop's export holds each of spd's fields: aliases, ``--map``, mapping.toml/json.

Real exports never use spd's names (Shopify writes "Lineitem price", WooCommerce "Item Cost"), so a
mapping is proposed from known aliases, can be given or corrected field by field, and is kept in a
file for the next export; the same mapping applies to files dropped into the landing folder.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

from .statuses import DEFAULT_EXCLUDED
from .validate import LandingFileError

FIELDS = ("order_id", "date", "sku", "region", "qty", "price", "revenue", "status", "category", "currency")
NEEDED = ("date", "sku", "qty", "price")  # the rest are derived (order_id, region) or optional
MAPPING_FILES = ("mapping.toml", "mapping.json")  # in the landing folder: applied to files dropped there
# Known export column names per field, best first, compared after normalize(): lower case, words only.
ALIASES: dict[str, tuple[str, ...]] = {
    "order_id": ("order id", "order number", "order no", "order", "name", "id"),
    "date": (
        "date",
        "ts",
        "order date",
        "purchase date",
        "created at",
        "date created",
        "order created at",
        "created",
        "timestamp",
        "order timestamp",
        "paid at",
    ),
    "sku": ("sku", "lineitem sku", "product sku", "item sku", "variant sku"),
    "region": ("region", "shipping country", "billing country", "country", "shipping region", "ship country"),
    "qty": ("qty", "quantity", "lineitem quantity", "item quantity", "qty ordered", "units"),
    "price": ("price", "unit price", "lineitem price", "item cost", "item price", "price per unit"),
    "revenue": ("revenue", "line total", "item total", "line subtotal", "lineitem total"),
    "status": ("status", "financial status", "order status", "payment status"),
    "category": ("category", "product category", "product type"),
    "currency": ("currency", "order currency"),
}
ORDER_LEVEL = ("date", "region", "status", "currency")  # written on an order's first line only by Shopify


def normalize(name: str) -> str:
    """A column name compared to aliases: lower case, runs of other characters as one space."""
    return re.sub(r"[^a-z0-9]+", " ", name.lower()).strip()


@dataclass(frozen=True)
class Mapping:
    """Field -> the export's column, plus how statuses and money are read."""

    columns: dict[str, str] = field(default_factory=dict)
    exclude_status: tuple[str, ...] = DEFAULT_EXCLUDED
    decimal: str | None = None  # "." or ","; None: detected per file

    def missing(self) -> list[str]:
        return [f for f in NEEDED if f not in self.columns]

    def with_columns(self, columns: dict[str, str]) -> Mapping:
        return replace(self, columns={**self.columns, **columns})


def propose(columns: Iterable[str]) -> dict[str, str]:
    """The export's column for each field that a known alias finds (each column used once)."""
    by_name: dict[str, str] = {}
    for col in columns:
        by_name.setdefault(normalize(col), col)
    chosen: dict[str, str] = {}
    for name in FIELDS:
        for alias in ALIASES[name]:
            col = by_name.get(alias)
            if col is not None and col not in chosen.values():
                chosen[name] = col
                break
    return chosen


def resolve(mapping: Mapping, columns: list[str]) -> Mapping:
    """The mapping for a file with ``columns``: given fields first, then aliases for the rest.

    A given column the file lacks falls back to the field's own name, so the files ``spd import``
    wrote (in spd's names) pass through the landing folder's mapping unchanged.
    """
    lower = {c.strip().lower(): c for c in columns}
    given = {f: (c if c in columns else lower.get(f, c)) for f, c in mapping.columns.items()}
    proposed = {f: c for f, c in propose(columns).items() if f not in given and c not in given.values()}
    return replace(mapping, columns={**proposed, **given})


def parse_map_args(items: Iterable[str]) -> dict[str, str]:
    """``["date=Purchase Date", ...]`` (``--map FIELD=COLUMN``) as a dict; an unknown field is an error."""
    out: dict[str, str] = {}
    for item in items:
        name, sep, column = item.partition("=")
        name, column = name.strip().lower(), column.strip().strip('"')
        if not sep or not column:
            raise ValueError(f'--map {item!r}: expected FIELD=COLUMN, e.g. date="Purchase Date"')
        if name not in FIELDS:
            raise ValueError(f"--map {item!r}: {name!r} is not a field; fields are {', '.join(FIELDS)}")
        out[name] = column
    return out


def check_columns(mapping: Mapping, columns: list[str], file: str) -> None:
    """Every mapped column exists and the needed fields are mapped, or one message with what was found."""
    absent = {f: c for f, c in mapping.columns.items() if c not in columns}
    missing = mapping.missing()
    if absent or missing:
        parts = [f"{f} -> {c!r} is not a column" for f, c in absent.items()]
        if missing:
            parts.append(f"no column found for {', '.join(missing)} (give it with --map FIELD=COLUMN)")
        found = ", ".join(repr(c) for c in columns) or "none"
        raise LandingFileError(file, f"cannot be mapped: {'; '.join(parts)}; columns found: {found}")


def load(path: str | Path) -> Mapping:
    """A mapping file (.toml or .json): ``[columns]`` field = "column", ``exclude_status``, ``decimal``."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
        data = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    except (OSError, ValueError) as exc:
        raise LandingFileError(str(path), f"is not a readable mapping file ({exc})") from None
    columns = data.get("columns", {})
    unknown = [f for f in columns if f not in FIELDS]
    if unknown or not isinstance(columns, dict):
        raise LandingFileError(str(path), f"unknown field(s) {unknown}; fields are {', '.join(FIELDS)}")
    decimal = data.get("decimal")
    if decimal not in (None, ".", ","):
        raise LandingFileError(str(path), f"decimal must be '.' or ',', not {decimal!r}")
    exclude = tuple(s.strip().lower() for s in data.get("exclude_status", DEFAULT_EXCLUDED))
    return Mapping(columns={k: str(v) for k, v in columns.items()}, exclude_status=exclude, decimal=decimal)


def save(mapping: Mapping, path: str | Path) -> None:
    """Write a mapping file that ``load`` reads back (TOML unless the name ends in .json)."""
    path = Path(path)
    if path.suffix == ".json":
        data = {"columns": mapping.columns, "exclude_status": list(mapping.exclude_status)}
        if mapping.decimal:
            data["decimal"] = mapping.decimal
        path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        return
    lines = [f"exclude_status = {json.dumps(list(mapping.exclude_status))}"]
    if mapping.decimal:
        lines.append(f"decimal = {json.dumps(mapping.decimal)}")
    lines += ["", "[columns]", *(f"{k} = {json.dumps(v)}" for k, v in mapping.columns.items())]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def landing_mapping(landing_dir: str | Path) -> Mapping | None:
    """The landing folder's mapping.toml (or .json), if it has one."""
    for name in MAPPING_FILES:
        if (Path(landing_dir) / name).is_file():
            return load(Path(landing_dir) / name)
    return None

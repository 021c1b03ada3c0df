"""The first sheet of an .xlsx export, streamed with the standard library (no spreadsheet dependency).

Cells come back as text, as from a CSV: shared and inline strings as written, numbers as Excel stores
them (a date cell is a serial day number, converted when the cell's style is a date format).
"""

from __future__ import annotations

import datetime as dt
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from xml.etree.ElementTree import iterparse

import polars as pl

from .validate import LINE, LandingFileError

_NS = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_DATE_FORMAT_IDS = {14, 15, 16, 17, 22, 45, 46, 47}
_EPOCH = dt.datetime(1899, 12, 30)


def _open(path: Path) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise LandingFileError(str(path), f"is not a readable .xlsx file ({exc})") from None


def _shared(book: zipfile.ZipFile) -> list[str]:
    if "xl/sharedStrings.xml" not in book.namelist():
        return []
    out = []
    with book.open("xl/sharedStrings.xml") as handle:
        for _, elem in iterparse(handle):
            if elem.tag == f"{_NS}si":
                out.append("".join(t.text or "" for t in elem.iter(f"{_NS}t")))
                elem.clear()
    return out


def _date_styles(book: zipfile.ZipFile) -> set[int]:
    """Indexes of cell styles that format a number as a date."""
    if "xl/styles.xml" not in book.namelist():
        return set()
    custom, styles = set(), []
    with book.open("xl/styles.xml") as handle:
        for _, elem in iterparse(handle):
            if elem.tag == f"{_NS}numFmt" and re.search(r"[dy]", elem.get("formatCode", "").lower()):
                custom.add(int(elem.get("numFmtId", "0")))
            elif elem.tag == f"{_NS}cellXfs":
                styles = [int(x.get("numFmtId", "0")) for x in elem.findall(f"{_NS}xf")]
    return {i for i, f in enumerate(styles) if f in _DATE_FORMAT_IDS | custom}


def _column(ref: str) -> int:
    n = 0
    for ch in re.match(r"[A-Z]+", ref).group(0):  # type: ignore[union-attr]
        n = n * 26 + ord(ch) - 64
    return n - 1


def _rows(path: Path) -> Iterator[tuple[int, list[str | None]]]:
    book = _open(path)
    shared, dates = _shared(book), _date_styles(book)
    with book.open("xl/worksheets/sheet1.xml") as handle:
        for _, elem in iterparse(handle):
            if elem.tag != f"{_NS}row":
                continue
            cells: dict[int, str | None] = {}
            for c in elem.iter(f"{_NS}c"):
                kind, value = c.get("t"), c.findtext(f"{_NS}v")
                if kind == "s" and value is not None:
                    value = shared[int(value)]
                elif kind == "inlineStr":
                    value = "".join(t.text or "" for t in c.iter(f"{_NS}t"))
                elif value is not None and int(c.get("s", "0")) in dates:
                    stamp = _EPOCH + dt.timedelta(days=float(value))
                    value = stamp.date().isoformat() if float(value).is_integer() else stamp.isoformat()
                cells[_column(c.get("r", "A1"))] = value
            width = max(cells, default=-1) + 1
            yield int(elem.get("r", "0")), [cells.get(i) for i in range(width)]
            elem.clear()


def xlsx_header(path: Path) -> list[str]:
    for _, row in _rows(path):
        return [c or "" for c in row]
    raise LandingFileError(str(path), "is empty")


def xlsx_batches(path: Path, batch_rows: int) -> Iterator[pl.DataFrame]:
    """The sheet's rows under its header, as text, with their row numbers (header = row 1)."""
    rows = _rows(path)
    _, header = next(rows)
    names = [c or f"column_{i + 1}" for i, c in enumerate(header)]
    buffer: list[list[str | None]] = []
    lines: list[int] = []

    def frame() -> pl.DataFrame:
        data = {n: [r[i] if i < len(r) else None for r in buffer] for i, n in enumerate(names)}
        return pl.DataFrame(data, schema=dict.fromkeys(names, pl.String)).with_columns(
            pl.Series(LINE, lines, pl.Int64)
        )

    for line, row in rows:
        if not any(v not in (None, "") for v in row):
            continue
        buffer.append(row)
        lines.append(line)
        if len(buffer) >= batch_rows:
            yield frame()
            buffer, lines = [], []
    yield frame()

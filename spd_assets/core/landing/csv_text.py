"""Whole-file checks on a CSV's bytes before and after polars parses it: what cannot be UTF-8 CSV
(empty, UTF-16/32, Parquet, binary, another separator, a column named twice), the exact line of a
bad byte or of a row with too many fields, and the newline count that tells whether any field holds one.
"""

from __future__ import annotations

import csv
import io
import mmap

import numpy as np

from .validate import LandingFileError

BLOCK = 1 << 22  # bytes scanned at a time by the whole-file checks (stays in cache)
_BOMS = {
    b"\xff\xfe\x00\x00": "UTF-32",
    b"\x00\x00\xfe\xff": "UTF-32",
    b"\xff\xfe": "UTF-16",
    b"\xfe\xff": "UTF-16",
}


def guard_text(data: bytes | mmap.mmap, file: str) -> None:
    """Reject what cannot be UTF-8 CSV before polars tries: empty, UTF-16/32, Parquet, binary."""
    blocks = (data[i : i + BLOCK] for i in range(0, len(data), BLOCK))
    if not data or all(block.isspace() for block in blocks):  # stops at the first block with text
        raise LandingFileError(file, "is empty")
    head = data[:4]
    for bom, encoding in _BOMS.items():
        if head.startswith(bom):
            raise LandingFileError(file, f"is {encoding} text, not UTF-8; save the export as UTF-8")
    if head.startswith(b"PAR1"):
        raise LandingFileError(file, "is a Parquet file, not CSV; give it the .parquet extension")
    if data.find(b"\x00") >= 0:
        raise LandingFileError(
            file, "contains NUL bytes: not CSV text (a binary file, or UTF-16 without BOM?)"
        )


def encoding_error(data: bytes, file: str) -> LandingFileError | None:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        return LandingFileError(
            file, f"is not UTF-8 text (byte 0x{data[exc.start]:02x} on line {line}); save the export as UTF-8"
        )
    return None


def ragged_lines(data: bytes, file: str, height: int) -> tuple[list[int], list[str | None]]:
    """Exact line numbers and a 'too many fields' marker per record, for a CSV with ragged rows."""
    reader = csv.reader(io.TextIOWrapper(io.BytesIO(data), encoding="utf-8-sig", newline=""))
    width = len(next(reader))
    lines, marks, start = [], [], reader.line_num + 1
    for record in reader:
        lines.append(start)
        marks.append(f"{len(record)} fields" if len(record) > width else None)
        start = reader.line_num + 1
    if len(lines) != height:
        raise LandingFileError(file, "is not well-formed CSV: some rows have more fields than the header")
    return lines, marks


def check_header(columns: list[str], file: str) -> list[str]:
    """Catch the header problems polars lets through: another separator, a column named twice."""
    if len(columns) == 1:
        for sep, name in ((";", "semicolons"), ("\t", "tabs"), ("|", "pipes")):
            if sep in columns[0]:
                raise LandingFileError(
                    file, f"is separated by {name}, not commas; export it as comma-separated CSV"
                )
    for name in columns:
        base, dup, _ = name.rpartition("_duplicated_")
        if dup and base in columns:
            raise LandingFileError(file, f"column {base!r} appears more than once in the header")
    return columns


def count_newlines(data: bytes | mmap.mmap) -> int:
    """The newline bytes in ``data``, counted by numpy a block at a time (a quarter of bytes.count)."""
    view = np.frombuffer(data, np.uint8)
    return sum(int(np.count_nonzero(view[i : i + BLOCK] == 10)) for i in range(0, len(view), BLOCK))

"""Money as exports write it: "$1,234.50", "1.234,50 €", "EUR 12.00"; the format is detected per file.

Revenue must be right to the cent, so a format that cannot be told apart ("1,234": a thousand or
1.234?) is never guessed: the file asks for ``--decimal``. A file in several currencies fails (spd
sums one currency).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import polars as pl

from .validate import LandingFileError

SYMBOLS = {"$": "USD", "€": "EUR", "£": "GBP", "¥": "JPY", "₹": "INR", "₩": "KRW", "R$": "BRL"}
_CODE = r"\b[A-Z]{3}\b"
_NOISE = r"[A-Za-z$€£¥₹₩\s\u00a0\u202f']"  # symbols, codes, (non-breaking) spaces, Swiss apostrophes
_NUMBER = r"^-?\d+(\.\d+)?$"


def _votes(value: str) -> tuple[str | None, bool]:
    """(the decimal separator this value proves, or None; whether it is ambiguous)."""
    digits = re.sub(_NOISE, "", value)
    dot, comma = digits.rfind("."), digits.rfind(",")
    if dot >= 0 and comma >= 0:
        return ("." if dot > comma else ","), False
    sep = "." if dot >= 0 else "," if comma >= 0 else None
    if sep is None:
        return None, False
    tail = digits[digits.rfind(sep) + 1 :]
    if digits.count(sep) > 1:  # "1,234,567": several thousands separators
        return ("," if sep == "." else "."), False
    if len(tail) == 3:
        return None, True  # "1,234" or "1.234": a thousand, or three decimals
    return sep, False


def detect_decimal(values: Iterable[str | None], file: str) -> str:
    """The file's decimal separator from its money columns; raises when they disagree or cannot tell."""
    seen: dict[str, str] = {}
    ambiguous = None
    for value in values:
        if not value:
            continue
        sep, unsure = _votes(value)
        if sep and sep not in seen:
            seen[sep] = value
        ambiguous = ambiguous or (value if unsure else None)
    if len(seen) > 1:
        raise LandingFileError(
            file, f"money is written both as {seen['.']!r} and {seen[',']!r}; pass --decimal . or --decimal ,"
        )
    if seen:
        return next(iter(seen))
    if ambiguous:
        raise LandingFileError(
            file, f"cannot tell whether {ambiguous!r} uses a decimal comma; pass --decimal , or --decimal ."
        )
    return "."


def parse_money(expr: pl.Expr, decimal: str) -> pl.Expr:
    """Money text as a plain number text ("1234.50"); what does not parse stays as written (quarantined)."""
    thousands = "," if decimal == "." else "."
    digits = expr.str.replace_all(_NOISE, "").str.replace_all(thousands, "", literal=True)
    if decimal == ",":
        digits = digits.str.replace_all(",", ".", literal=True)
    return pl.when(digits.str.contains(_NUMBER)).then(digits).otherwise(expr)


def currencies(expr: pl.Expr) -> pl.Expr:
    """The currency codes a money text names (symbols as codes), as a list per row."""
    symbol = "|".join(re.escape(s) for s in sorted(SYMBOLS, key=len, reverse=True))
    found = expr.str.extract_all(f"{symbol}|{_CODE}")
    return found.list.eval(pl.element().replace(SYMBOLS))


def check_one_currency(found: set[str], file: str) -> None:
    """spd sums one currency: a file naming several fails with their names."""
    if len(found) > 1:
        raise LandingFileError(
            file,
            f"holds amounts in {len(found)} currencies ({', '.join(sorted(found))}); spd sums one currency: "
            "split the export by currency or convert it first",
        )

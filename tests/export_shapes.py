"""Exports in the shapes real shops produce, written by the tests, with the truth they must import to."""

from __future__ import annotations

import csv
import datetime as dt
import random
from dataclasses import dataclass, field
from pathlib import Path

EXCLUDED = {"cancelled", "refunded", "voided", "failed"}


@dataclass
class Truth:
    """Per day: counted revenue in cents and lines, cancelled revenue in cents and lines."""

    counted_cents: dict[dt.date, int] = field(default_factory=dict)
    counted_lines: dict[dt.date, int] = field(default_factory=dict)
    cancelled_cents: dict[dt.date, int] = field(default_factory=dict)
    cancelled_lines: dict[dt.date, int] = field(default_factory=dict)

    def add(self, day: dt.date, cents: int, status: str) -> None:
        kind = "cancelled" if status.lower() in EXCLUDED else "counted"
        for name, value in ((f"{kind}_cents", cents), (f"{kind}_lines", 1)):
            table = getattr(self, name)
            table[day] = table.get(day, 0) + value


def _orders(days: list[dt.date], statuses: list[str], seed: int):
    """(order number, day, hour, lines [(sku, qty, unit cents)], status) for a few orders a day."""
    rng = random.Random(seed)
    number = 1000
    for day in days:
        for _ in range(rng.randint(6, 10)):
            number += 1
            skus = rng.sample([f"SKU-{i:04d}" for i in range(1, 9)], rng.randint(1, 3))
            lines = [(s, rng.randint(1, 4), rng.randint(150, 250_000)) for s in skus]
            yield number, day, rng.randint(0, 23), lines, rng.choice(statuses)


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def shopify(path: Path, days: list[dt.date]) -> Truth:
    """Line items; order-level fields (status, time, currency, country) on the first line only."""
    header = [
        "Name",
        "Email",
        "Financial Status",
        "Paid at",
        "Currency",
        "Total",
        "Created at",
        "Lineitem quantity",
        "Lineitem name",
        "Lineitem price",
        "Lineitem sku",
        "Shipping Country",
    ]
    truth, rows = Truth(), []
    for number, day, hour, lines, status in _orders(
        days, ["paid", "paid", "pending", "refunded", "voided"], 1
    ):
        total = sum(q * c for _, q, c in lines)
        for i, (sku, qty, cents) in enumerate(lines):
            first = i == 0
            created = f"{day} {hour:02d}:15:00 -0500"
            rows.append(
                [
                    f"#{number}",
                    "a@b.c" if first else "",
                    status if first else "",
                    created if first else "",
                    "USD" if first else "",
                    f"{total / 100:.2f}" if first else "",
                    created if first else "",
                    str(qty),
                    f"Item {sku}",
                    f"{cents / 100:.2f}",
                    sku,
                    ("US" if number % 2 else "CA") if first else "",
                ]
            )
            truth.add(day, qty * cents, status)
    write_csv(path, header, rows)
    return truth


def woocommerce(path: Path, days: list[dt.date]) -> Truth:
    """One row per item; statuses as WooCommerce names them; money as "1.234,50 €"."""
    header = [
        "Order ID",
        "Order Number",
        "Order Date",
        "Order Status",
        "Shipping Country",
        "Item #",
        "SKU",
        "Item Name",
        "Quantity",
        "Item Cost",
    ]
    truth, rows = Truth(), []
    statuses = ["Completed", "Processing", "Completed", "Cancelled", "Failed", "On hold"]
    for number, day, hour, lines, status in _orders(days, statuses, 2):
        for i, (sku, qty, cents) in enumerate(lines):
            euros, rest = divmod(cents, 100)
            money = f"{euros:,}".replace(",", ".") + f",{rest:02d} €"
            rows.append(
                [
                    str(number),
                    str(number),
                    f"{day} {hour:02d}:30",
                    status,
                    "DE",
                    str(i + 1),
                    sku,
                    f"Item {sku}",
                    str(qty),
                    money,
                ]
            )
            truth.add(day, qty * cents, status)
    write_csv(path, header, rows)
    return truth


def spreadsheet(path: Path, days: list[dt.date]) -> Truth:
    """A finance team's sheet: no order id, no region, money as "$1,234.50", times with offsets."""
    header = ["Purchase Date", "SKU", "Quantity", "Unit Price", "Order Status", "Note"]
    truth, rows = Truth(), []
    for _, day, hour, lines, status in _orders(days, ["Complete", "Complete", "Cancelled"], 3):
        for sku, qty, cents in lines:
            rows.append(
                [
                    f"{day}T{hour:02d}:05:00+02:00",
                    sku,
                    str(qty),
                    f"${cents / 100:,.2f}",
                    status,
                    "line one\nline two" if qty == 4 else "",
                ]
            )
            truth.add(day, qty * cents, status)
    write_csv(path, header, rows)
    return truth


def write_catalog(path: Path) -> Path:
    """The shop's catalog.csv: the SKUs the exports sell, in three categories."""
    rows = [[f"SKU-{i:04d}", ("toys", "books", "garden")[i % 3], "10.00"] for i in range(1, 9)]
    return write_csv(path, ["sku", "category", "price"], rows)

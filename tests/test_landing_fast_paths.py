"""The landing path's shortcuts for big files give exactly what the general rules give.

A day file of a million lines is read with a few shortcuts (one fixed timestamp format for the rows
that are written plainly, line numbers without scanning the fields, duplicate pairs found by hash):
each must agree with the slow, general rule on every row, including the ones that fall back to it.
"""

from __future__ import annotations

import datetime as dt
import random

import polars as pl
import pytest

from spd_assets.core.landing.files import read_orders_file
from spd_assets.core.landing.timestamps import _parsed_text, with_when
from spd_assets.core.landing.validate import validate_orders

MIXED = [
    "2026-11-27 10:15:00",
    "2026-11-27T23:59:59",
    " 2026-11-27 10:15:00 ",
    "2026-02-30 10:00:00",  # plain in shape, no such day
    "2026-03-29 02:30:00",  # does not exist in Berlin (clocks go forward)
    "2026-11-01 01:30:00",  # happens twice in New York
    "2026-11-27",
    "2026-11-27 10:15:00 -0500",
    "2026-11-27T10:15:00Z",
    "2026-11-27 10:15:00 Europe/Berlin",
    "",
    None,
    "garbage",
    "2026-11-27 10:15",
    "2026-1-27 10:15:00",
    "2026-11-27 10:15:00.123",
]


@pytest.mark.parametrize("timezone", [None, "America/New_York", "Europe/Berlin", "Asia/Kolkata"])
def test_plain_timestamps_parse_as_the_general_rules_do_in_any_order(timezone) -> None:
    rng = random.Random(5)
    frame = pl.DataFrame({"w": [rng.choice(MIXED) for _ in range(2_000)]}, schema={"w": pl.String})
    fast = with_when(frame, "w", pl.String, "x_", timezone)
    general = _parsed_text(frame, "w", pl.String, "x_", timezone)
    assert fast.columns == general.columns
    assert fast.equals(general)
    assert fast["x_ts"].null_count() < frame.height  # the case is not vacuous: most rows parse
    plain = frame.filter(pl.col("w").str.len_bytes() == 19)
    assert with_when(plain, "w", pl.String, "x_", timezone).equals(
        _parsed_text(plain, "w", pl.String, "x_", timezone)
    )


def _day_file(tmp_path, body: str):
    path = tmp_path / "orders_2026-03-02.csv"
    path.write_text("order_id,ts,sku,region,qty,price\n" + body)
    return path


def test_line_numbers_count_quoted_newlines_and_blank_lines(tmp_path) -> None:
    body = (
        'A1,2026-03-02 09:00:00,S1,"North\nEast",1,2.50\n'  # a newline inside a field
        "A2,2026-03-02 09:01:00,S1,West,1,2.50\n"
        "\n"
        ",,,,,\n"
        "A3,2026-03-02 09:02:00,S2,West,x,2.50\n"
    )
    raw, _ = read_orders_file(_day_file(tmp_path, body))
    assert raw["order_id"].to_list() == ["A1", "A2", "A3"]
    assert raw["__line"].to_list() == [2, 4, 7]
    plain, _ = read_orders_file(_day_file(tmp_path, "A1,2026-03-02 09:00:00,S1,West,1,2.5\nA2,x,S1,W,1,1"))
    assert plain["__line"].to_list() == [2, 3]


def test_a_repeated_pair_is_quarantined_at_its_own_line_and_a_bad_row_claims_no_pair() -> None:
    day = dt.date(2026, 3, 2)
    raw = pl.DataFrame(
        {
            "order_id": ["A", "A", "B", "B", "C", "C", "A"],
            "ts": ["2026-03-02 10:00:00"] * 7,
            "sku": ["S1", "S2", "S1", "S1", "S1", "S1", "S1"],
            "region": ["W"] * 7,
            "qty": ["1", "1", "1", "1", "nope", "1", "1"],
            "price": ["2.00"] * 7,
        }
    )
    checked = validate_orders(raw, day, "orders_2026-03-02.csv")
    q = checked.quarantine.sort("line")
    assert q["line"].to_list() == [5, 6, 8]  # B/S1 again, C's bad qty, A/S1 again
    assert q["reason"].to_list() == [
        "duplicate order_id and sku",
        "qty is not a number",
        "duplicate order_id and sku",
    ]
    # C/S1 on line 6 was bad, so line 7's C/S1 is the first valid one and is kept.
    assert checked.orders.select("order_id", "sku").rows() == [
        ("A", "S1"),
        ("A", "S2"),
        ("B", "S1"),
        ("C", "S1"),
    ]

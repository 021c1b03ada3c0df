"""A day file too big to hold (ten million lines) is validated in batches with the same result as
the whole-file rules: same orders, same quarantine lines and reasons, same errors.

The batches are made tiny here (a few rows), so every cross-batch case happens in a small file.
"""

from __future__ import annotations

import datetime as dt

import export_shapes
import polars as pl
import pytest

from spd_assets.core.landing import big_files, files
from spd_assets.core.landing import mapping as maps
from spd_assets.core.landing.validate import LandingFileError

DAY = dt.date.today() - dt.timedelta(days=3)
HEADER = "order_id,ts,sku,region,qty,price,status\n"


def _rows(n: int) -> list[str]:
    rows = [f"A{i // 3},{DAY} 10:{i % 60:02d}:00,S{i % 3},West,1,2.50,paid\n" for i in range(n)]
    rows[6] = f"A1,{DAY} 11:00:00,S1,West,1,2.50,paid\n"  # the pair of line 6, in the next batch
    rows[9] = f"A9,{DAY} 11:00:00,S1,West,two,2.50,paid\n"  # a bad quantity
    rows[13] = f"A2,{DAY} 11:00:00,S2,East,1,2.50,refunded\n"  # the pair of line 10, a batch on
    rows[17] = f"A17,{DAY - dt.timedelta(days=1)} 23:59:00,S1,West,1,2.50,paid\n"  # another day
    return rows


def _both(tmp_path, monkeypatch, text: str):
    path = tmp_path / files.daily_file_name(DAY)
    path.write_text(text)
    whole = files.load_day(tmp_path, DAY)
    monkeypatch.setattr(files, "WHOLE_FILE_BYTES", 0)
    monkeypatch.setattr(big_files, "BIG_BATCH_ROWS", 5)
    batched = files.load_day(tmp_path, DAY)
    monkeypatch.undo()
    return whole, batched


def _same(whole, batched) -> None:
    assert batched.orders.equals(whole.orders)
    assert batched.quarantine.equals(whole.quarantine)
    assert batched.report == whole.report


def test_batches_give_the_whole_file_result_with_repeats_across_batches(tmp_path, monkeypatch) -> None:
    whole, batched = _both(tmp_path, monkeypatch, HEADER + "".join(_rows(23)))
    _same(whole, batched)
    q = batched.quarantine
    assert q["line"].to_list() == [8, 11, 15, 19]
    assert q.filter(pl.col("reason") == "duplicate order_id and sku")["line"].to_list() == [8, 15]
    assert '"status":"refunded"' in q.filter(pl.col("line") == 15)["raw"].item()
    assert batched.report.rows_in == 23 and batched.report.rows_cancelled == 0


def test_a_newline_inside_a_field_and_blank_lines_keep_exact_line_numbers(tmp_path, monkeypatch) -> None:
    rows = _rows(23)
    rows[2] = f'A0,{DAY} 10:02:00,S2,"North\nWest",1,2.50,paid\n'
    rows.insert(7, "\n")
    rows.insert(8, ",,,,,,\n")
    whole, batched = _both(tmp_path, monkeypatch, HEADER + "".join(rows))
    _same(whole, batched)
    assert batched.quarantine["line"].to_list() == [9, 14, 18, 22]


def test_a_file_mostly_of_another_day_fails_as_a_whole_in_batches_too(tmp_path, monkeypatch) -> None:
    other = DAY - dt.timedelta(days=1)
    rows = [f"B{i},{other} 10:00:00,S1,West,1,2.50,paid\n" for i in range(30)] + _rows(23)
    path = tmp_path / files.daily_file_name(DAY)
    path.write_text(HEADER + "".join(rows))
    with pytest.raises(LandingFileError) as whole:
        files.load_day(tmp_path, DAY)
    monkeypatch.setattr(files, "WHOLE_FILE_BYTES", 0)
    monkeypatch.setattr(big_files, "BIG_BATCH_ROWS", 4)
    with pytest.raises(LandingFileError) as batched:
        files.load_day(tmp_path, DAY)
    assert str(batched.value) == str(whole.value)
    assert str(path) in str(batched.value) and "31 of 53 rows" in str(batched.value)


def test_a_mapped_export_fills_order_fields_down_across_batches(tmp_path, monkeypatch) -> None:
    maps.save(maps.Mapping(columns={"date": "Created at", "order_id": "Name"}), tmp_path / "mapping.toml")
    lines = []
    for n in range(7):  # Shopify: the order's date and status on its first line only
        for k in range(3):
            first = k == 0
            lines.append(
                [
                    f"#{1000 + n}",
                    f"{DAY} 09:00:00" if first else "",
                    f"S{k}",
                    "2",
                    "$1,000.25",
                    "paid" if first else "",
                    "DE" if first else "",
                ]
            )
    header = [
        "Name",
        "Created at",
        "Lineitem sku",
        "Lineitem quantity",
        "Lineitem price",
        "Financial Status",
        "Shipping Country",
    ]
    export_shapes.write_csv(tmp_path / files.daily_file_name(DAY), header, lines)
    whole = files.load_day(tmp_path, DAY)
    monkeypatch.setattr(files, "WHOLE_FILE_BYTES", 0)
    monkeypatch.setattr(big_files, "BIG_BATCH_ROWS", 4)  # orders straddle every batch boundary
    batched = files.load_day(tmp_path, DAY)
    _same(whole, batched)
    assert batched.orders.height == 21 and batched.quarantine.is_empty()
    assert round(batched.orders["revenue"].sum(), 2) == 21 * 2000.5

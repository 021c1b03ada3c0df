"""Row checks and whole-file checks on frames as a reader gives them (text columns, or typed Parquet)."""

import datetime as dt
import json

import polars as pl
import pytest

from spd_assets.core import schema
from spd_assets.core.landing.validate import LandingFileError, validate_orders

DAY = dt.date(2025, 3, 1)
NAME = "orders_2025-03-01.csv"
HEADER = "order_id,date,sku,region,qty,price"
GOOD = ["A1,2025-03-01,S1,us-east,2,10.00", "A2,2025-03-01,S2,eu-west,1,4.50"]


def check(rows: list[str], header: str = HEADER):
    text = "\n".join([header, *rows]) + "\n"
    return validate_orders(pl.read_csv(text.encode(), infer_schema=False), DAY, NAME)


def quarantined(result) -> list[tuple]:
    return result.quarantine.select("line", "order_id", "field", "reason").rows()


def test_clean_rows_are_kept_in_the_orders_schema_with_revenue_computed():
    result = check(GOOD)
    assert result.orders.schema == pl.Schema({**schema.ORDERS, **schema.ORDER_STATUS})
    assert result.orders.rows() == [
        ("A1", dt.datetime(2025, 3, 1, tzinfo=dt.UTC), DAY, "S1", "us-east", 2, 10.0, 20.0, None, True),
        ("A2", dt.datetime(2025, 3, 1, tzinfo=dt.UTC), DAY, "S2", "eu-west", 1, 4.5, 4.5, None, True),
    ]
    assert result.quarantine.is_empty()
    assert (result.report.rows_in, result.report.rows_kept, result.report.rows_quarantined) == (2, 2, 0)


@pytest.mark.parametrize(
    ("row", "field", "reason"),
    [
        ("B1,2025-03-01,S1,us-east,abc,10", "qty", "qty is not a number"),
        ("B1,2025-03-01,S1,us-east,,10", "qty", "qty is empty"),
        ("B1,2025-03-01,S1,us-east,0,10", "qty", "qty is not positive"),
        ("B1,2025-03-01,S1,us-east,-3,10", "qty", "qty is not positive"),
        ("B1,2025-03-01,S1,us-east,1.5,10", "qty", "qty is not a whole number"),
        ("B1,2025-03-01,S1,us-east,2,ten", "price", "price is not a number"),
        ("B1,2025-03-01,S1,us-east,2,NaN", "price", "price is not a number"),
        ("B1,2025-03-01,S1,us-east,2,-0.01", "price", "price is negative"),
        ("B1,2025-03-01,S1,us-east,2,", "price", "price is empty"),
        ("B1,2025-03-01,,us-east,2,10", "sku", "sku is empty"),
        ("B1,2025-03-01,S1,   ,2,10", "region", "region is empty"),
        (",2025-03-01,S1,us-east,2,10", "order_id", "order_id is empty"),
        ("B1,yesterday,S1,us-east,2,10", "date", "date does not parse"),
        ("B1,2025-02-30,S1,us-east,2,10", "date", "date does not parse"),
        ("B1,,S1,us-east,2,10", "date", "date is empty"),
        ("B1,2025-03-02,S1,us-east,2,10", "date", "date is not the file's day"),
    ],
)
def test_a_bad_value_quarantines_its_row_and_keeps_the_rest(row, field, reason):
    result = check([GOOD[0], row, GOOD[1]])
    assert result.orders["order_id"].to_list() == ["A1", "A2"]
    order_id = row.split(",")[0] or None
    assert quarantined(result) == [(3, order_id, field, reason)]
    assert result.report.problems == {reason: 1}
    assert result.report.rows_in == result.report.rows_kept + result.report.rows_quarantined == 3


def test_the_quarantined_row_keeps_the_original_values_as_json():
    result = check(["B1,2025-03-01,S1,us-east, x ,10"], header="Order_ID,Date,SKU,Region,Qty,Price")
    (raw,) = result.quarantine["raw"].to_list()
    assert json.loads(raw) == {
        "Order_ID": "B1",
        "Date": "2025-03-01",
        "SKU": "S1",
        "Region": "us-east",
        "Qty": " x ",
        "Price": "10",
    }
    assert result.quarantine.row(0, named=True) | {"raw": None} == {
        "date": DAY,
        "source_file": NAME,
        "line": 2,
        "order_id": "B1",
        "field": "qty",
        "reason": "qty is not a number",
        "raw": None,
    }


def test_every_problem_of_a_row_is_listed_in_one_quarantine_row():
    result = check(["B1,someday,,us-east,abc,-2"])
    assert quarantined(result) == [
        (
            2,
            "B1",
            "sku,qty,price,date",
            "sku is empty; qty is not a number; price is negative; date does not parse",
        )
    ]
    assert result.report.problems == {
        "date does not parse": 1,
        "price is negative": 1,
        "qty is not a number": 1,
        "sku is empty": 1,
    }


def test_a_duplicate_order_line_keeps_the_first_clean_row():
    rows = [
        "D1,2025-03-01,S1,us-east,x,10",  # bad: quarantined for its qty, not kept
        "D1,2025-03-01,S1,us-east,1,10",  # the first clean D1: kept
        "D2,2025-03-01,S2,us-east,1,10",
        "D1,2025-03-01,S3,us-east,2,10",  # another line of order D1: kept
        "D1,2025-03-01,S1,us-east,1,10",
    ]
    result = check(rows)
    assert result.orders.select("order_id", "sku").rows() == [("D1", "S1"), ("D2", "S2"), ("D1", "S3")]
    assert quarantined(result) == [
        (2, "D1", "qty", "qty is not a number"),
        (6, "D1", "order_id", "duplicate order_id and sku"),
    ]
    assert result.report.problems == {"duplicate order_id and sku": 1, "qty is not a number": 1}


def test_revenue_is_checked_against_qty_times_price_within_a_tolerance():
    header = HEADER + ",revenue"
    rows = [
        "R1,2025-03-01,S1,us-east,3,33.33,100.00",  # rounded unit price: 99.99, within a cent
        "R2,2025-03-01,S1,us-east,12,8.33,100.00",  # 99.96: within 0.5 %
        "R3,2025-03-01,S1,us-east,2,10,25.00",  # 20 expected: quarantined
        "R4,2025-03-01,S1,us-east,2,10,",  # empty: computed
        "R5,2025-03-01,S1,us-east,2,10,lots",
        "R6,2025-03-01,S1,us-east,x,10,25.00",  # qty is the problem; revenue is not compared
    ]
    result = check(rows, header=header)
    assert result.orders.select("order_id", "revenue").rows() == [("R1", 100.0), ("R2", 100.0), ("R4", 20.0)]
    assert quarantined(result) == [
        (4, "R3", "revenue", "revenue differs from qty × price"),
        (6, "R5", "revenue", "revenue is not a number"),
        (7, "R6", "qty", "qty is not a number"),
    ]


def test_column_names_are_case_insensitive_in_any_order_and_extra_columns_are_ignored():
    header = " PRICE ,Qty,Region,Sku,Notes,Date,Order_Id"
    result = check(["10,2,us-east,S1,gift wrap,2025-03-01,A1"], header=header)
    assert result.orders.select("order_id", "sku", "qty", "price").rows() == [("A1", "S1", 2, 10.0)]


def test_ts_is_accepted_for_date_and_timestamps_keep_the_day_written():
    rows = [
        "T1,2025-03-01T10:15:00Z,S1,us-east,1,10",
        "T2,2025-03-01 10:15:00.250,S1,us-east,1,10",
        "T3,2025-03-01T23:30:00-05:00,S1,us-east,1,10",  # local time: its own day, ts in UTC
        "T4,2025-03-01,S1,us-east,1,10",
    ]
    result = check(rows, header="order_id,ts,sku,region,qty,price")
    assert result.orders.select("ts", "date").rows() == [
        (dt.datetime(2025, 3, 1, 10, 15, tzinfo=dt.UTC), DAY),
        (dt.datetime(2025, 3, 1, 10, 15, 0, 250000, tzinfo=dt.UTC), DAY),
        (dt.datetime(2025, 3, 2, 4, 30, tzinfo=dt.UTC), DAY),
        (dt.datetime(2025, 3, 1, tzinfo=dt.UTC), DAY),
    ]
    bad = check(["T5,soon,S1,us-east,1,10", *GOOD[:1]], header="order_id,ts,sku,region,qty,price")
    assert quarantined(bad) == [(2, "T5", "ts", "ts does not parse")]


def test_with_both_date_and_ts_the_date_is_the_day_and_ts_the_time():
    header = HEADER + ",ts"
    rows = [
        "A1,2025-03-01,S1,us-east,1,10,2025-03-01T08:00:00",
        "A2,2025-03-01,S1,us-east,1,10,",
        "A3,2025-03-01,S1,us-east,1,10,later",
    ]
    result = check(rows, header=header)
    assert result.orders.select("order_id", "ts").rows() == [
        ("A1", dt.datetime(2025, 3, 1, 8, tzinfo=dt.UTC)),
        ("A2", dt.datetime(2025, 3, 1, tzinfo=dt.UTC)),
    ]
    assert quarantined(result) == [(4, "A3", "ts", "ts does not parse")]


def test_a_missing_required_column_is_a_whole_file_error_naming_it():
    with pytest.raises(LandingFileError) as err:
        check(["A1,2025-03-01,S1,us-east,10"], header="order_id,date,sku,region,price")
    assert str(err.value) == (
        f"{NAME}: required column 'qty' is missing; "
        "columns found: 'order_id', 'date', 'sku', 'region', 'price'"
    )
    with pytest.raises(LandingFileError) as err:
        check(["A1,S1,10"], header="order_id,sku,price")
    assert str(err.value) == (
        f"{NAME}: required columns 'date' (or 'ts'), 'region', 'qty' are missing; "
        "columns found: 'order_id', 'sku', 'price'"
    )


def test_a_column_given_twice_in_different_case_is_a_whole_file_error():
    with pytest.raises(LandingFileError, match=r"column 'qty' appears 2 times \(\['qty', 'QTY'\]\)"):
        check(["A1,2025-03-01,S1,us-east,1,1,10"], header="order_id,date,sku,region,qty,QTY,price")


def test_a_file_mostly_dated_another_day_is_a_whole_file_error():
    rows = [r.replace("2025-03-01", "2025-03-02") for r in GOOD] + [GOOD[0].replace("A1", "A9")]
    with pytest.raises(LandingFileError) as err:
        check(rows)
    assert str(err.value) == (
        f"{NAME}: 2 of 3 rows are dated 2025-03-02, not 2025-03-01 (the day in the file's name; "
        "first at line 2, date='2025-03-02')"
    )


def test_typed_columns_from_parquet_are_validated_the_same_way():
    raw = pl.DataFrame(
        {
            "order_id": [1, 2, 2],
            "ts": [dt.datetime(2025, 3, 1, 9), dt.datetime(2025, 3, 1, 10), dt.datetime(2025, 3, 1, 11)],
            "sku": ["S1", "S2", "S3"],
            "region": ["us-east", None, "apac"],
            "qty": [1, 2, 3],
            "price": [5.0, 6.0, 7.0],
        }
    ).with_row_index("__line", offset=1)
    result = validate_orders(
        raw.with_columns(pl.col("__line").cast(pl.Int64)), DAY, "orders_2025-03-01.parquet"
    )
    assert result.orders.select("order_id", "ts", "sku").rows() == [
        ("1", dt.datetime(2025, 3, 1, 9, tzinfo=dt.UTC), "S1"),
        ("2", dt.datetime(2025, 3, 1, 11, tzinfo=dt.UTC), "S3"),
    ]
    assert quarantined(result) == [(2, "2", "region", "region is empty")]


def test_rows_in_always_equal_rows_kept_plus_rows_quarantined():
    day = ["2025-03-02" if i % 7 == 0 else "2025-03-01" for i in range(60)]
    rows = [f"O{i % 50},{day[i]},S{i % 4},{'' if i % 5 == 0 else 'r'},{i % 4},{i % 3 - 1}" for i in range(60)]
    result = check(rows)
    assert 0 < result.orders.height < 60
    assert result.orders.height + result.quarantine.height == 60
    lines = result.quarantine["line"].to_list() + result.orders.height * [None]
    assert len(set(result.quarantine["line"])) == result.quarantine.height  # one row each, never two
    assert len(lines) == 60
    assert result.orders["order_id"].is_unique().all()
    assert (result.orders["qty"] > 0).all() and (result.orders["price"] >= 0).all()

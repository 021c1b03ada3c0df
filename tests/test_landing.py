"""The landing folder on real files: naming, reading CSV/Parquet, whole-file errors, the catalog, scanning."""

import datetime as dt
import os
from pathlib import Path

import polars as pl
import pytest
from conftest import SMALL

from spd_assets.core import schema
from spd_assets.core.landing.catalog import landing_catalog, read_catalog_file
from spd_assets.core.landing.files import check_day, day_of, load_day
from spd_assets.core.landing.folder import FileState, scan_landing
from spd_assets.core.landing.validate import LandingFileError
from spd_assets.core.settings import SettingsError, load_settings
from spd_assets.core.synthetic.orders import generate_day

DAY = dt.date(2025, 3, 1)
HEADER = b"order_id,date,sku,region,qty,price\n"
ROW = b"A1,2025-03-01,S1,us-east,2,10\n"


def write(folder: Path, data: bytes, name: str = "orders_2025-03-01.csv") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(data)
    return path


def whole_file_error(folder: Path) -> str:
    with pytest.raises(LandingFileError) as err:
        load_day(folder, DAY)
    return str(err.value)


def test_only_well_named_daily_files_are_recognised():
    assert day_of("orders_2025-03-01.csv") == DAY
    assert day_of("orders_2025-03-01.parquet") == DAY
    assert [
        day_of(n) for n in ("orders_2025-02-30.csv", "orders_2025-03-01.xlsx", "Orders_2025-03-01.csv")
    ] == [
        None,
        None,
        None,
    ]


@pytest.mark.parametrize("ext", ["csv", "parquet"])
def test_a_clean_file_round_trips_to_identical_order_rows(tmp_path, small_catalog, ext):
    orders = generate_day(DAY, small_catalog, SMALL["orders_per_day"], SMALL["seed"]).orders
    path = tmp_path / f"orders_{DAY}.{ext}"
    orders.write_csv(path) if ext == "csv" else orders.write_parquet(path)
    before = (path.read_bytes(), path.stat().st_mtime_ns)
    result = load_day(tmp_path, DAY)
    assert result.orders.drop("status", "counted").equals(orders)
    assert result.quarantine.is_empty()
    assert result.report.rows_in == orders.height and result.report.sha256
    assert (path.read_bytes(), path.stat().st_mtime_ns) == before  # a landing file is only ever read


@pytest.mark.parametrize(
    ("name", "data", "problem"),
    [
        ("orders_2025-03-01.csv", b"", "is empty"),
        ("orders_2025-03-01.csv", b"  \n\n", "is empty"),
        (
            "orders_2025-03-01.csv",
            HEADER + b"A1,2025-03-01,S1,caf\xe9,2,10\n",
            "is not UTF-8 text (byte 0xe9 on line 2); save the export as UTF-8",
        ),
        (
            "orders_2025-03-01.csv",
            (HEADER + ROW).decode().encode("utf-16"),
            "is UTF-16 text, not UTF-8; save the export as UTF-8",
        ),
        (
            "orders_2025-03-01.csv",
            b"PAR1\x15\x04garbage",
            "is a Parquet file, not CSV; give it the .parquet extension",
        ),
        (
            "orders_2025-03-01.csv",
            b"\x89PNG\r\n\x1a\n\x00\x00",
            "contains NUL bytes: not CSV text (a binary file, or UTF-16 without BOM?)",
        ),
        (
            "orders_2025-03-01.csv",
            b"order_id,date,sku,region,price\nA1,2025-03-01,S1,us-east,10\n",
            "required column 'qty' is missing; columns found: 'order_id', 'date', 'sku', 'region', 'price'",
        ),
        (
            "orders_2025-03-01.csv",
            HEADER + b"A1,2025-03-02,S1,us-east,2,10\n",
            "1 of 1 rows are dated 2025-03-02, not 2025-03-01 "
            "(the day in the file's name; first at line 2, date='2025-03-02')",
        ),
        (
            "orders_2025-03-01.csv",
            b"order_id;date;sku;region;qty;price\nA1;2025-03-01;S1;us-east;2;10\n",
            "is separated by semicolons, not commas; export it as comma-separated CSV",
        ),
        (
            "orders_2025-03-01.csv",
            b"order_id,date,sku,region,qty,qty,price\nA1,2025-03-01,S1,us-east,2,2,10\n",
            "column 'qty' appears more than once in the header",
        ),
    ],
)
def test_a_whole_file_problem_raises_one_message_naming_the_file(tmp_path, name, data, problem):
    path = write(tmp_path, data, name)
    assert whole_file_error(tmp_path) == f"{path}: {problem}"


def test_a_file_that_is_not_parquet_is_named(tmp_path):
    path = write(tmp_path, HEADER + ROW, "orders_2025-03-01.parquet")
    message = whole_file_error(tmp_path)
    assert message.startswith(f"{path}: is not a readable Parquet file (")


def test_no_file_for_the_day_or_two_files_for_it_is_a_whole_file_error(tmp_path):
    assert whole_file_error(tmp_path / "nowhere") == (
        f"{tmp_path / 'nowhere'}: the landing folder does not exist (set SPD_LANDING_DIR)"
    )
    tmp_path.joinpath("landing").mkdir()
    assert whole_file_error(tmp_path / "landing") == (
        f"{tmp_path / 'landing' / 'orders_2025-03-01.csv'}: not found (nor orders_2025-03-01.parquet): "
        "there is no orders file for 2025-03-01"
    )
    write(tmp_path / "landing", HEADER + ROW)
    pl.read_csv(HEADER + ROW).write_parquet(tmp_path / "landing" / "orders_2025-03-01.parquet")
    assert whole_file_error(tmp_path / "landing") == (
        f"{tmp_path / 'landing' / 'orders_2025-03-01.csv'}: orders_2025-03-01.parquet holds the same day; "
        "keep only one of them"
    )


def test_the_cheap_check_sees_a_missing_column_without_reading_the_rows(tmp_path):
    write(tmp_path, b"order_id,date,sku,qty,price\n" + b"\xff broken rows are not read\n")
    with pytest.raises(LandingFileError, match="required column 'region' is missing"):
        check_day(tmp_path, DAY)
    write(tmp_path, HEADER + b"\xff broken rows are not read\n")
    assert check_day(tmp_path, DAY).name == "orders_2025-03-01.csv"


def test_a_row_with_too_many_fields_is_quarantined_with_its_exact_line(tmp_path):
    data = HEADER + ROW + b'A2,2025-03-01,S2,"us\neast",1,5,extra\n' + b"A3,2025-03-01,S3,apac,1,5\n"
    write(tmp_path, data)
    result = load_day(tmp_path, DAY)
    assert result.orders["order_id"].to_list() == ["A1", "A3"]
    assert result.quarantine.select("line", "field", "reason").rows() == [
        (3, "row", "row has more fields than the header")
    ]


def test_line_numbers_count_quoted_newlines_and_skip_blank_lines(tmp_path):
    rows = b'A1,2025-03-01,"S\n1",us-east,2,10\n\nA2,2025-03-01,S2,us-east,x,10\n,,,,,\n'
    data = HEADER + rows + b"A3,2025-03-01,S3,apac,1,-1\n"
    write(tmp_path, data)
    result = load_day(tmp_path, DAY)
    assert result.quarantine.select("line", "order_id", "reason").rows() == [
        (5, "A2", "qty is not a number"),
        (7, "A3", "price is negative"),
    ]
    assert result.report.rows_in == 3  # blank lines and all-empty rows are not orders


def test_a_header_only_file_is_a_day_without_orders(tmp_path):
    write(tmp_path, HEADER)
    result = load_day(tmp_path, DAY)
    assert result.orders.is_empty()
    assert result.orders.schema == pl.Schema({**schema.ORDERS, **schema.ORDER_STATUS})
    assert result.report.rows_in == 0


def test_catalog_csv_feeds_the_catalog_with_defaults_for_missing_values(tmp_path):
    write(tmp_path, b"SKU,Category,Price,Name\nS1,toys,9.5,Robot\nS2,,3,\n", "catalog.csv")
    assert landing_catalog(tmp_path).rows() == [("S1", "Robot", "toys", 9.5), ("S2", "S2", "unknown", 3.0)]


def test_a_bad_catalog_row_fails_the_catalog_naming_its_line(tmp_path):
    path = write(tmp_path, b"sku,category,price\nS1,toys,9.5\nS2,toys,cheap\nS1,home,2\n", "catalog.csv")
    with pytest.raises(LandingFileError) as err:
        read_catalog_file(path)
    assert str(err.value) == (
        f"{path}: 3 row(s) need an sku (unique) and a price >= 0: line 2: sku='S1' price='9.5'; "
        "line 3: sku='S2' price='cheap'; line 4: sku='S1' price='2'"
    )


def test_without_catalog_csv_the_catalog_is_derived_from_the_orders(tmp_path):
    write(
        tmp_path,
        HEADER + b"A1,2025-03-01,S1,us-east,2,10\nA2,2025-03-01,S2,us-east,1,4\nA3,2025-03-01,S1,apac,1,12\n",
    )
    later = HEADER + b"B1,2025-03-02,S1,us-east,1,11\nB2,2025-03-02,S3,us-east,oops,7\n"
    write(tmp_path, later, "orders_2025-03-02.csv")
    write(tmp_path, b"", "orders_2025-03-03.csv")  # unreadable: its own day fails, the catalog does not
    assert landing_catalog(tmp_path).rows() == [
        ("S1", "S1", "unknown", 11.0),  # the latest day's median price
        ("S2", "S2", "unknown", 4.0),
        ("S3", "S3", "unknown", 7.0),
    ]


def test_scanning_rehashes_a_file_only_when_its_size_or_mtime_changed(tmp_path):
    path = write(tmp_path, HEADER + ROW)
    write(tmp_path, b"x", "notes.txt")
    os.utime(path, ns=(1_700_000_000_000_000_000, 1_700_000_000_000_000_000))
    first = scan_landing(tmp_path, {})
    assert list(first) == ["orders_2025-03-01.csv"]
    stale = {"orders_2025-03-01.csv": FileState("remembered", path.stat().st_size, path.stat().st_mtime_ns)}
    assert scan_landing(tmp_path, stale)["orders_2025-03-01.csv"].sha256 == "remembered"
    os.utime(path, ns=(1_700_000_000_000_000_000, 1_700_000_100_000_000_000))
    assert (
        scan_landing(tmp_path, stale)["orders_2025-03-01.csv"].sha256 == first["orders_2025-03-01.csv"].sha256
    )
    assert scan_landing(tmp_path, {}, settle_s=60, now=1_700_000_130) == {}  # still being copied in
    assert scan_landing(tmp_path, stale, settle_s=60, now=1_700_000_130) == stale  # kept until it settles
    assert scan_landing(tmp_path, {}, budget_s=-1) == {}  # over the hashing budget: a later tick


def test_landing_settings_the_rate_and_the_folder(tmp_path):
    env = {"SPD_DATA_DIR": str(tmp_path), "SPD_SOURCE": "landing"}
    settings = load_settings(env)
    assert (settings.landing_dir, settings.quarantine_max_rate) == (f"{tmp_path}/landing", 0.05)
    assert load_settings({**env, "SPD_QUARANTINE_MAX_RATE": "2%"}).quarantine_max_rate == 0.02
    with pytest.raises(SettingsError, match=r"SPD_QUARANTINE_MAX_RATE='1.5' is not a share"):
        load_settings({**env, "SPD_QUARANTINE_MAX_RATE": "1.5"})
    # an object-store folder is accepted as given (read through a local mirror; tests/test_s3.py)
    assert load_settings({**env, "SPD_LANDING_DIR": "s3://shop/landing"}).landing_dir == "s3://shop/landing"

"""Reading real exports: money formats, currencies, time zones, mapping files, statuses, line numbers."""

from __future__ import annotations

import datetime as dt
import zipfile
from pathlib import Path

import export_shapes
import polars as pl
import pytest

from spd_assets.core.aggregate import aggregate_daily
from spd_assets.core.landing import mapping as maps
from spd_assets.core.landing.files import csv_batches, load_day
from spd_assets.core.landing.money import detect_decimal, parse_money
from spd_assets.core.landing.split import split_export
from spd_assets.core.landing.timestamps import with_when
from spd_assets.core.landing.validate import LINE, LandingFileError
from spd_assets.core.metrics import rolling_metrics
from spd_assets.core.storage import DayStore

DAYS = [dt.date.today() - dt.timedelta(days=n) for n in range(5, 2, -1)]


def money(values: list[str], decimal: str) -> list[str]:
    return pl.select(parse_money(pl.Series(values), decimal)).to_series().to_list()


def test_money_with_symbols_and_thousands_separators_parses_to_plain_numbers():
    assert money(["$1,234.50", "USD 12.00", "7"], ".") == ["1234.50", "12.00", "7"]
    assert money(["1.234,50 €", "12,5 €", "1 234,50"], ",") == ["1234.50", "12.5", "1234.50"]


def test_money_that_is_not_a_number_stays_as_written_for_the_quarantine():
    assert money(["free", "$"], ".") == ["free", "$"]


def test_the_decimal_separator_is_detected_from_the_file():
    assert detect_decimal(["1.234,50 €", "12,00 €"], "f") == ","
    assert detect_decimal(["$1,234.50", "$3.10"], "f") == "."


def test_an_ambiguous_money_format_asks_for_decimal():
    with pytest.raises(LandingFileError, match=r"'1,234'.*pass --decimal ,"):
        detect_decimal(["1,234", "2,500"], "f")


def test_an_export_in_two_currencies_fails_naming_them(tmp_path):
    path = export_shapes.write_csv(
        tmp_path / "e.csv",
        ["Order ID", "Order Date", "SKU", "Quantity", "Unit Price"],
        [["1", str(DAYS[0]), "S", "1", "$5.00"], ["2", str(DAYS[0]), "S", "1", "€5.00"]],
    )
    with pytest.raises(LandingFileError, match=r"2 currencies \(EUR, USD\)"):
        split_export(path, tmp_path / "landing")
    assert not (tmp_path / "landing").exists() or not any((tmp_path / "landing").iterdir())


def test_a_timestamp_with_an_offset_falls_on_the_shop_day_when_a_timezone_is_set():
    frame = pl.DataFrame({"w": ["2025-03-02T04:30:00Z", "2025-03-02", "2025-03-02T01:00"]})
    utc = with_when(frame, "w", pl.String, "x_")["x_date"].to_list()
    new_york = with_when(frame, "w", pl.String, "x_", "America/New_York")["x_date"].to_list()
    assert utc == [dt.date(2025, 3, 2)] * 3
    assert new_york == [dt.date(2025, 3, 1), dt.date(2025, 3, 2), dt.date(2025, 3, 2)]


def test_a_quoted_field_spanning_lines_keeps_exact_line_numbers_across_batches(tmp_path):
    path = tmp_path / "e.csv"
    path.write_text('a,b\n1,"x\ny"\n2,z\n3,"p\nq\nr"\n4,w\n')
    frames = list(csv_batches(path, batch_rows=1))
    assert pl.concat(frames).select("a", LINE).rows() == [("1", 2), ("2", 4), ("3", 5), ("4", 8)]


def test_a_saved_mapping_reads_back_the_same(tmp_path):
    mapping = maps.Mapping(columns={"date": "Purchase Date", "qty": 'Qty "n"'}, exclude_status=("void",))
    for name in ("m.toml", "m.json"):
        maps.save(mapping, tmp_path / name)
        assert maps.load(tmp_path / name) == mapping


def test_a_mapping_toml_in_the_landing_folder_applies_to_a_dropped_file(tmp_path):
    maps.save(maps.Mapping(columns={"date": "When", "price": "Cost"}), tmp_path / "mapping.toml")
    export_shapes.write_csv(
        tmp_path / f"orders_{DAYS[0]}.csv",
        ["When", "Lineitem sku", "Quantity", "Cost", "Order Status"],
        [
            [f"{DAYS[0]} 10:00", "S1", "2", "$1,000.25", "Paid"],
            [f"{DAYS[0]} 11:00", "S2", "1", "$3.00", "Voided"],
        ],
    )
    day = load_day(tmp_path, DAYS[0])
    assert day.orders.select("order_id", "region", "revenue", "counted").rows() == [
        (f"orders_{DAYS[0]}-L2", "all", 2000.5, True),
        (f"orders_{DAYS[0]}-L3", "all", 3.0, False),
    ]
    assert day.report.rows_cancelled == 1


def test_exclude_status_decides_which_rows_are_cancelled(tmp_path):
    export = tmp_path / "e.csv"
    export_shapes.write_csv(
        export,
        ["Order ID", "Order Date", "SKU", "Quantity", "Unit Price", "Status"],
        [["1", str(DAYS[0]), "S", "1", "5.00", "refunded"], ["2", str(DAYS[0]), "S", "1", "5.00", "on-hold"]],
    )
    mapping = maps.Mapping(exclude_status=("on_hold",))
    result = split_export(export, tmp_path / "landing", mapping, dry_run=True)
    assert (result.cancelled, result.statuses["on_hold"], result.statuses["refunded"]) == (1, 1, 1)


def test_a_dry_run_writes_nothing(tmp_path):
    export_shapes.shopify(tmp_path / "e.csv", DAYS)
    result = split_export(tmp_path / "e.csv", tmp_path / "landing", dry_run=True)
    assert result.days == DAYS and result.cancelled > 0
    assert not (tmp_path / "landing").exists()


def test_re_importing_the_same_export_changes_nothing(tmp_path):
    export_shapes.spreadsheet(tmp_path / "e.csv", DAYS)
    mapping = maps.Mapping(columns={"date": "Purchase Date", "price": "Unit Price", "status": "Order Status"})
    split_export(tmp_path / "e.csv", tmp_path / "landing", mapping)
    before = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in (tmp_path / "landing").iterdir()}
    again = split_export(tmp_path / "e.csv", tmp_path / "landing", mapping)
    assert again.written == [] and len(again.unchanged) == len(DAYS)
    assert {
        p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in (tmp_path / "landing").iterdir()
    } == before


def _xlsx(path: Path, rows: list[list[str]]) -> Path:
    """A minimal .xlsx (inline strings), as a spreadsheet program writes one sheet."""
    ns = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    cells = "".join(
        f'<row r="{r + 1}">'
        + "".join(
            f'<c r="{chr(65 + c)}{r + 1}" t="inlineStr"><is><t>{v}</t></is></c>' for c, v in enumerate(row)
        )
        + "</row>"
        for r, row in enumerate(rows)
    )
    with zipfile.ZipFile(path, "w") as book:
        book.writestr(
            "xl/worksheets/sheet1.xml", f'<worksheet xmlns="{ns}"><sheetData>{cells}</sheetData></worksheet>'
        )
    return path


def test_an_xlsx_export_is_imported(tmp_path):
    sheet = [["Order Date", "Product SKU", "Quantity", "Item Cost"], [str(DAYS[0]), "S1", "2", "$1,500.00"]]
    result = split_export(_xlsx(tmp_path / "e.xlsx", sheet), tmp_path / "landing")
    assert load_day(tmp_path / "landing", DAYS[0]).orders.select("sku", "revenue").rows() == [("S1", 3000.0)]
    assert result.rows == 1


def test_daily_agg_files_of_the_previous_layout_are_read_with_no_cancellations(tmp_path, small_catalog):
    orders = pl.DataFrame(
        {
            "date": DAYS,
            "sku": ["SKU-0001"] * 3,
            "region": ["us-east"] * 3,
            "qty": [1, 2, 3],
            "revenue": [1.0, 2.0, 3.0],
        }
    )
    store = DayStore(str(tmp_path))
    new = aggregate_daily(orders, small_catalog)
    old = new.drop("cancelled_orders", "cancelled_revenue")
    store.write("daily_agg", DAYS[0], old.filter(pl.col("date") == DAYS[0]))
    for day in DAYS[1:]:
        store.write("daily_agg", day, new.filter(pl.col("date") == day))
    read = store.read_days("daily_agg", DAYS)
    metrics = rolling_metrics(read, days=DAYS, output_days=DAYS[-1:]).filter(level="total")
    assert metrics["revenue_7d"].item() == 6.0
    assert read.filter(pl.col("date") == DAYS[0])["cancelled_orders"].to_list() == [None]


def test_a_timestamp_with_a_zone_name_is_converted_to_the_shop_zone():
    frame = pl.DataFrame({"w": ["2025-03-01 23:30:00 Europe/Berlin", "2025-03-01 20:00 America/New_York",
                                "2025-03-01 10:00 Mars/Olympus"]})  # fmt: skip
    berlin = with_when(frame, "w", pl.String, "x_", "Europe/Berlin")
    assert berlin["x_date"].to_list() == [dt.date(2025, 3, 1), dt.date(2025, 3, 2), None]
    utc = berlin["x_ts"].to_list()
    assert utc[0] == dt.datetime(2025, 3, 1, 22, 30, tzinfo=dt.UTC)
    assert utc[1] == dt.datetime(2025, 3, 2, 1, 0, tzinfo=dt.UTC)

"""`spd import`: a multi-day export split into the landing folder's daily files, all or nothing."""

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from spd_assets.cli import main as spd
from spd_assets.core.landing.files import load_day
from spd_assets.core.synthetic.orders import generate_day
from spd_assets.importer import main as spd_import

FIRST = dt.date(2025, 1, 1)
DAYS = [FIRST + dt.timedelta(days=i) for i in range(90)]  # January to March


@pytest.fixture
def export(tmp_path, small_catalog) -> tuple[Path, pl.DataFrame]:
    """Three months of orders in one CSV, rows shuffled across days, columns as a shop might name them."""
    orders = pl.concat([generate_day(day, small_catalog, 30, 7).orders for day in DAYS])
    shuffled = orders.sample(fraction=1.0, shuffle=True, seed=3)
    path = tmp_path / "export.csv"
    shuffled.rename({"order_id": "Order_ID", "date": "Date"}).write_csv(path)
    return path, orders


def test_a_three_month_export_becomes_one_file_per_day(export, tmp_path, capsys):
    path, orders = export
    landing = tmp_path / "landing"
    assert spd(["import", str(path), "--landing-dir", str(landing)]) == 0
    assert sorted(p.name for p in landing.iterdir()) == [f"orders_{d}.csv" for d in DAYS]
    for day in (DAYS[0], DAYS[45], DAYS[-1]):
        loaded = load_day(landing, day)
        assert loaded.quarantine.is_empty()
        expected = orders.filter(pl.col("date") == day).sort("order_id")
        assert loaded.orders.drop("status", "counted").sort("order_id").equals(expected)
    out = capsys.readouterr().out
    assert f"{orders.height:,} rows over 90 day(s) (2025-01-01 .. 2025-03-31)" in out
    assert "90 file(s) written (0 replaced), 0 unchanged" in out


def test_importing_the_same_export_again_changes_nothing(export, tmp_path, capsys):
    path, _ = export
    landing = tmp_path / "landing"
    assert spd_import([str(path), "--landing-dir", str(landing)]) == 0
    stamps = {p.name: p.stat().st_mtime_ns for p in landing.iterdir()}
    assert spd_import([str(path), "--landing-dir", str(landing)]) == 0
    assert {p.name: p.stat().st_mtime_ns for p in landing.iterdir()} == stamps
    assert "0 file(s) written (0 replaced), 90 unchanged" in capsys.readouterr().out


def test_a_day_with_other_content_is_replaced_only_with_overwrite(tmp_path, capsys):
    landing = tmp_path / "landing"
    landing.mkdir()
    (landing / "orders_2025-01-02.csv").write_text(
        "order_id,date,sku,region,qty,price\nX,2025-01-02,S,apac,1,1\n"
    )
    path = tmp_path / "export.csv"
    path.write_text("order_id,date,sku,region,qty,price\nA,2025-01-01,S,apac,1,1\nB,2025-01-02,S,apac,2,1\n")
    assert spd_import([str(path), "--landing-dir", str(landing)]) == 1
    assert capsys.readouterr().err == (
        f"spd import: {landing}: 1 day file(s) exist with other content (orders_2025-01-02.csv); "
        "pass --overwrite to replace them (nothing was written)\n"
    )
    assert sorted(p.name for p in landing.iterdir()) == ["orders_2025-01-02.csv"]  # no temporary files left
    assert spd_import([str(path), "--landing-dir", str(landing), "--overwrite"]) == 0
    assert (
        landing / "orders_2025-01-02.csv"
    ).read_text() == "order_id,date,sku,region,qty,price\nB,2025-01-02,S,apac,2,1\n"


def test_rows_without_a_readable_date_refuse_the_import_naming_their_lines(tmp_path, capsys):
    path = tmp_path / "export.csv"
    path.write_text(
        "order_id,ts,sku,region,qty,price\nA,2025-01-01T10:00:00Z,S,apac,1,1\nB,soon,S,apac,1,1\nC,,S,apac,1,1\n"
    )
    landing = tmp_path / "landing"
    assert spd_import([str(path), "--landing-dir", str(landing)]) == 1
    assert capsys.readouterr().err == (
        f"spd import: {path}: 2 row(s) have a ts that does not parse (line 3: 'soon'; line 4: None); "
        "fix them and import again (nothing was written)\n"
    )
    assert list(landing.iterdir()) == []


def test_an_unmappable_export_fails_naming_its_columns_and_the_fields_it_needs(tmp_path, capsys):
    path = tmp_path / "export.csv"
    path.write_text("Order,Article,Pieces,Amount\nA,S,1,1\n")
    assert spd_import([str(path), "--landing-dir", str(tmp_path / "landing")]) == 1
    assert capsys.readouterr().err == (
        f"spd import: {path}: cannot be mapped: no column found for date, sku, qty, price "
        "(give it with --map FIELD=COLUMN); columns found: 'Order', 'Article', 'Pieces', 'Amount'\n"
    )
    assert not (tmp_path / "landing").exists()


def test_a_parquet_export_is_split_into_csv_day_files(tmp_path, small_catalog):
    orders = pl.concat([generate_day(d, small_catalog, 20, 7).orders for d in DAYS[:3]])
    orders.write_parquet(tmp_path / "export.parquet")
    landing = tmp_path / "landing"
    assert spd_import([str(tmp_path / "export.parquet"), "--landing-dir", str(landing)]) == 0
    loaded = load_day(landing, DAYS[1]).orders.drop("status", "counted")
    assert loaded.equals(orders.filter(pl.col("date") == DAYS[1]))


def test_python_dash_m_runs_the_import(tmp_path):
    path = tmp_path / "export.csv"
    path.write_text("order_id,date,sku,region,qty,price\nA,2025-01-01,S,apac,1,1\n")
    env = {**os.environ, "SPD_DATA_DIR": str(tmp_path / "data")}
    out = subprocess.run(
        [sys.executable, "-m", "spd_assets.importer", str(path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "data" / "landing" / "orders_2025-01-01.csv").is_file()  # SPD_LANDING_DIR's default


def test_spd_import_takes_map_options_through_the_spd_command(tmp_path):
    path = tmp_path / "export.csv"
    path.write_text('Purchase Date,SKU,Quantity,Unit Price\n2025-01-01,S,2,"$1,000.50"\n')
    landing = tmp_path / "landing"
    argv = ["import", str(path), "--landing-dir", str(landing), "--map", "date=Purchase Date"]
    assert spd([*argv, "--map", "price=Unit Price"]) == 0
    assert load_day(landing, DAYS[0]).orders.select("region", "revenue").rows() == [("all", 2001.0)]


def test_an_object_store_landing_folder_is_refused_with_the_way_to_copy_there(export, tmp_path, capsys):
    path, _ = export
    assert spd(["import", str(path), "--landing-dir", "s3://shop/landing"]) == 1
    err = capsys.readouterr().err
    assert "s3://shop/landing is on an object store" in err and "aws s3 sync" in err
    assert not (Path.cwd() / "s3:").exists() and not list(tmp_path.glob("s3*"))  # nothing written locally

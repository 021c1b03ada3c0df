"""Real shop exports (Shopify, WooCommerce, a spreadsheet) imported and backfilled through the Dagster CLI.

Revenue per day must equal, to the cent, the sum of the counted rows, and the cancelled measure the
rows a status kept out.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import export_shapes
import polars as pl
import pytest

from spd_assets.core.run_tags import catalog_command, pipeline_command, range_tags
from spd_assets.core.storage import DayStore
from spd_assets.importer import main as spd_import

DAGSTER = str(Path(sys.executable).parent / "dagster")
TODAY = dt.datetime.now(dt.UTC).date()
DAYS = [TODAY - dt.timedelta(days=n) for n in range(8, 2, -1)]
SPREADSHEET_MAP = [
    *("--map", 'date="Purchase Date"', "--map", "qty=Quantity", "--map", 'price="Unit Price"'),
    *("--map", "sku=SKU", "--map", 'status="Order Status"'),
]


def _env(tmp: Path) -> dict[str, str]:
    return {
        **os.environ,
        "SPD_SOURCE": "landing",
        "SPD_DATA_DIR": str(tmp / "data"),
        "SPD_LANDING_DIR": str(tmp / "landing"),
        "DAGSTER_HOME": str(tmp / "dagster_home"),
        "SPD_START_DATE": DAYS[0].isoformat(),
    }


def _dagster(env: dict[str, str], *args: str) -> None:
    out = subprocess.run([DAGSTER, *args], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]


def import_and_backfill(tmp: Path, export: Path, *extra: str) -> DayStore:
    """``spd import`` into the landing folder, then the catalog and one range run of the daily pipeline."""
    env = _env(tmp)
    (tmp / "dagster_home").mkdir()
    (tmp / "landing").mkdir()
    export_shapes.write_catalog(tmp / "landing" / "catalog.csv")
    os.environ.update({k: env[k] for k in ("SPD_SOURCE", "SPD_LANDING_DIR", "SPD_START_DATE")})
    try:
        assert spd_import([str(export), "--landing-dir", str(tmp / "landing"), *extra]) == 0
    finally:
        for k in ("SPD_SOURCE", "SPD_LANDING_DIR", "SPD_START_DATE"):
            os.environ.pop(k)
    _dagster(env, *catalog_command())  # the README's two commands
    _dagster(env, *pipeline_command(range_tags(DAYS[0], DAYS[-1])))
    return DayStore(str(tmp / "data"))


def per_day(store: DayStore) -> dict[dt.date, tuple[int, int, int, int]]:
    """(revenue cents, orders, cancelled revenue cents, cancelled orders) per day from daily_agg."""
    agg = store.read_days("daily_agg", DAYS)
    sums = agg.group_by("date").agg(
        (pl.col("revenue") * 100).round().cast(pl.Int64).sum(),
        pl.col("orders").sum(),
        (pl.col("cancelled_revenue") * 100).round().cast(pl.Int64).sum(),
        pl.col("cancelled_orders").sum(),
    )
    return {r[0]: tuple(r[1:]) for r in sums.rows()}


def expected(truth: export_shapes.Truth) -> dict[dt.date, tuple[int, int, int, int]]:
    return {
        d: (
            truth.counted_cents.get(d, 0),
            truth.counted_lines.get(d, 0),
            truth.cancelled_cents.get(d, 0),
            truth.cancelled_lines.get(d, 0),
        )
        for d in DAYS
    }


@pytest.mark.slow
def test_a_shopify_export_backfills_to_the_cent_with_refunds_and_voids_counted_apart(tmp_path):
    truth = export_shapes.shopify(tmp_path / "orders_export.csv", DAYS)
    store = import_and_backfill(tmp_path, tmp_path / "orders_export.csv")
    assert per_day(store) == expected(truth)
    assert store.read("daily_metrics", DAYS[-1])["level"].unique().sort().to_list() == [
        "category",
        "category_region",
        "region",
        "sku",
        "sku_region",
        "total",
    ]


@pytest.mark.slow
def test_a_woocommerce_export_with_decimal_commas_backfills_to_the_cent(tmp_path):
    truth = export_shapes.woocommerce(tmp_path / "wc-orders.csv", DAYS)
    store = import_and_backfill(tmp_path, tmp_path / "wc-orders.csv")
    assert per_day(store) == expected(truth)


@pytest.mark.slow
def test_a_spreadsheet_without_order_id_or_region_backfills_without_region_levels(tmp_path):
    truth = export_shapes.spreadsheet(tmp_path / "finance.csv", DAYS)
    store = import_and_backfill(tmp_path, tmp_path / "finance.csv", *SPREADSHEET_MAP)
    assert per_day(store) == expected(truth)
    assert store.read("daily_metrics", DAYS[-1])["level"].unique().sort().to_list() == [
        "category",
        "sku",
        "total",
    ]
    assert store.read("orders", DAYS[0])["order_id"].str.starts_with("finance-L").all()

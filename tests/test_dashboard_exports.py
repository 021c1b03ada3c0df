"""The dashboard on a real shop's export: the cancelled measure on Overview, no region views for a shop
whose exports name no region, and daily_agg files written before the cancelled columns existed."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from conftest import recent_days
from streamlit.testing.v1 import AppTest

from spd_assets.core import schema
from spd_assets.core.metrics import rolling_metrics
from spd_assets.core.storage import DayStore

APP = Path(__file__).resolve().parents[1] / "spd_dashboard" / "app.py"


@pytest.fixture(params=["metrics", "daily_agg"])
def one_region_shop(tmp_path, request) -> str:
    """14 days of a shop with region `all`; the first 7 days in the old layout (no cancelled columns).
    Cancelled lines are read from daily_metrics, or (``daily_agg``: metrics written before they held
    them) from daily_agg."""
    store, days = DayStore(str(tmp_path / "data")), recent_days(14)
    store.write("catalog", None, pl.DataFrame({"sku": ["A", "B"], "name": ["A", "B"],
                "category": ["toys", "books"], "base_price": [5.0, 9.0]}, schema=schema.CATALOG))  # fmt: skip
    for i, day in enumerate(days):
        agg = pl.DataFrame(
            {"date": [day, day], "sku": ["A", "B"], "category": ["toys", "books"], "region": ["all", "all"],
             "orders": [10, 4], "units": [12, 4], "revenue": [60.0, 36.0], "aov": [6.0, 9.0],
             "cancelled_orders": [1, 0], "cancelled_revenue": [5.5, 0.0]},
            schema=schema.DAILY_AGG,
        )  # fmt: skip
        store.write("daily_agg", day, agg.drop("cancelled_orders", "cancelled_revenue") if i < 7 else agg)
    metrics = rolling_metrics(store.read_days("daily_agg", days), days, days)  # as stored: old days none
    if request.param == "daily_agg":
        metrics = metrics.drop("cancelled_orders", "cancelled_revenue")
    for (day,), part in metrics.partition_by("date", as_dict=True).items():
        store.write("daily_metrics", day, part)
    return store.root


def open_page(monkeypatch, data_dir: str, page: str | None) -> AppTest:
    monkeypatch.setenv("SPD_DATA_DIR", data_dir)
    monkeypatch.setenv("SPD_DAGSTER_PORT", "1")
    app = AppTest.from_file(str(APP), default_timeout=60)
    app.run()
    if page:
        app.switch_page(page).run()
    assert not app.exception, [e.message for e in app.exception]
    return app


def test_overview_shows_the_cancelled_orders_kept_out_of_revenue(one_region_shop, monkeypatch) -> None:
    app = open_page(monkeypatch, one_region_shop, None)
    cards = {m.label: m for m in app.metric}
    assert cards["Revenue"].value == "$1,344.00"  # 14 days x 96, cancelled not included
    assert cards["Cancelled"].value == "$38.50"  # 7 days in the new layout x 5.50; old days count none
    assert "7 order line(s) cancelled" in cards["Cancelled"].help


def test_a_shop_without_regions_gets_no_region_breakdown(one_region_shop, monkeypatch) -> None:
    app = open_page(monkeypatch, one_region_shop, "views/regions.py")
    assert "name no region" in app.info[0].value
    assert not app.get("plotly_chart")

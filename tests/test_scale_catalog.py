"""The catalog-scale benchmark's correctness part at a tiny size, through the real CLI runs: every
day's daily_metrics total equals the daily_agg written (asserted inside), and detection found the
injected drops. No time is asserted: the figures are in benchmarks/README.md."""

from __future__ import annotations

import datetime as dt

import pytest

from benchmarks.catalog_scale import CatalogShop, shop_run
from spd_assets.core.detect import HISTORY_DAYS

pytestmark = pytest.mark.slow


def test_catalog_shop_metrics_and_alerts_through_the_cli(tmp_path) -> None:
    yesterday = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
    # 40 orders a cell: a SKU of about 120 orders a day that loses 80% is many Poisson spreads down
    # (at the benchmark's 10 a cell, a 24-orders-a-day SKU's 80% drop is 3 spreads: found some days).
    out = shop_run(CatalogShop(40, 3, cell_orders=40.0), tmp_path, HISTORY_DAYS + 2, 2, yesterday)
    assert out["daily_agg_rows_per_day"] > 100
    assert out["alerts_found"] >= 3  # three SKUs a day lose 80% of their demand, two days checked

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
    out = shop_run(CatalogShop(40, 3), tmp_path, HISTORY_DAYS + 2, 2, yesterday)
    assert out["daily_agg_rows_per_day"] > 100
    assert out["alerts_found"] > 0  # three SKUs a day lose 80% of their demand

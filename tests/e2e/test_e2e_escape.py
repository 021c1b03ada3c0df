"""User strings in a real browser: a SKU named like an HTML tag and a region named like Markdown show as
the characters they are on the Overview, SKUs, Regions and Alerts pages.

The session's small history (the real pipeline's 21 days and the hand-written alerts) is copied and one
SKU and one region are renamed in every asset through the core's DayStore; `streamlit run` serves it
and Debian's Chromium looks for injected elements in the DOM and for a fired dialog.
"""

from __future__ import annotations

import urllib.parse
from pathlib import Path

import polars as pl
import pytest
from harness import CHART_MS, CHROMIUM, CHROMIUM_ARGS, IDLE, chromium_missing, dashboard_on

from spd_assets.core.storage import DayStore

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(chromium_missing() is not None, reason=str(chromium_missing())),
]
SKU = "<img src=x onerror=alert(1)>"
REGION = "**bold**"


def rename(src: str, dst: Path, sku: str, region: str) -> Path:
    """A copy of ``src`` where SKU ``sku`` is SKU (id and name) and region ``region`` is REGION."""
    source, target = DayStore(src), DayStore(str(dst))
    swaps = {"sku": {sku: SKU}, "region": {region: REGION}}

    def renamed(frame: pl.DataFrame) -> pl.DataFrame:
        cols = [pl.col(c).replace(m) for c, m in swaps.items() if c in frame.columns]
        if "name" in frame.columns:
            cols.append(pl.when(pl.col("sku") == sku).then(pl.lit(SKU)).otherwise("name").alias("name"))
        return frame.with_columns(cols)

    target.write("catalog", None, renamed(source.read("catalog")))
    for asset in sorted(p.name for p in Path(src).iterdir() if p.is_dir() and p.name != "catalog"):
        for day in source.days(asset):
            target.write(asset, day, renamed(source.read(asset, day)))
    return dst


@pytest.fixture
def renamed(dashboard_history, tmp_path):
    h = dashboard_history
    sku = h.alerts.filter(pl.col("level") == "sku")["sku"][0]
    with dashboard_on(rename(h.data_dir, tmp_path / "data", sku, "us-east"), tmp_path) as server:
        yield server


def _assert_nothing_injected(page, where: str) -> None:
    """No element made from the names: no <img> of the SKU's, no bold made of REGION."""
    assert page.locator("img[src=x], img[onerror]").count() == 0, where
    assert "bold" not in [t.strip() for t in page.locator("strong, b").all_text_contents()], where


def test_names_with_markup_show_as_plain_text_on_every_page(dashboard_history, renamed):
    from playwright.sync_api import expect, sync_playwright

    h = dashboard_history
    week = {"dates": [h.days[-7].isoformat(), h.last.isoformat()]}
    filtered = urllib.parse.urlencode(week | {"region": REGION, "sku": SKU}, doseq=True)
    dialogs: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1440, "height": 1000})
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        for path, query in (("", filtered), ("skus", filtered), ("regions", filtered)):
            page.goto(f"{renamed.url}/{path}?{query}")
            page.wait_for_selector(IDLE, timeout=60_000)
            expect(page.get_by_text(f"{REGION} · all categories · 1 SKU")).to_be_visible()  # header
            expect(page.get_by_text(f"1 SKU(s) match '{SKU}'")).to_be_visible()  # sidebar
            if path == "skus":
                history = page.get_by_text(f"{SKU} · {SKU}: daily revenue by region", exact=False)
                expect(history).to_be_visible()
                expect(page.get_by_test_id("stMetricValue").first).to_have_text(SKU)
            if path == "regions":
                chart = page.locator(".js-plotly-plot").first
                expect(chart.locator(".ytick text")).to_have_text([REGION], timeout=CHART_MS)
            _assert_nothing_injected(page, path or "overview")

        page.goto(f"{renamed.url}/alerts?{urllib.parse.urlencode(week, doseq=True)}")
        page.wait_for_selector(IDLE, timeout=60_000)
        expect(page.get_by_role("heading", name=f"region {REGION} · revenue", exact=False)).to_be_visible()
        _assert_nothing_injected(page, "alerts, region alert")
        page.get_by_role("combobox", name="Alert").click()
        page.get_by_role("option", name=f"warning · sku {SKU} · revenue", exact=False).first.click()
        page.wait_for_selector(IDLE, timeout=60_000)
        expect(page.get_by_role("heading", name=f"sku {SKU} · revenue", exact=False)).to_be_visible()
        _assert_nothing_injected(page, "alerts, sku alert")
        browser.close()
    assert dialogs == []

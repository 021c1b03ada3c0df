"""The Why view in a real browser: from an alert on the Alerts page to its waterfall, to a driver's trend.

It reuses the session's small history (``dashboard_history``: the real pipeline's 21 days and the
hand-written alerts) and starts only `streamlit run` (Dagster stays down: nothing here launches a
run); Debian's Chromium follows the alert's "Why" link and reads the plotly waterfall it draws.
"""

from __future__ import annotations

import re

import polars as pl
import pytest
from harness import CHART_MS, CHROMIUM, CHROMIUM_ARGS, IDLE, chromium_missing, dashboard_on, save_screenshot

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(chromium_missing() is not None, reason=str(chromium_missing())),
]


@pytest.fixture
def dashboard(dashboard_history, tmp_path):
    with dashboard_on(dashboard_history.data_dir, tmp_path) as server:
        yield server


def test_why_view_shows_the_waterfall_of_a_chosen_alert(dashboard_history, dashboard, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    h = dashboard_history
    alert = h.alerts.filter(pl.col("level") == "sku").row(0, named=True)  # not the one listed first
    week = f"dates={h.days[-7].isoformat()}&dates={h.last.isoformat()}"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1440, "height": 1000})
        page.goto(f"{dashboard.url}/alerts?{week}")
        page.wait_for_selector(IDLE, timeout=60_000)
        page.get_by_role("combobox", name="Alert").click()
        page.get_by_role("option", name=f"{alert['date']} · warning · sku {alert['sku']} · revenue").click()
        page.wait_for_selector(IDLE)
        page.get_by_role("link", name=re.compile("Why did it drop")).click()

        page.wait_for_selector(IDLE, timeout=60_000)
        expect(page.get_by_role("heading", name="Why", exact=True)).to_be_visible()
        chart = page.locator(".js-plotly-plot").first
        expect(chart.locator(".waterfalllayer .point")).not_to_have_count(0, timeout=CHART_MS)
        ticks = chart.locator(".xtick text").all_text_contents()
        assert ticks[0] == "base" and ticks[-2:] == ["everything else", "current"]
        assert len(ticks) > 3 and all(t.startswith("region ") for t in ticks[1:-2])  # within one SKU
        assert chart.locator(".waterfalllayer .point").count() == len(ticks)
        expect(page.get_by_text(f"{alert['date']}..{alert['date']}", exact=False).first).to_be_visible()
        driver = page.get_by_role("button", name=re.compile(re.escape(ticks[1])))
        expect(driver).to_be_visible()
        save_screenshot(page, tmp_path / "why.png")

        driver.click()  # the driver's own trend, selected in the sidebar
        page.wait_for_selector(IDLE, timeout=60_000)
        expect(page.get_by_role("heading", name="SKUs", exact=True)).to_be_visible()
        region = ticks[1].removeprefix("region ")
        expect(page.get_by_text(f"{region} · all categories · 1 SKU")).to_be_visible()  # the header's caption
        expect(page.get_by_text(f"{alert['sku']} · ", exact=False).first).to_be_visible()
        browser.close()

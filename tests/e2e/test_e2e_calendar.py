"""The Calendar page in a real browser: import an events.csv through the file picker, see the event
listed, told which day's check could not be launched (Dagster is down), and shaded on the Overview.

It reuses the session's small history (a copy: the import writes the state store under the data dir)
and starts only `streamlit run`."""

from __future__ import annotations

import re
import shutil

import pytest
from harness import CHART_MS, CHROMIUM, CHROMIUM_ARGS, IDLE, chromium_missing, dashboard_on

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(chromium_missing() is not None, reason=str(chromium_missing())),
]


def test_an_imported_events_csv_is_listed_rechecked_and_shaded(dashboard_history, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    h = dashboard_history
    data_dir = shutil.copytree(h.data_dir, tmp_path / "data")
    csv = tmp_path / "events.csv"
    start, end = h.days[-5], h.days[-3]  # a promotion: the day after it ends is the day to re-check
    csv.write_text(f"name,kind,start,end,scope_level,scope_value\nAutumn sale,promotion,{start},{end},,\n")
    week = f"dates={h.days[-7].isoformat()}&dates={h.last.isoformat()}"
    with dashboard_on(data_dir, tmp_path) as dashboard, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1440, "height": 1000})
        page.goto(f"{dashboard.url}/calendar")
        page.wait_for_selector(IDLE, timeout=60_000)
        expect(page.get_by_text("No event yet")).to_be_visible()
        page.get_by_role("tab", name="Import").click()
        page.locator("input[type=file]").set_input_files(str(csv))
        page.wait_for_selector(IDLE)
        page.get_by_role("button", name="Import", exact=True).click()
        page.wait_for_selector(IDLE, timeout=60_000)
        expect(page.get_by_text("Imported events.csv.")).to_be_visible()
        warning = page.get_by_text(re.compile(r"The change is saved, but the check was not launched for"))
        expect(warning).to_contain_text(str(h.days[-2]))
        expect(warning).to_contain_text("not reachable")
        expect(page.get_by_text("No event yet")).to_have_count(0)

        page.goto(f"{dashboard.url}/?{week}")
        page.wait_for_selector(IDLE, timeout=60_000)
        chart = page.locator(".js-plotly-plot").first
        expect(chart.locator(".annotation-text", has_text="Autumn sale")).to_be_visible(timeout=CHART_MS)
        browser.close()

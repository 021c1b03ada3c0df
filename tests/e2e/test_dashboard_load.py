"""Load: ten browser sessions on one Streamlit server while a CLI backfill rewrites the days they show.

A small history is materialized in this process; then `dagster job execute` (a real subprocess, the
README's command) re-runs the same days with more orders per day, so every day's revenue changes.
Meanwhile ten Chromium contexts, each its own Streamlit session, rerun the Overview over and over and
read the daily revenue bars plotly drew (the chart's own data in the DOM). Every render must be free
of exceptions, each day's bar must be that day's revenue before or after the backfill (read from the
Parquet), never a mix, and a page opened after the backfill shows every day new.
"""

from __future__ import annotations

import asyncio
import subprocess
import time

import dagster as dg
import polars as pl
import pytest
from cli_runs import cli_shop, finish, start_range
from conftest import materialize_range, recent_days
from dashboard_data import read_asset
from harness import CHART_MS, CHROMIUM, CHROMIUM_ARGS, IDLE, chromium_missing, dashboard_on

from spd_assets.core.settings import load_settings
from spd_assets.definitions import build_defs

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(chromium_missing() is not None, reason=str(chromium_missing())),
]
SESSIONS = 10
DAYS = 10
NEW_ORDERS_PER_DAY = "900"  # the history has cli_runs.SHOP's 500: every day's total differs
RERUN_TRIES = 12
BARS = "document.querySelector('.js-plotly-plot')?.data?.[0]"  # the trend's daily revenue bars


def _daily_revenue(data_dir: str) -> dict[str, float]:
    agg = read_asset(data_dir, "daily_agg").group_by("date").agg(pl.col("revenue").sum())
    return {d.isoformat(): r for d, r in agg.iter_rows()}


# Counts the app's finished script runs, so a rerun is known to have ended (Streamlit's own e2e tests
# wait on the same attribute). Each record holds the value it replaced: a run too short to be seen
# between two callbacks is still counted.
COUNT_RUNS = """new MutationObserver((records) => {
  for (const r of records) if (r.oldValue === 'running') window.spdRuns = (window.spdRuns || 0) + 1;
}).observe(document, {attributes: true, attributeOldValue: true, subtree: true,
                      attributeFilter: ['data-test-script-state']});"""


async def _read(page, after: bool) -> dict:
    errors = await page.locator("[data-testid=stException]").all_inner_texts()
    bars = await page.evaluate(f"{BARS} && {{x: {BARS}.x, y: {BARS}.y}}")
    return {"errors": errors, "bars": bars, "after": after}


async def _show(page, url: str) -> None:
    """Open ``url`` and wait for its chart (a context's first load parses plotly: slow on 2 cores,
    and ten of them at once took over 30 s, Playwright's default, while another test file ran)."""
    await page.goto(url, timeout=CHART_MS)
    await page.wait_for_selector(IDLE, timeout=CHART_MS)
    await page.wait_for_function(f"{BARS}?.x?.length > 0", timeout=CHART_MS, polling=100)


async def _open(browser, url: str):
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    await context.add_init_script(COUNT_RUNS)
    page = await context.new_page()
    await _show(page, url)
    return page


async def _after(page, url: str) -> dict:
    """A new session once the backfill has ended (a rerun asked for earlier could still be queued)."""
    await _show(page, url)
    return await _read(page, after=True)


async def _rerun(page, after: bool) -> dict:
    """Rerun the page (Streamlit's R key), wait for that run to end, and read what it drew.

    The key is pressed again every few seconds until a run ends: the app now and then drops a press
    that arrives just as a run ends (seen here a few times a minute with ten sessions).
    """
    from playwright.async_api import TimeoutError as Timeout

    before = await page.evaluate("window.spdRuns || 0")
    for _ in range(RERUN_TRIES):
        await page.locator("body").press("r")
        try:
            await page.wait_for_function(f"(window.spdRuns || 0) > {before}", timeout=5_000, polling=100)
            return await _read(page, after)
        except Timeout:
            continue
    raise AssertionError(f"no run of the page ended in {RERUN_TRIES} presses of R")


async def _rerun_while(page, running) -> list[dict]:
    renders = []
    while running():
        renders.append(await _rerun(page, after=False))
    return renders


async def _load(url: str, start) -> tuple[list[dict], subprocess.Popen]:
    """Open every session, then start the backfill (``start()``) and rerun them all until it ends."""
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        began = time.monotonic()
        pages = await asyncio.gather(*(_open(browser, url) for _ in range(SESSIONS)))
        opened, proc = time.monotonic(), start()
        try:
            running = lambda: proc.poll() is None  # noqa: E731
            during = await asyncio.gather(*(_rerun_while(page, running) for page in pages))
        except BaseException:
            proc.kill()  # never leave the backfill running past a failed test
            proc.wait()
            raise
        ran = time.monotonic()
        after = await asyncio.gather(*(_after(page, url) for page in pages))
        print(f"sessions opened in {opened - began:.0f} s, backfill under load {ran - opened:.0f} s")
        await browser.close()
    return [r for renders in during for r in renders] + list(after), proc


def test_ten_sessions_during_a_backfill_see_each_day_old_or_new(tmp_path):
    env = cli_shop(tmp_path)
    data_dir = env["SPD_DATA_DIR"]
    days = recent_days(DAYS)
    with dg.DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance:
        assert materialize_range(build_defs(load_settings(env)), instance, days[0], days[-1]).success
    old = _daily_revenue(data_dir)
    url_query = f"dates={days[0].isoformat()}&dates={days[-1].isoformat()}"

    log = tmp_path / "backfill.log"
    backfill = {**env, "SPD_ORDERS_PER_DAY": NEW_ORDERS_PER_DAY}
    with dashboard_on(data_dir, tmp_path) as server:
        renders, proc = asyncio.run(
            _load(f"{server.url}/?{url_query}", lambda: start_range(backfill, days[0], days[-1], log))
        )
        finish(proc, log)
    new = _daily_revenue(data_dir)

    assert set(old) == set(new) == {d.isoformat() for d in days}
    assert all(abs(old[d] - new[d]) > 1.0 for d in old)  # the backfill changed every day
    errors = [r["errors"] for r in renders if r["errors"]]
    assert errors == [], "\n\n".join(e for es in errors for e in es)
    seen = {"old": 0, "new": 0}
    mixed = 0  # renders that caught the backfill halfway: some days old, others new (allowed)
    for r in renders:
        shown = dict(zip((x[:10] for x in r["bars"]["x"]), r["bars"]["y"], strict=True))
        assert set(shown) == set(old), r
        kinds = set()
        for day, value in shown.items():
            which = "old" if abs(value - old[day]) < 0.01 else "new" if abs(value - new[day]) < 0.01 else None
            assert which, f"{day}: {value} is neither the old {old[day]} nor the new {new[day]}"
            kinds.add(which)
            seen[which] += 1
        mixed += len(kinds) > 1
        assert kinds == {"new"} or not r["after"], r
    print(f"{len(renders)} renders in {SESSIONS} sessions; day bars {seen}; {mixed} halfway")
    assert seen["old"] > 0 and seen["new"] > 0

"""Alert episodes: one ongoing drop is one episode, notified once when it opens, once on recovery if asked."""

from __future__ import annotations

import datetime as dt
import json

import polars as pl
from anchor import anchor_day

from spd_assets.core.channels import WebhookNotifier, deliver
from spd_assets.core.delivery_ledger import DeliveryLedger
from spd_assets.core.detect import HISTORY_DAYS, detect_drops
from spd_assets.core.episodes import (
    EPISODE_COLUMNS,
    assign_episodes,
    recoveries,
    summarize,
    with_alert_columns,
)
from spd_assets.core.metrics import daily_series
from spd_assets.core.state_store import default_state_url
from spd_assets.core.storage import DayStore
from spd_assets.core.synthetic.shape_incidents import ShapeIncident
from spd_assets.core.synthetic.shapes import Shape, generate_shop

TODAY = anchor_day()  # the same generated shops on any date (tests/anchor.py)
SHOP = Shape("steady", orders_per_day=3_000, n_skus=40, demo_season=False)
START = TODAY - dt.timedelta(days=12)
END = START + dt.timedelta(days=6)


def stockout_alerts() -> tuple[pl.DataFrame, str, list[dt.date]]:
    """A seven-day stockout of the shop's biggest SKU, detected day by day through the recovery."""
    stockout = ShapeIncident("s", "sku_stockout", "sku", START, END, 0.0, sku_index=(10,))
    shop = generate_shop(SHOP, TODAY - dt.timedelta(days=40), TODAY, HISTORY_DAYS, 5, incidents=[stockout])
    days = [START + dt.timedelta(days=k) for k in range(10)]
    alerts = detect_drops(daily_series(shop.daily_agg, shop.days), days).alerts
    return alerts.filter(level="sku"), shop.catalog["sku"][10], days


def test_a_seven_day_stockout_is_one_episode_with_first_and_last_day() -> None:
    alerts, sku, _ = stockout_alerts()
    episodes = summarize(alerts.filter(sku=sku), as_of=END + dt.timedelta(days=3))
    assert episodes.select("first_seen", "last_seen", "status").rows() == [(START, END, "recovered")]
    assert alerts.filter(sku=sku, episode_status="open")["date"].to_list() == [START]


def test_a_day_run_alone_continues_the_episode_of_the_stored_days_before() -> None:
    alerts, sku, _ = stockout_alerts()
    mine = alerts.filter(sku=sku)
    before, later = (
        mine.filter(pl.col("date") < START + dt.timedelta(days=3)),
        mine.filter(pl.col("date") == START + dt.timedelta(days=3)),
    )
    rerun = assign_episodes(later.with_columns(pl.lit(None, dtype=pl.String).alias("episode_id")), before)
    assert rerun["episode_id"].to_list() == later["episode_id"].to_list()
    assert rerun["episode_status"].to_list() == ["ongoing"]


def test_alerts_in_the_layout_before_episodes_still_chain_into_one_episode() -> None:
    alerts, sku, _ = stockout_alerts()
    old_layout = alerts.filter(sku=sku).drop(*EPISODE_COLUMNS)  # a file written by the previous version
    last = old_layout.filter(pl.col("date") == END)
    chained = assign_episodes(last, old_layout.filter(pl.col("date") < END))
    assert chained["first_seen"].to_list() == [START]
    assert summarize(old_layout, as_of=END).height == 1


def test_a_stockout_is_notified_once_and_its_recovery_once_through_a_real_webhook(
    httpserver, tmp_path
) -> None:
    alerts, sku, days = stockout_alerts()
    mine = alerts.filter(sku=sku)
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    ledger = DeliveryLedger(default_state_url(str(tmp_path), {}))
    notifier = WebhookNotifier(url=httpserver.url_for("/hook"))
    for day in days:  # one check per day, as the daily schedule runs them
        today = mine.filter(pl.col("date") == day)
        history = mine.filter(pl.col("date") < day)
        recovered = recoveries(pl.concat([history, today]), [day])
        deliver(today, [notifier], ledger, today=day, lookback_days=3, claimant=str(day),
                recovered=recovered, notify_recovery=True)  # fmt: skip
    texts = [json.loads(request.data)["text"] for request, _ in httpserver.log]
    assert len(texts) == 2
    assert "1 revenue drop " in texts[0] and "recovered" in texts[1]


def test_an_alerts_file_in_the_layout_before_episodes_reads_and_chains(tmp_path) -> None:
    alerts, sku, _ = stockout_alerts()
    mine = alerts.filter(sku=sku)
    store = DayStore(str(tmp_path))
    for day, part in mine.filter(pl.col("date") < END).drop(*EPISODE_COLUMNS).group_by("date"):
        store.write("alerts", day[0], part)  # files written by the previous version
    stored = pl.concat([with_alert_columns(store.read("alerts", d)) for d in store.days("alerts")])
    assert stored["episode_id"].null_count() == stored.height
    last = assign_episodes(mine.filter(pl.col("date") == END), stored)
    assert last.select("first_seen", "episode_status").rows() == [(START, "ongoing")]

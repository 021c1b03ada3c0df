"""Names a shop chose are shown as typed in the Dagster UI's Markdown previews, never as markup."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import dagster as dg
import polars as pl
from conftest import materialize_range, recent_days
from markdown_it import MarkdownIt

from spd_assets.core.synthetic.orders import generate_day
from spd_assets.definitions import build_defs

EVIL_SKU, EVIL_REGION = "<img src=x onerror=alert(1)>", "**bold**"


def test_sku_and_region_names_are_plain_text_in_the_metadata_previews(settings, small_catalog, instance):
    landing = Path(settings.landing_dir)
    landing.mkdir(parents=True)
    first_sku = small_catalog["sku"][0]
    catalog = small_catalog.with_columns(pl.col("sku").replace(first_sku, EVIL_SKU))
    catalog.rename({"base_price": "price"}).write_csv(landing / "catalog.csv")
    days = recent_days(2)
    for day in days:
        orders = generate_day(day, small_catalog, 300, 7).orders.sort("sku")  # the renamed SKU comes first
        orders = orders.with_columns(pl.col("sku").replace(first_sku, EVIL_SKU))
        orders.with_columns(region=pl.lit(EVIL_REGION)).write_csv(  # a one-region shop: in every row
            landing / f"orders_{day}.csv"
        )
    defs = build_defs(replace(settings, source="landing"))
    assert materialize_range(defs, instance, days[0], days[-1]).success

    previews = []
    for asset in ("orders", "daily_agg"):
        mat = instance.get_latest_materialization_event(dg.AssetKey(asset)).asset_materialization
        previews.append(mat.metadata["preview"].value)
    text = "\n".join(previews)
    assert EVIL_SKU[:4] in text.replace("\\", "")  # the names are in the previews...
    html = MarkdownIt("commonmark").enable("table").render(text)
    assert "<img" not in html and "<strong>" not in html  # ...and render as text
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert EVIL_REGION in html

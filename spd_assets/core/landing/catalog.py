"""The catalog of a landing folder: catalog.csv, or else the SKUs and prices its daily files hold."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from .. import schema
from .exports import map_file
from .files import CATALOG_FILE, csv_batches, day_of, read_header, read_orders_file
from .mapping import Mapping, landing_mapping, resolve
from .remote import local_folder
from .validate import LINE, MALFORMED, LandingFileError, resolve_columns


def _sku_prices(path: Path, mapping: Mapping | None) -> tuple[pl.DataFrame, dict[str, str]]:
    """A day file's sku and price columns (and category, when mapped), read as the pipeline reads them."""
    if mapping is not None:
        raw, _ = read_orders_file(path)
        data_cols = [c for c in raw.columns if c not in (LINE, MALFORMED)]
        frame = map_file(raw, resolve(mapping, data_cols), path.stem, str(path))
        return frame, {k: k for k in ("sku", "price", "category") if k in frame.columns}
    cols = resolve_columns(read_header(path), path.name)
    if path.suffix == ".parquet":
        return pl.read_parquet(path, columns=[cols["sku"], cols["price"]]), cols
    return pl.concat(b.select(cols["sku"], cols["price"]) for b in csv_batches(path)), cols


def read_catalog_file(path: str | Path) -> pl.DataFrame:
    """catalog.csv (sku, category, price, optional name) as schema.CATALOG; any bad row fails the file."""
    raw, _ = read_orders_file(path)
    found = {c.strip().lower(): c for c in raw.columns if c not in (LINE, MALFORMED)}
    missing = [c for c in ("sku", "category", "price") if c not in found]
    if missing:
        raise LandingFileError(
            str(path), f"required column(s) {missing} missing; columns found: {list(found)}"
        )
    text = {k: pl.col(found[k]).str.strip_chars() for k in ("sku", "category", "price", "name") if k in found}
    cat = raw.select(
        pl.col(LINE),
        sku=text["sku"],
        name=pl.coalesce(text["name"].replace("", None), text["sku"]) if "name" in text else text["sku"],
        category=text["category"].replace("", None).fill_null("unknown"),
        price_text=text["price"],
        base_price=text["price"].cast(pl.Float64, strict=False),
    )
    bad = cat.filter(
        pl.col("sku").is_null()
        | (pl.col("sku") == "")
        | pl.col("base_price").is_null()
        | ~pl.col("base_price").is_finite()
        | (pl.col("base_price") < 0)
        | pl.col("sku").is_duplicated()
    )
    if bad.height:
        shown = "; ".join(
            f"line {r[LINE]}: sku={r['sku']!r} price={r['price_text']!r}"
            for r in bad.head(5).rows(named=True)
        )
        raise LandingFileError(
            str(path), f"{bad.height} row(s) need an sku (unique) and a price >= 0: {shown}"
        )
    return schema.conform(cat, schema.CATALOG)


def landing_catalog(landing_dir: str | Path) -> pl.DataFrame:
    """catalog.csv if present, else the daily files' SKUs (category ``unknown``, latest median price)."""
    root = local_folder(landing_dir)  # an object-store folder is read through its mirror
    if (root / CATALOG_FILE).is_file():
        return read_catalog_file(root / CATALOG_FILE)
    prices = []
    names = sorted(p.name for p in root.iterdir() if day_of(p.name)) if root.is_dir() else []
    mapping = landing_mapping(root)
    for order, name in enumerate(names):
        try:
            frame, cols = _sku_prices(root / name, mapping)
        except (LandingFileError, pl.exceptions.PolarsError, OSError):
            continue  # that day's run reports the problem; the catalog uses the files it can read
        prices.append(
            frame.select(
                sku=pl.col(cols["sku"]).cast(pl.String).str.strip_chars(),
                price=pl.col(cols["price"]).cast(pl.String).str.strip_chars().cast(pl.Float64, strict=False),
                category=pl.col(cols["category"]).cast(pl.String)
                if "category" in cols
                else pl.lit(None, pl.String),
                order=pl.lit(order),
            ).filter(pl.col("sku").str.len_bytes() > 0, pl.col("price").is_finite(), pl.col("price") >= 0)
        )
    if not prices:
        return schema.empty(schema.CATALOG)
    latest = (
        pl.concat(prices)
        .group_by("sku", "order")
        .agg(pl.col("price").median(), pl.col("category").drop_nulls().last())
        .sort("sku", "order")
        .group_by("sku", maintain_order=True)
        .last()
    )
    return schema.conform(
        latest.select(
            "sku",
            name="sku",
            category=pl.col("category").fill_null("unknown"),
            base_price=pl.col("price").round(2),
        ),
        schema.CATALOG,
    )

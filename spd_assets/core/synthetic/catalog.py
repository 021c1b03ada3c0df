"""The synthetic product catalog and the fixed shape of demand across SKUs and regions."""

from __future__ import annotations

import numpy as np
import polars as pl

from ..schema import CATALOG, REGIONS

CATEGORIES: tuple[str, ...] = (
    "electronics",
    "home",
    "apparel",
    "beauty",
    "sports",
    "toys",
    "books",
    "grocery",
)
_PRICE_MEDIAN = {  # typical unit price per category, in the shop's currency
    "electronics": 120.0,
    "home": 45.0,
    "apparel": 35.0,
    "beauty": 22.0,
    "sports": 55.0,
    "toys": 25.0,
    "books": 15.0,
    "grocery": 8.0,
}
_NOUNS = ("Classic", "Pro", "Lite", "Max", "Mini", "Eco", "Plus", "Prime")
REGION_SHARE = np.array([0.28, 0.17, 0.2, 0.12, 0.15, 0.08])  # in REGIONS order


def generate_catalog(n_skus: int = 200, seed: int = 7) -> pl.DataFrame:
    """A catalog of ``n_skus`` products over eight categories with log-normal prices."""
    if n_skus < len(CATEGORIES):
        raise ValueError(f"n_skus must be at least {len(CATEGORIES)}, got {n_skus}")
    rng = np.random.default_rng([seed, 1])
    cats = [CATEGORIES[i % len(CATEGORIES)] for i in rng.permutation(n_skus)]
    medians = np.array([_PRICE_MEDIAN[c] for c in cats])
    prices = np.round(medians * rng.lognormal(0.0, 0.45, n_skus), 2).clip(0.99)
    names = [f"{c.title()} {_NOUNS[i % len(_NOUNS)]} {i + 1}" for i, c in enumerate(cats)]
    return pl.DataFrame(
        {
            "sku": [f"SKU-{i + 1:04d}" for i in range(n_skus)],
            "name": names,
            "category": cats,
            "base_price": prices,
        },
        schema=CATALOG,
    )


def sku_popularity(n_skus: int, seed: int = 7, exponent: float = 1.05) -> np.ndarray:
    """Zipf-like weights (summing to 1) in catalog order: a few SKUs sell most, a long tail sells little."""
    rng = np.random.default_rng([seed, 2])
    ranks = rng.permutation(n_skus) + 1
    weights = 1.0 / ranks.astype(float) ** exponent
    return weights / weights.sum()


def cell_weights(catalog: pl.DataFrame, seed: int = 7) -> np.ndarray:
    """Expected share of orders in each (sku, region) cell; each region favours some categories."""
    rng = np.random.default_rng([seed, 3])
    cats = catalog["category"].to_list()
    affinity = {c: rng.uniform(0.6, 1.4, len(REGIONS)) for c in CATEGORIES}
    aff = np.array([affinity.get(c, np.ones(len(REGIONS))) for c in cats])
    weights = sku_popularity(len(cats), seed)[:, None] * REGION_SHARE[None, :] * aff
    return weights / weights.sum()

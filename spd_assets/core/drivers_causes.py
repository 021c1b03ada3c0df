"""Multi-dimensional root-cause localization: the few dimension-value combinations behind a deviation.

The ideas are those of the published methods, the code is our own. From HotSpot and Squeeze: the
ripple effect (a cause moves every leaf under it by about the same ratio), so a cause is a
combination whose leaves are almost all abnormal in the same direction. From RiskLoc: leaves are
first split into normal and abnormal by their relative deviation, with a cut-off set from the noise
of the normal ones. From Adtributor: prefer the most general explanation (fewest dimensions), and
stop when what is left is noise. Every cuboid (subset of dimensions) is one group-by, so a case of
50,000 leaves over 5 dimensions is 31 group-bys per round.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl


@dataclass(frozen=True)
class CauseParams:
    """Tuned on the training seeds of ``benchmarks/root_causes.py`` (see benchmarks/README.md)."""

    noise_quantile: float = 0.25  # the quantile of |relative deviation| taken as the noise scale
    noise_factor: float = 5.5  # abnormal: |deviation| above factor x that quantile ...
    min_cutoff: float = 0.05  # ... and above 5% in any case
    purity: float = 0.8  # share of a combination's leaves that must move with it (ripple effect)
    size_power: float = 0.0  # a combination of n leaves must deviate by cut-off x n^-power
    min_share: float = 0.003  # a cause explains at least this share of the abnormal deviation
    max_causes: int = 10


def _leaves(frame: Any, dimensions: Sequence[str], observed: str, expected: str) -> pl.DataFrame:
    data = frame if isinstance(frame, pl.DataFrame) else pl.from_pandas(frame)
    missing = [c for c in (*dimensions, observed, expected) if c not in data.columns]
    if missing:
        raise ValueError(f"root_causes: the frame has no column {', '.join(map(repr, missing))}")
    return (
        data.select(
            *[pl.col(d).cast(pl.String).cast(pl.Categorical) for d in dimensions],
            pl.col(observed).cast(pl.Float64).fill_null(0.0).alias("_v"),
            pl.col(expected).cast(pl.Float64).fill_null(0.0).alias("_f"),
        )
        .filter((pl.col("_v") != 0) | (pl.col("_f") != 0))
        .with_columns(
            _r=(pl.col("_v") - pl.col("_f")) / pl.max_horizontal(pl.col("_f").abs(), pl.lit(1e-9)),
        )
    )


def _cutoff(leaves: pl.DataFrame, params: CauseParams) -> float:
    noise = leaves.select(pl.col("_r").abs().quantile(params.noise_quantile)).item() or 0.0
    return max(params.min_cutoff, params.noise_factor * noise)


def _members(
    leaves: pl.DataFrame, dimensions: Sequence[str], params: CauseParams, cut: float
) -> pl.DataFrame:
    """Every pure, significant combination of every cuboid, one row per (combination, leaf).

    A leaf is consistent with a combination when its relative deviation lies nearer the
    combination's own than zero (the ripple effect); a combination is pure when nearly all of its
    leaves are, and significant when its deviation exceeds the leaf cut-off shrunk with its size.
    ``gain`` is the deviation of the leaf if consistent, else 0.
    """
    frames = []
    for depth in range(1, len(dimensions) + 1):
        for cuboid in itertools.combinations(dimensions, depth):
            ratio = (pl.col("_v").sum() / pl.col("_f").sum()).over(cuboid) - 1
            marked = leaves.with_columns(_re=ratio).with_columns(
                _ok=((pl.col("_r") - pl.col("_re")).abs() < pl.col("_r").abs())
                & (pl.col("_r").sign() == pl.col("_re").sign())
            )
            floor = pl.max_horizontal(pl.lit(params.min_cutoff), cut * pl.col("n").pow(-params.size_power))
            keys = (
                marked.group_by(cuboid)
                .agg(n=pl.len(), re=pl.col("_re").first(), pure=pl.col("_ok").mean())
                .filter((pl.col("pure") >= params.purity) & (pl.col("re").abs() >= floor))
            )
            if keys.height:
                frames.append(
                    marked.join(keys.select(cuboid), on=list(cuboid)).select(
                        pl.struct(*cuboid).struct.json_encode().alias("key"),
                        pl.lit(depth).alias("depth"),
                        "_i",
                        pl.when("_ok").then("_dev").otherwise(0.0).alias("gain"),
                    )
                )
    if not frames:
        return pl.DataFrame(schema={"key": pl.String, "depth": pl.Int32, "_i": pl.UInt32, "gain": pl.Float64})
    return pl.concat(frames, how="vertical_relaxed")


def _is_within(child: dict[str, str], parent: dict[str, str]) -> bool:
    return child != parent and all(child.get(k) == v for k, v in parent.items())


def root_causes(
    frame: Any,
    dimensions: Sequence[str],
    observed: str = "observed",
    expected: str = "expected",
    params: CauseParams | None = None,
) -> list[dict[str, str]]:
    """The smallest set of dimension-value combinations that explains the deviation of the total.

    ``frame`` (polars or pandas) holds one row per leaf. The result is ordered by the deviation each
    member explains, largest first; no member lies inside another, and noise alone gives ``[]``.
    """
    params = params or CauseParams()
    dims = list(dimensions)
    if not dims:
        raise ValueError("root_causes: give at least one dimension")
    leaves = _leaves(frame, dims, observed, expected)
    if leaves.is_empty():
        return []
    cut = _cutoff(leaves, params)
    leaves = leaves.with_columns(_dev=(pl.col("_v") - pl.col("_f")).abs()).with_row_index("_i")
    abnormal = leaves.filter(pl.col("_r").abs() > cut)["_dev"].sum()
    if abnormal <= 0:
        return []
    members = _members(leaves, dims, params, cut)
    chosen: list[dict[str, str]] = []
    while len(chosen) < params.max_causes and members.height:
        gains = members.group_by("key", "depth").agg(pl.col("gain").sum())
        # Largest unexplained deviation first; between equals, the more general combination.
        best = gains.sort(["gain", "depth", "key"], descending=[True, False, False]).row(0, named=True)
        if best["gain"] < params.min_share * abnormal:
            break
        chosen.append(json.loads(best["key"]))
        covered = members.filter(pl.col("key") == best["key"])["_i"]
        members = members.filter(~pl.col("_i").is_in(covered.implode()))
    kept = [c for c in chosen if not any(_is_within(c, other) for other in chosen)]
    return [{k: str(v) for k, v in c.items()} for c in kept]

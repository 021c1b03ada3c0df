"""Root-cause localization on generated cases with known causes: F1 of the set and time per case.

Cases of the published kind (Squeeze, RiskLoc): 5 dimensions of 5-12 values (a sample of at most
50,000 leaves of the cube), 1-3 causes at any layer (1 = a dimension value ... 5 = one leaf), each
moving its leaves by 30-90%, forecast noise up to 25% on every leaf. ``root_causes`` is compared with
a one-dimension-at-a-time baseline (Adtributor's idea without combinations). Parameters are chosen
on the tuning seeds and reported on the held-out seeds.

    python -m benchmarks.root_causes            # tune, report, write benchmarks/root_causes.json
    python -m benchmarks.root_causes --quick    # fewer cases, no tuning
"""

from __future__ import annotations

import argparse
import itertools
import json
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import polars as pl

from spd_assets.core.drivers import CauseParams, key_drivers, root_causes

MAX_LEAVES = 50_000
TUNE_SEEDS = range(0, 60)
REPORT_SEEDS = range(1000, 1200)
NOISE_ONLY_SEEDS = range(5000, 5040)


def generate_case(seed: int, n_causes: int | None = None, noise: float | None = None) -> dict:
    """One case: leaves (d0..d4, observed, expected), the true causes, and how it was drawn."""
    rng = np.random.default_rng(seed)
    sizes = rng.integers(5, 13, size=5)
    dims = [f"d{i}" for i in range(5)]
    cube = np.array(list(itertools.product(*[range(s) for s in sizes])), dtype=np.int32)
    if len(cube) > MAX_LEAVES:
        cube = cube[np.sort(rng.choice(len(cube), MAX_LEAVES, replace=False))]
    real = rng.lognormal(3.0, 1.0, size=len(cube))
    noise = float(rng.uniform(0.0, 0.25)) if noise is None else noise
    expected = real * (1 + rng.uniform(-noise, noise, size=len(cube)))
    observed = real.copy()
    n_causes = int(rng.integers(1, 4)) if n_causes is None else n_causes
    causes: list[dict[str, str]] = []
    hit = np.zeros(len(cube), dtype=bool)
    layers = []
    for _ in range(200):
        if len(causes) == n_causes:
            break
        layer = int(rng.integers(1, 6))
        picked = sorted(rng.choice(5, layer, replace=False))
        leaf = cube[rng.integers(len(cube))]
        mask = np.all(cube[:, picked] == leaf[picked], axis=1)
        if (mask & hit).any():  # causes do not overlap, so the truth is unambiguous
            continue
        hit |= mask
        magnitude = rng.uniform(0.3, 0.9)
        observed[mask] *= (1 - magnitude) if rng.random() < 0.75 else (1 + magnitude)
        causes.append({dims[d]: f"v{leaf[d]}" for d in picked})
        layers.append(layer)
    frame = pl.DataFrame({d: [f"v{x}" for x in cube[:, i]] for i, d in enumerate(dims)}).with_columns(
        observed=pl.Series(observed), expected=pl.Series(expected)
    )
    return {"frame": frame, "dims": dims, "causes": causes, "layers": layers, "noise": noise}


def one_dimension_baseline(frame: pl.DataFrame, dims: list[str], share: float = 0.67) -> list[dict]:
    """Per dimension, the fewest values explaining ``share`` of the total deviation; the best dimension."""
    total = (frame["observed"] - frame["expected"]).sum()
    best: tuple[float, list[dict]] = (-1.0, [])
    for d in dims:
        g = frame.group_by(d).agg(dev=(pl.col("observed") - pl.col("expected")).sum())
        g = g.with_columns(ep=pl.col("dev") / total).sort("ep", descending=True)
        picked, acc = [], 0.0
        for value, ep in zip(g[d], g["ep"], strict=True):
            if acc >= share or ep <= 0:
                break
            picked.append({d: value})
            acc += ep
        score = acc / max(len(picked), 1)  # explanatory power per member: a concentrated dimension wins
        if acc >= share and score > best[0]:
            best = (score, picked)
    return best[1]


def f1(found: list[dict], truth: list[dict]) -> float:
    if not found and not truth:
        return 1.0
    hits = sum(1 for c in found if c in truth)
    return 2 * hits / (len(found) + len(truth))


def evaluate(seeds, method, **case_kw) -> dict:
    rows = []
    for seed in seeds:
        case = generate_case(seed, **case_kw)
        start = time.perf_counter()
        found = method(case["frame"], case["dims"])
        seconds = time.perf_counter() - start
        rows.append(
            {
                "f1": f1(found, case["causes"]),
                "seconds": seconds,
                "leaves": case["frame"].height,
                "n_causes": len(case["causes"]),
                "found": len(found),
                "layers": case["layers"],
                "hits": [c in found for c in case["causes"]],
            }
        )
    return summarize(rows)


def summarize(rows: list[dict]) -> dict:
    by_layer = {}
    for layer in range(1, 6):
        hits = [h for r in rows for lay, h in zip(r["layers"], r["hits"], strict=True) if lay == layer]
        recall = round(float(np.mean(hits)), 3) if hits else None
        by_layer[str(layer)] = {"causes": len(hits), "recall": recall}
    big = [r["seconds"] for r in rows if r["leaves"] >= 40_000]
    return {
        "cases": len(rows),
        "mean_f1": round(float(np.mean([r["f1"] for r in rows])), 3),
        "by_causes": {
            str(k): round(float(np.mean([r["f1"] for r in rows if r["n_causes"] == k])), 3)
            for k in sorted({r["n_causes"] for r in rows})
        },
        "recall_by_layer": by_layer,
        "mean_found": round(float(np.mean([r["found"] for r in rows])), 2),
        "seconds_mean": round(float(np.mean([r["seconds"] for r in rows])), 3),
        "seconds_max": round(float(np.max([r["seconds"] for r in rows])), 3),
        "seconds_p95_at_40k_plus_leaves": round(float(np.percentile(big, 95)), 3) if big else None,
        "cases_at_40k_plus_leaves": len(big),
    }


def ours(params: CauseParams):
    return lambda frame, dims: root_causes(frame, dims, params=params)


def tune(seeds) -> tuple[CauseParams, list[dict]]:
    grid = []
    for factor, purity, power in itertools.product((4.5, 5.5, 6.5), (0.8, 0.9), (0.0, 0.15)):
        params = replace(CauseParams(), noise_factor=factor, purity=purity, size_power=power)
        result = evaluate(seeds, ours(params))
        grid.append(
            {"noise_factor": factor, "purity": purity, "size_power": power, "mean_f1": result["mean_f1"]}
        )
    top = max(grid, key=lambda g: g["mean_f1"])
    chosen = {k: top[k] for k in ("noise_factor", "purity", "size_power")}
    return replace(CauseParams(), **chosen), grid


def time_key_drivers(repeats: int = 3) -> dict:
    """Seconds for the key drivers of a week against the week before over a year at 500 SKUs x 6 regions."""
    import datetime as dt

    rng = np.random.default_rng(0)
    days = [dt.date(2025, 1, 1) + dt.timedelta(days=i) for i in range(365)]
    skus = [f"SKU-{i:04d}" for i in range(500)]
    regions = ["us-east", "us-west", "eu-west", "eu-central", "apac", "latam"]
    grid = list(itertools.product(days, skus, regions))
    orders = rng.poisson(5, len(grid))
    frame = pl.DataFrame(
        {
            "date": [g[0] for g in grid],
            "sku": [g[1] for g in grid],
            "category": [f"cat-{int(g[1][4:]) % 12}" for g in grid],
            "region": [g[2] for g in grid],
            "orders": orders,
            "units": orders * 2,
            "revenue": orders * rng.uniform(10, 60, len(grid)),
        }
    )
    base, current = (days[-14], days[-8]), (days[-7], days[-1])
    result = {"rows": frame.height}
    for kpi in ("revenue", "aov"):
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            key_drivers(frame, kpi, base, current)
            times.append(time.perf_counter() - start)
        result[f"{kpi}_seconds"] = round(min(times), 3)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="40 held-out cases, no tuning")
    parser.add_argument("--drivers", action="store_true", help="only time key_drivers, into the JSON file")
    parser.add_argument("--out", default=str(Path(__file__).with_name("root_causes.json")))
    args = parser.parse_args(argv)
    if args.drivers:
        out = Path(args.out)
        result = json.loads(out.read_text()) if out.exists() else {}
        result["key_drivers"] = time_key_drivers()
        out.write_text(json.dumps(result, indent=2) + "\n")
        print(json.dumps(result["key_drivers"], indent=2))
        return 0
    report_seeds = REPORT_SEEDS[:40] if args.quick else REPORT_SEEDS
    params, grid = (CauseParams(), []) if args.quick else tune(TUNE_SEEDS)
    result = {
        "params": asdict(params),
        "tuning_seeds": f"{TUNE_SEEDS.start}..{TUNE_SEEDS.stop - 1}",
        "report_seeds": f"{report_seeds.start}..{report_seeds.stop - 1}",
        "tuning_grid": grid,
        "root_causes": evaluate(report_seeds, ours(params)),
        "one_dimension_baseline": evaluate(report_seeds, one_dimension_baseline),
        "key_drivers": time_key_drivers(),
        "noise_only": {
            "cases": len(NOISE_ONLY_SEEDS),
            "empty_share": float(
                np.mean(
                    [
                        not root_causes(c["frame"], c["dims"], params=params)
                        for c in (generate_case(s, n_causes=0) for s in NOISE_ONLY_SEEDS)
                    ]
                )
            ),
        },
    }
    if not args.quick:
        Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "tuning_grid"}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

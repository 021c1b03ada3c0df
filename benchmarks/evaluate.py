"""Detection quality over a family of shop shapes: recall per incident kind, precision per alert-day and
per episode, false alerts per 1,000 series-days and delays, for the default rules and the seed rule.

Run as ``python -m benchmarks.evaluate`` (``make evaluate``; ``--quick`` for a small family). Each
shape (``spd_assets.core.synthetic.shapes``) is generated as daily counts per cell with the core
functions (no Dagster), rolled up to every level, and every rule runs over the whole year at once.
Thresholds were chosen on ``--tune-seed`` of the TUNING shapes; the figures that count are those of
``--seed``, and among them the HELD_OUT shapes, which tuning never saw in any seed.

How an alert is scored (benchmarks/scoring.py): an incident is found when an alert names its own
series on a day inside its window (delay = first such day - start); an alert-day is true when it
names an incident's own series inside the window or a series whose expected orders that day an
incident cut by at least IMPLIED_DROP; an episode is true when any of its alert-days is.

``default+feedback`` (reported seed): the default's alerts after a year of feedback simulated from
the ground truth, day by day, through the threshold adjustments of ``core.feedback``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, replace
from pathlib import Path

import polars as pl

from spd_assets.core.detect import HISTORY_DAYS, DetectionConfig, detect_drops
from spd_assets.core.metrics import daily_series
from spd_assets.core.schema import LEVELS
from spd_assets.core.synthetic.shapes import FAMILY, FRESH_FAMILY, QUICK_FAMILY, Shape, generate_shop

from .feedback import VARIANT as FEEDBACK
from .feedback import score_with_feedback
from .scoring import merge, score, summarize, table

OUT = Path(__file__).with_name("detection.json")
DEFAULT = DetectionConfig()
VARIANTS = {"default": DEFAULT, "seed_wow": replace(DEFAULT, rules=("seed_wow",))}
# The thresholds leave-one-shape-out chooses among: the one-day and the window z (the default first).
GRID = {
    f"z{z}/wz{wz}": replace(DEFAULT, z_threshold=z, window_z_threshold=wz)
    for z in (DEFAULT.z_threshold, 3.0)
    for wz in (DEFAULT.window_z_threshold, 3.5)
}
MIN_PRECISION, MAX_FALSE_PER_1K = 0.9, 0.5
NO_ROWS = pl.lit(False)  # only the alerts are scored: no scored series-day is kept (or sorted)
TUNING = ("demo", "small", "fast_growth", "promotions")
HELD_OUT = ("weekend_peak", "overdispersed", "dominant_region", "huge")


def evaluate_shape(
    shape: Shape, seed: int, first: dt.date, last: dt.date, variants: dict, feedback: bool = False
) -> dict:
    """Raw counts of every variant on one generated shop year (and, if asked, of the default's alerts
    after a year of simulated feedback: ``benchmarks.feedback``)."""
    shop = generate_shop(shape, first, last, HISTORY_DAYS, seed)
    series = daily_series(shop.daily_agg, shop.days).filter(pl.col("level").is_in(LEVELS))  # checked ones
    days = shop.days[HISTORY_DAYS:]
    n_series = series.select("level", "sku", "category", "region").unique().height
    out = {}
    for name, cfg in variants.items():
        alerts = detect_drops(series, days, available=shop.days, config=cfg, keep=NO_ROWS).alerts
        out[name] = score(alerts, shop, days, n_series)
        if feedback and name == "default":
            out[FEEDBACK] = score_with_feedback(alerts, shop, days, n_series)
    return out


WORKERS = 2  # shapes run in parallel processes: one detect_drops call keeps about one core busy


def _workers() -> ProcessPoolExecutor:
    """WORKERS fresh processes with one Polars thread each: the shops are the parallel work, and two
    processes of two threads each on two cores spent 10% more time (measured) waiting on each other.
    Spawned, not forked: a fork copies the parent's thread pool already sized."""
    os.environ.setdefault("POLARS_MAX_THREADS", "1")  # read when a worker imports polars
    return ProcessPoolExecutor(WORKERS, mp_context=multiprocessing.get_context("spawn"))


def run(
    family: dict[str, Shape],
    jobs: dict[int, dict],
    first: dt.date,
    last: dt.date,
    feedback: int | None = None,
    extra: dict[tuple, tuple[Shape, int, dict]] | None = None,
) -> dict:
    """{seed: {shape: {variant: raw counts}}} for ``jobs`` {seed: variants}, shapes in parallel; the
    ``feedback`` seed's default alerts are also scored after simulated feedback. ``extra``: more
    {key: (shape, seed, variants)} run in the same pool, their counts under "extra" by key."""
    tasks = {(seed, n): (family[n], seed, jobs[seed], seed == feedback) for seed in jobs for n in family}
    for key, (shape, seed, variants) in (extra or {}).items():
        tasks[("extra", *key)] = (shape, seed, variants, False)

    def cost(k: tuple) -> int:  # series x variants: the longest tasks first, a short one last
        shape, _, variants, _ = tasks[k]
        return -shape.n_skus * len(shape.regions) * len(variants)

    with _workers() as pool:
        futures = {k: pool.submit(evaluate_shape, *tasks[k][:2], first, last, *tasks[k][2:])
                   for k in sorted(tasks, key=cost)}  # fmt: skip
        out: dict = {seed: {n: futures[(seed, n)].result() for n in family} for seed in jobs}
        out["extra"] = {k[1:]: f.result() for k, f in futures.items() if k[0] == "extra"}
        return out


def pooled_seeds(counts: dict[int, dict[str, dict]], seeds: list[int], shapes: list[str]) -> dict:
    """Per shape, the default's counts over ``seeds`` added up, then every shape's pooled."""
    per = {n: {"default": summarize(merge([counts[s][n] for s in seeds]))} for n in shapes}
    per["pooled"] = {"default": summarize(merge([counts[s][n] for s in seeds for n in shapes]))}
    return per


def choose(tuning: dict[str, dict], held_out: str) -> str:
    """The GRID point for ``held_out``, chosen on the other shapes' tuning-seed counts: the best pooled
    recall among the points that keep *every* other shape at the targets (precision per alert-day and
    per episode >= MIN_PRECISION, false alerts <= MAX_FALSE_PER_1K); if none does, the point whose
    worst shape is the most precise. Per shape, as the targets are: a pooled precision is mostly the
    biggest shop's."""
    others = [by for n, by in tuning.items() if n != held_out]

    def worst(g: str) -> tuple[float, float]:
        shapes = [summarize(by[g])["all"] for by in others]
        precision = min(min(m["precision_alert_days"] or 1.0, m["precision_episodes"] or 1.0) for m in shapes)
        return precision, max(m["false_per_1000_series_days"] or 0.0 for m in shapes)

    recall = {g: summarize(merge([by[g] for by in others]))["all"]["recall"] or 0 for g in GRID}
    ok = [g for g in GRID if worst(g)[0] >= MIN_PRECISION and worst(g)[1] <= MAX_FALSE_PER_1K]
    if not ok:
        return max(GRID, key=lambda g: (worst(g)[0], -list(GRID).index(g)))
    return max(ok, key=lambda g: (recall[g], -list(GRID).index(g)))


def leave_one_shape_out(
    family: dict[str, Shape], seed: int, tuning: dict, first: dt.date, last: dt.date, reported: dict
) -> tuple[dict, dict]:
    """{shape: chosen grid point} and {shape: counts on ``seed`` with it}; reuses ``reported``'s default.

    ``tuning`` holds every GRID point's counts per shape on the tuning seed.
    """
    chosen = {n: choose(tuning, n) for n in family}
    rerun = {n for n in family if chosen[n] != next(iter(GRID))}
    with _workers() as pool:
        futures = {
            n: pool.submit(evaluate_shape, family[n], seed, first, last, {"g": GRID[chosen[n]]})
            for n in rerun
        }
        counts = {n: futures[n].result()["g"] if n in rerun else reported[n]["default"] for n in family}
    return chosen, counts


def loso_report(chosen: dict[str, str], loso: dict[str, dict], seed: int, tune_seed: int) -> dict:
    """Each shape with the grid point the other shapes chose, and those figures pooled."""
    label = f"seed {seed}, leave-one-shape-out (grid point chosen on the other shapes' seed {tune_seed})"
    return {
        label: {n: {f"loso {chosen[n]}": summarize(c)} for n, c in loso.items()},
        f"seed {seed}, leave-one-shape-out pooled": {"loso": summarize(merge(list(loso.values())))},
    }


def report(raw: dict, seed: int, tune_seed: int, held_out: tuple[str, ...]) -> dict:
    """Summaries per shape (reported seed and tuning seed), pooled held-out shapes, and per kind."""
    out: dict = {}
    for label, s in ((f"seed {seed} (reported)", seed), (f"seed {tune_seed} (tuning)", tune_seed)):
        if s in raw:
            out[label] = {shape: {v: summarize(c) for v, c in by.items()} for shape, by in raw[s].items()}
    shapes = [n for n in raw[seed] if n in held_out] or list(raw[seed])
    variants = next(iter(raw[seed].values())).keys()
    out[f"seed {seed}, held-out shapes pooled ({', '.join(shapes)})"] = {
        v: summarize(merge([raw[seed][n][v] for n in shapes])) for v in variants
    }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=7, help="seed the figures are reported on")
    parser.add_argument("--tune-seed", type=int, default=11, help="seed the thresholds were tuned on")
    parser.add_argument("--first", type=dt.date.fromisoformat, default=dt.date(2025, 1, 1))
    parser.add_argument("--last", type=dt.date.fromisoformat, default=dt.date(2025, 12, 31))
    parser.add_argument(
        "--seeds",
        default="7,8,9",
        help="seeds whose default figures are pooled per shape (the first is --seed's)",
    )
    parser.add_argument("--quick", action="store_true", help="three small shapes over four months")
    parser.add_argument("--tuning", action="store_true", help="only the tuning seed and shapes")
    parser.add_argument("--out", type=Path, default=OUT, help="where the JSON goes")
    args = parser.parse_args()
    family, fresh, last = FAMILY, FRESH_FAMILY, args.last
    seeds = [args.seed, *(int(s) for s in args.seeds.split(",") if int(s) != args.seed)]
    if args.quick:
        family, last = QUICK_FAMILY, args.first + dt.timedelta(days=119)
        fresh = {n: replace(s, n_skus=min(s.n_skus, 60), orders_per_day=min(s.orders_per_day, 3_000))
                 for n, s in FRESH_FAMILY.items()}  # fmt: skip
        seeds = seeds[:2]
    started = time.perf_counter()
    if args.tuning:
        raw = run(
            {n: s for n, s in family.items() if n in TUNING}, {args.tune_seed: VARIANTS}, args.first, last
        )
        results = {f"seed {args.tune_seed} (tuning)": {
            shape: {v: summarize(c) for v, c in by.items()} for shape, by in raw[args.tune_seed].items()
        }}  # fmt: skip
    else:
        default = {"default": DEFAULT}
        extra = {("more", s, n): (family[n], s, default) for s in seeds[1:] for n in family}
        extra |= {("fresh", s, n): (fresh[n], s, VARIANTS if s == args.seed else default)
                  for s in seeds for n in fresh}  # fmt: skip
        both = run(family, {args.seed: VARIANTS, args.tune_seed: GRID}, args.first, last, args.seed, extra)
        raw = {args.seed: both[args.seed]}
        more = {s: {n: (raw[s][n] if s == args.seed else both["extra"][("more", s, n)])["default"]
                    for n in family} for s in seeds}  # fmt: skip
        fresh_counts = {s: {n: both["extra"][("fresh", s, n)]["default"] for n in fresh} for s in seeds}
        label = ", ".join(map(str, seeds))
        results = report(raw, args.seed, args.tune_seed, HELD_OUT)
        tuning = both[args.tune_seed]
        results[f"seed {args.tune_seed} (tuning), every grid point"] = {
            shape: {g: summarize(c) for g, c in by.items()} for shape, by in tuning.items()
        }
        chosen, loso = leave_one_shape_out(family, args.seed, tuning, args.first, last, raw[args.seed])
        results |= loso_report(chosen, loso, args.seed, args.tune_seed)
        results[f"seeds {label} pooled, every shape"] = pooled_seeds(more, seeds, list(family))
        held_out = [n for n in HELD_OUT if n in family] or list(family)
        results[f"seeds {label} pooled, held-out shapes"] = pooled_seeds(more, seeds, held_out)
        fresh_report = pooled_seeds(fresh_counts, seeds, list(fresh))
        for n in fresh:
            fresh_report[n][f"seed_wow (seed {args.seed})"] = summarize(
                both["extra"][("fresh", args.seed, n)]["seed_wow"]
            )
        results[f"fresh shapes (never used to choose a default), seeds {label} pooled"] = fresh_report
    elapsed = time.perf_counter() - started
    for name, block in results.items():
        print(f"{name}:\n{table(block)}\n")
    setup = {
        "seed": args.seed, "tune_seed": args.tune_seed, "first": str(args.first), "last": str(last),
        "seeds": seeds, "quick": args.quick, "tuning_shapes": list(TUNING), "held_out_shapes": list(HELD_OUT),
        "fresh_shapes": list(fresh), "shapes": {n: asdict(s) for n, s in {**family, **fresh}.items()},
        "variants": {n: asdict(c) for n, c in VARIANTS.items()}, "seconds": round(elapsed, 1),
        "grid": {n: {"z_threshold": c.z_threshold, "window_z_threshold": c.window_z_threshold}
                 for n, c in GRID.items()},
        "selection": f"max pooled recall with every other shape at precision (alert-days and episodes) >= "
                     f"{MIN_PRECISION} and <= {MAX_FALSE_PER_1K} false / 1k",
    }  # fmt: skip
    args.out.write_text(json.dumps({"setup": setup, "results": results}, indent=2, default=str) + "\n")
    print(f"wrote {args.out} in {elapsed:.0f} s")


if __name__ == "__main__":
    main()

"""What a process pays for loading spd's definitions (a nightly CLI run loads them once, then runs)."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import dagster as dg
import pytest
from conftest import materialize_range, recent_days

from benchmarks.landing import check, write_history
from spd_assets.core import schema
from spd_assets.core.storage import DayStore
from spd_assets.definitions import build_defs

ROOT = Path(__file__).resolve().parents[1]


def _python(code: str, tmp_path: Path) -> list[str]:
    """Run ``code`` in a fresh interpreter with the checkout's settings pointed at ``tmp_path``."""
    env = {**os.environ, "SPD_DATA_DIR": str(tmp_path / "data"), "DAGSTER_HOME": str(tmp_path / "home")}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout.split()


def test_loaded_definitions_are_left_out_of_the_collectors_walks(tmp_path) -> None:
    """Everything alive once the definitions are built is frozen (never walked again by a full
    collection); garbage made afterwards is still collected."""
    code = (
        "import gc, weakref\n"
        "import spd_assets.definitions as d\n"
        "frozen = gc.get_freeze_count()\n"
        "tracked = any(o is d.defs for o in gc.get_objects())\n"
        "class Cycle: pass\n"
        "c = Cycle(); c.me = c; gone = weakref.ref(c); del c\n"
        "gc.collect()\n"
        "print(frozen, tracked, gone() is None)\n"
    )
    frozen, defs_tracked, later_garbage_collected = _python(code, tmp_path)
    assert int(frozen) > 50_000  # Dagster, Polars and the definitions: hundreds of thousands of objects
    assert defs_tracked == "False"
    assert later_garbage_collected == "True"


def test_the_process_freezes_what_is_left_at_exit(tmp_path) -> None:
    """At exit the rest is frozen too, so the interpreter's last collections walk nothing."""
    code = (
        "import atexit, gc\n"
        "atexit.register(lambda: print(len(gc.get_objects()), gc.get_freeze_count() > 0))\n"
        "import spd_assets.definitions\n"
        "junk = [[i] for i in range(10_000)]\n"  # made after the load: tracked until exit
    )
    left, frozen = _python(code, tmp_path)  # the handler registered first runs last
    assert int(left) < 1_000
    assert frozen == "True"


def test_a_landing_day_writes_empty_ground_truth_without_loading_the_catalog(settings, instance) -> None:
    """A landing source injects nothing: its injected_drops day is an empty file in the schema, written
    without an input (the catalog is not even materialized here)."""
    defs = build_defs(replace(settings, source="landing"))
    (day,) = recent_days(1)
    result = dg.materialize(
        [defs.get_assets_def("injected_drops")],
        partition_key=day.isoformat(),
        instance=instance,
        resources=defs.resources,
    )
    assert result.success
    assert not [e for e in result.all_events if e.event_type_value == "LOADED_INPUT"]
    stored = DayStore(settings.data_dir).read("injected_drops", day)
    assert stored.is_empty()
    assert stored.schema == schema.empty(schema.INJECTED_DROPS).schema


def test_a_landing_run_loads_the_catalog_only_where_it_is_used(settings, instance, tmp_path) -> None:
    """Validating a landing file needs no catalog: orders and injected_drops skip loading it, daily_agg
    joins it as before; every line is an order or a quarantined row and revenue equals to the cent."""
    days = recent_days(2)
    landing_dir = tmp_path / "exports"
    write_history(landing_dir, days, lines=3_000, skus=30, regions=3)
    defs = build_defs(replace(settings, source="landing", landing_dir=str(landing_dir)))
    result = materialize_range(defs, instance, days[0], days[-1])
    assert result.success
    catalog_loads = {
        e.step_key
        for e in result.all_events
        if e.event_type_value == "LOADED_INPUT" and e.event_specific_data.input_name == "catalog"
    }
    assert catalog_loads == {"daily_agg"}
    assert check(Path(settings.data_dir), landing_dir, days) == {
        "revenue_equal": True,
        "days_unequal": [],
        "lines_lost_days": [],
    }


def test_synthetic_ground_truth_is_the_sources_truth_of_each_day(defs, settings, instance) -> None:
    days = recent_days(20)
    result = materialize_range(defs, instance, days[0], days[-1])
    assert result.success
    store = DayStore(settings.data_dir)
    catalog, source = store.read("catalog"), defs.resources["source"]
    for day in days:
        assert store.read("injected_drops", day).equals(source.truth(day, catalog))


@pytest.mark.slow
def test_the_startup_benchmark_splits_a_nightly_cli_run_into_its_phases(monkeypatch) -> None:
    """``benchmarks.startup`` at a tiny size: the phases, read from the run's own events, follow one
    another and add up to the command's wall time; no time is asserted."""
    from benchmarks import startup

    monkeypatch.setenv("BENCH_QUICK", "1")
    out = startup.measure()
    nightly = out["nightly"]
    phases = ["to_first_event_s", "planned_events_s", "to_first_step_s", "steps_s", "after_steps_s", "exit_s"]
    assert all(nightly[p] >= 0 for p in phases), nightly
    assert sum(nightly[p] for p in phases) == pytest.approx(nightly["wall_s"], abs=0.01)
    assert nightly["events"] > 50 and nightly["steps_s"] > 0
    # each step's own time lies within the steps' span; the orders step is one of them
    assert "orders_and_quarantine" in out["steps_s"], out["steps_s"]
    assert all(0 < t <= nightly["steps_s"] + 0.01 for t in out["steps_s"].values()), out["steps_s"]
    assert set(out["imports"]) == {"dagster_cli_s", "import_dagster_and_polars_s", "import_definitions_s"}

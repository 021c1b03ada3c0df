"""What a process pays for loading spd's definitions (a nightly CLI run loads them once, then runs)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

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

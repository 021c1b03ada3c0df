"""`make audit`'s report (.ci/audit.py): which fixes fit the pins, and one line when the service is away."""

from __future__ import annotations

import importlib.util
import socket
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("audit", ROOT / ".ci" / "audit.py")
audit = importlib.util.module_from_spec(spec)
spec.loader.exec_module(audit)


def test_a_fix_inside_the_pins_is_an_upgrade_and_one_outside_asks_to_widen_the_pin():
    assert "within the pins: uv lock --upgrade-package requests" in audit.advice(
        "requests", ["2.32.0"], Requirement("requests>=2.31")
    )
    assert "outside the pin pandas<3" in audit.advice("pandas", ["3.0.1"], Requirement("pandas<3"))
    assert audit.advice("x", [], None) == "no fixed release yet"


def test_the_project_pins_cover_runtime_and_dev_groups():
    own = audit.pins(ROOT / "pyproject.toml")
    assert {"dagster", "polars", "pytest", "pip-audit"} <= set(own)


def test_an_unreachable_service_is_one_line_and_not_a_failure(tmp_path, capsys):
    with socket.socket() as s:  # a loopback port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    rc = audit.main(
        str(tmp_path / "req.txt"), str(ROOT / "pyproject.toml"), f"http://127.0.0.1:{port}/pypi/pip/json"
    )
    out = capsys.readouterr().out.strip().splitlines()
    assert rc == 0 and len(out) == 1 and "not reachable" in out[0]

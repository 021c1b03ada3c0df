"""`make audit`: pip-audit on the locked dependencies, and which fixes fit the project's own pins.

Runs in its own environment (.tools/audit), so the audit tool never enters the test environment.
The vulnerability service (PyPI's JSON API) may be out of reach from a sandbox: then it says so in
one line and exits 0, since an unreachable service says nothing about the dependencies.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
import urllib.request
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

SERVICE = "https://pypi.org/pypi/pip/json"


def reachable(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=10):
            return True
    except OSError:
        return False


def pins(pyproject: Path) -> dict[str, Requirement]:
    """The project's own requirement specifiers (runtime and dependency groups), by package name."""
    data = tomllib.loads(pyproject.read_text())
    listed = list(data["project"]["dependencies"])
    for group in data.get("dependency-groups", {}).values():
        listed += [r for r in group if isinstance(r, str)]
    return {canonicalize_name(r.name): r for r in map(Requirement, listed)}


def advice(name: str, fix_versions: list[str], pin: Requirement | None) -> str:
    """What to do about one vulnerability: an upgrade the pins allow, a pin to widen, or nothing yet."""
    fixes = sorted(Version(v) for v in fix_versions)
    allowed = [v for v in fixes if pin is None or pin.specifier.contains(v, prereleases=True)]
    if allowed:
        return f"fixed in {allowed[0]}, within the pins: uv lock --upgrade-package {name}"
    if fixes:
        return f"fixed in {fixes[0]}, outside the pin {pin}: widen it in pyproject.toml"
    return "no fixed release yet"


def main(requirements: str, pyproject: str = "pyproject.toml", service: str = SERVICE) -> int:
    if not reachable(service):
        print(
            f"audit: the vulnerability service ({service.split('/pypi/')[0]}) is not reachable from here; "
            "run `make audit` on a machine that reaches it"
        )
        return 0
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip_audit",
            "-r",
            requirements,
            "--no-deps",
            "--disable-pip",
            "--format",
            "json",
            "--progress-spinner",
            "off",
        ],
        capture_output=True,
        text=True,
    )
    try:
        report = json.loads(done.stdout)
    except json.JSONDecodeError:
        print(f"audit: pip-audit failed (exit {done.returncode}): {done.stderr.strip()[-500:]}")
        return 0 if "connection" in done.stderr.lower() else 1
    own = pins(Path(pyproject))
    locked = report.get("dependencies", [])
    vulnerable = [d for d in locked if d.get("vulns")]
    print(f"audit: {len(locked)} locked packages, {len(vulnerable)} with known vulnerabilities")
    for dep in vulnerable:
        for vuln in dep["vulns"]:
            how = advice(dep["name"], vuln.get("fix_versions", []), own.get(canonicalize_name(dep["name"])))
            print(f"  {dep['name']} {dep['version']}: {vuln['id']} - {how}")
    return 1 if vulnerable else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))

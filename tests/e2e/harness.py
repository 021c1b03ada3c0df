"""Servers and a browser for the end-to-end tests: `dagster dev` and `streamlit run` on free loopback
ports, each in its own process group (stopped as a group), and Debian's headless Chromium via Playwright."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from spd_assets.core.storage import DayStore
from spd_assets.launcher import DAGSTER_YAML, STREAMLIT_FLAGS

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
IDLE = "[data-testid=stApp][data-test-connection-state=CONNECTED][data-test-script-state=notRunning]"
# How long a page may take to draw its plotly charts: a browser parses the plotly bundle on first use,
# which took over 30 s beside the load test's ten Chromium sessions on 2 cores.
CHART_MS = 120_000


def chromium_missing() -> str | None:
    """Why the browser tests cannot run here, or None."""
    if not Path(CHROMIUM).exists():
        return f"{CHROMIUM} is not installed (apt-get install -y chromium; .ci/run does it)"
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    """A server process (leader of its own group), where it answers, and where its output goes."""

    name: str
    url: str
    health: str
    proc: subprocess.Popen
    log: Path

    def tail(self, chars: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""

    def ready(self, timeout_s: float = 90) -> Server:
        """Wait for ``url + health`` to answer 200; if the server dies or never answers, fail with its log."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}:\n{self.tail()}")
            if _get(self.url + self.health) is not None:
                return self
            time.sleep(0.3)
        raise RuntimeError(
            f"{self.name} did not answer {self.url + self.health} in {timeout_s:.0f} s:\n{self.tail()}"
        )

    def stop(self) -> None:
        """SIGTERM the whole group, then SIGKILL whatever is left (dagster dev's children included)."""
        for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 5)):
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                return
            try:
                self.proc.wait(timeout=wait)
            except subprocess.TimeoutExpired:
                continue


def _get(url: str, timeout_s: float = 2) -> bytes | None:
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as resp:
            return resp.read() if resp.status == 200 else None
    except OSError:
        return None


def launch(name: str, cmd: list[str], env: dict[str, str], port: int, health: str, logs: Path) -> Server:
    """Start ``cmd`` in its own session (so it and its children stop as one); does not wait."""
    log = logs / f"{name}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            cmd, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    return Server(name, f"http://127.0.0.1:{port}", health, proc, log)


def wait_code_location_loaded(url: str, timeout_s: float = 90) -> None:
    """Poll the webserver's GraphQL until every code location has loaded; a load error fails at once."""
    query = json.dumps(
        {
            "query": "{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus"
            " locationOrLoadError { __typename ... on PythonError { message } } } } } }"
        }
    ).encode()
    deadline = time.monotonic() + timeout_s
    entries: list = []
    while time.monotonic() < deadline:
        request = urllib.request.Request(
            f"{url}/graphql", data=query, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=5) as resp:
                entries = json.loads(resp.read())["data"]["workspaceOrError"]["locationEntries"]
        except (OSError, KeyError, TypeError, ValueError):
            entries = []
        errors = [
            e for e in entries if (e.get("locationOrLoadError") or {}).get("__typename") == "PythonError"
        ]
        if errors:
            raise RuntimeError(f"code location failed to load: {errors[0]['locationOrLoadError']['message']}")
        if entries and all(e["loadStatus"] == "LOADED" for e in entries):
            return
        time.sleep(0.5)
    raise RuntimeError(f"code locations not loaded within {timeout_s:.0f} s: {entries}")


def graphql(url: str, query: str, variables: dict | None = None, timeout_s: float = 30) -> dict:
    """POST a GraphQL query to the webserver, as the UI does; returns ``data`` (errors raise)."""
    body = json.dumps({"query": query, "variables": variables or {}}).encode()
    request = urllib.request.Request(
        f"{url}/graphql", data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=timeout_s) as resp:
        answer = json.loads(resp.read())
    if answer.get("errors"):
        raise RuntimeError(f"GraphQL errors: {answer['errors']}")
    return answer["data"]


RUNS_QUERY = """query($statuses: [RunStatus!]) { runsOrError(filter: {statuses: $statuses}) {
  ... on Runs { results { runId status tags { key value } } } } }"""
UNFINISHED = ["QUEUED", "NOT_STARTED", "STARTING", "STARTED", "CANCELING"]


def runs(url: str, statuses: list[str]) -> list[dict]:
    return graphql(url, RUNS_QUERY, {"statuses": statuses})["runsOrError"]["results"]


def wait_until(what: str, check, timeout_s: float, every_s: float = 1.0, log: Server | None = None):
    """Poll ``check()`` until it returns something truthy (returned), or fail after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(every_s)
    raise AssertionError(
        f"timed out after {timeout_s:.0f} s waiting for {what}" + (f":\n{log.tail()}" if log else "")
    )


LAUNCH = """mutation($p: LaunchBackfillParams!) { launchPartitionBackfill(backfillParams: $p) {
  __typename ... on LaunchBackfillSuccess { backfillId } ... on PythonError { message } } }"""
STATUS = """query($id: String!) { partitionBackfillOrError(backfillId: $id) {
  ... on PartitionBackfill { status } } }"""


def launch_backfill(url: str, params: dict) -> str:
    """Launch a backfill as the UI does (``LaunchBackfillParams``); returns its id."""
    answer = graphql(url, LAUNCH, {"p": params})["launchPartitionBackfill"]
    assert answer["__typename"] == "LaunchBackfillSuccess", answer
    return answer["backfillId"]


def settled(url: str) -> bool:
    """No run is queued, starting or running."""
    return not runs(url, UNFINISHED)


def failed(url: str) -> list[dict]:
    return runs(url, ["FAILURE"])


def backfill_done(url: str, backfill_id: str) -> str | None:
    """The backfill's final status once the daemon has marked it and no run is left, else None."""
    status = graphql(url, STATUS, {"id": backfill_id})["partitionBackfillOrError"]["status"]
    return status if status not in ("REQUESTED", "CANCELING", "FAILING") and settled(url) else None


def days_between(first: dt.date, last: dt.date) -> list[dt.date]:
    return [first + dt.timedelta(days=k) for k in range((last - first).days + 1)]


def ago(n: int) -> dt.date:
    """The UTC day ``n`` days before today (tests hold on any date)."""
    return dt.datetime.now(dt.UTC).date() - dt.timedelta(days=n)


def missing(data_dir: str, days: list[dt.date], assets=("orders", "daily_agg", "daily_metrics", "alerts")):
    """'asset day' for each of ``assets`` x ``days`` without a stored file."""
    store = DayStore(data_dir)
    return [f"{a} {d}" for a in assets for d in days if not store.exists(a, d)]


def dagster_dev(
    home: Path, env: dict[str, str], logs: Path, workspace: Path = ROOT / "workspace.yaml"
) -> Server:
    """Launch `dagster dev` (webserver + daemon, as `make run` does) on a fresh DAGSTER_HOME; call
    ``dagster_ready`` before using it (it boots while the test prepares its data)."""

    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text(DAGSTER_YAML)
    port = free_port()
    cmd = [str(BIN / "dagster"), "dev", "-w", str(workspace), "-h", "127.0.0.1", "-p", str(port)]
    return launch("dagster", cmd, {**env, "DAGSTER_HOME": str(home)}, port, "/server_info", logs)


def dagster_ready(server: Server) -> Server:
    server.ready()
    wait_code_location_loaded(server.url)
    return server


def streamlit(env: dict[str, str], logs: Path) -> Server:
    """Launch `streamlit run` with the flags `make run` uses; call ``.ready()`` before using it."""
    port = free_port()
    cmd = [
        str(BIN / "streamlit"),
        "run",
        str(ROOT / "spd_dashboard" / "app.py"),
        "--server.address",
        "127.0.0.1",
        "--server.port",
        str(port),
        *STREAMLIT_FLAGS,
    ]
    return launch("streamlit", cmd, env, port, "/_stcore/health", logs)


@contextmanager
def dashboard_on(data_dir: str | Path, logs: Path) -> Iterator[Server]:
    """`streamlit run` on ``data_dir``, ready, with Dagster down (a free port nobody listens on)."""
    env = {**os.environ, "SPD_DATA_DIR": str(data_dir), "SPD_DAGSTER_HOST": "127.0.0.1",
           "SPD_DAGSTER_PORT": str(free_port())}  # fmt: skip
    server = streamlit(env, logs)
    try:
        yield server.ready()
    finally:
        server.stop()


def save_screenshot(page, path: Path, also_to: Path | None = None) -> Path:
    """A screenshot of the whole app (Streamlit scrolls inside its main block, so size the viewport)."""
    height = page.evaluate("document.querySelector('[data-testid=stMainBlockContainer]').scrollHeight")
    page.set_viewport_size({"width": 1440, "height": max(900, min(int(height) + 40, 2400))})
    page.wait_for_timeout(600)  # plotly redraws at the new size
    page.screenshot(path=str(path))
    if also_to is not None:
        shutil.copyfile(path, also_to)
    return path

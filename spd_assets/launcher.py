"""``make run``: a demo history if there is none, then the Dagster UI and the dashboard, stopped as one.

Each server runs in its own process group (``dagster dev`` leaves code-server children behind and may
ignore SIGINT when started from a script), so Ctrl-C stops every process this started.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from .core.settings import Settings, SettingsError, load_servers, load_settings

ROOT = Path(__file__).resolve().parent.parent  # the checkout: workspace.yaml and spd_dashboard/ live here

# For users, not developers: no reloading, no usage stats, no developer toolbar (XSRF stays on).
STREAMLIT_FLAGS = [
    "--server.headless", "true",
    "--browser.gatherUsageStats", "false",
    "--client.toolbarMode", "minimal",
    "--server.fileWatcherType", "none",
]  # fmt: skip

DAGSTER_YAML = """\
# Written by `spd run` on first start; edit freely. Postgres and a container run launcher: see README.
telemetry:
  enabled: false
run_retries:
  # A run that dies (killed, out of memory, a lost code server) is retried by the daemon; a run that
  # fails on bad input is not (it would fail the same way): fix the input and the sensor re-runs it.
  enabled: true
  max_retries: 2
  retry_on_asset_or_op_failure: false
# The runs the sensors, the schedule and the dashboard's checks ask for start within a second of being
# queued (Dagster polls its run queue every 5 s by default; once a second is one small query).
run_coordinator:
  module: dagster.core.run_coordinator
  class: QueuedRunCoordinator
  config:
    dequeue_interval_seconds: 1
# Two runs never write the same day at once: each run holds a lock per day it writes (see README,
# "Reliability"), for CLI and daemon runs alike, so no run-queue limit is needed here.
"""


def dagster_home() -> Path:
    """DAGSTER_HOME (default ./.dagster), created with a dagster.yaml if missing."""
    home = Path(os.environ.setdefault("DAGSTER_HOME", str(Path(".dagster").absolute()))).absolute()
    os.environ["DAGSTER_HOME"] = str(home)
    home.mkdir(parents=True, exist_ok=True)
    if not (home / "dagster.yaml").exists():
        (home / "dagster.yaml").write_text(DAGSTER_YAML)
    return home


def ensure_demo_history(days: int = 90) -> int:
    """Materialize the last ``days`` days (catalog first, then one single run) unless history exists."""
    import dagster as dg

    from .core.storage import DayStore
    from .definitions import build_defs
    from .partitions import daily_partitions, range_tags

    settings = load_settings()
    defs, daily = build_defs(settings), daily_partitions(settings)
    dagster_home()
    if settings.source == "landing":
        print(
            f"spd: SPD_SOURCE=landing, so no demo history: the landing sensor materializes the files in "
            f"{settings.landing_dir} once the Dagster daemon runs (see README, 'Bring your own orders')"
        )
        return 0
    keys = daily.get_partition_keys()
    if keys:  # the demo's retail dates and promotions, before any alert is checked (once per store)
        seed_demo_calendar(settings, dt.date.fromisoformat(keys[0]), dt.date.fromisoformat(keys[-1]))
    store = DayStore(settings.data_dir)
    have = store.days("daily_metrics")
    if have:
        print(f"spd: reusing the history in {settings.data_dir} ({len(have)} days, {have[0]} .. {have[-1]})")
        return 0
    if not keys:
        print("spd: no complete day since SPD_START_DATE yet; nothing to materialize", file=sys.stderr)
        return 1
    last = dt.date.fromisoformat(keys[-1])
    first = max(dt.date.fromisoformat(keys[0]), last - dt.timedelta(days=days - 1))
    n_days = (last - first).days + 1
    print(
        f"spd: materializing a demo history: {n_days} days ({first} .. {last}), "
        f"{settings.orders_per_day:,} orders a day, into {settings.data_dir}"
    )
    instance = dg.DagsterInstance.get()
    quiet = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}
    started = time.perf_counter()
    result = dg.materialize(
        [defs.get_assets_def("catalog")],
        instance=instance,
        resources=defs.resources,
        run_config=quiet,
        raise_on_error=False,
    )
    if result.success:
        result = defs.resolve_job_def("daily_pipeline").execute_in_process(
            instance=instance,
            run_config=quiet,
            raise_on_error=False,
            tags=range_tags(first, last),
        )
    if not result.success:
        print(
            "spd: the demo history failed; see the errors above (the run is also in the Dagster UI)",
            file=sys.stderr,
        )
        return 1
    print(f"spd: demo history ready in {time.perf_counter() - started:.0f} s")
    return 0


def seed_demo_calendar(settings: Settings, first: dt.date, last: dt.date) -> int:
    """The default event calendar over the demo's days and the next quarter, unless seeded before."""
    from .core.events import Calendar
    from .core.state_store import StateStore, default_state_url

    calendar = Calendar(StateStore(default_state_url(settings.data_dir)))
    added = calendar.seed_default(first, last + dt.timedelta(days=90), seed=settings.seed)
    if added:
        print(f"spd: event calendar seeded with {added} retail dates and demo promotions (see README)")
    return added


def _port_free(host: str, port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex((host, port)) != 0


def _wait_http(url: str, proc: subprocess.Popen, timeout_s: float = 120) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return True
        except OSError:
            time.sleep(0.5)
    return False


def _stop(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + 15
    for proc in procs:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=max(deadline - time.monotonic(), 0.1))
        with contextlib.suppress(ProcessLookupError):  # code servers may outlive their leader
            os.killpg(proc.pid, signal.SIGKILL)


def run() -> int:
    """Demo history, then both servers on loopback until Ctrl-C."""
    try:  # fail on bad settings before anything starts
        load_settings()
        load_servers()
    except SettingsError as exc:
        print(f"spd: {exc}", file=sys.stderr)
        return 1
    home = dagster_home()
    if ensure_demo_history() != 0:
        return 1
    servers_cfg = load_servers()
    host, ui_port, dash_port = servers_cfg.host, servers_cfg.dagster_port, servers_cfg.dashboard_port
    for name, port in (("SPD_DAGSTER_PORT", ui_port), ("SPD_DASHBOARD_PORT", dash_port)):
        if not _port_free(host, port):
            print(f"spd: port {port} on {host} is in use; stop what uses it or set {name}", file=sys.stderr)
            return 1
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "SPD_DAGSTER_HOST": host, "SPD_DAGSTER_PORT": str(ui_port)}
    servers = [
        (
            "Dagster UI",
            f"http://{host}:{ui_port}",
            "/server_info",
            [
                str(bin_dir / "dagster"),
                "dev",
                "-w",
                str(ROOT / "workspace.yaml"),
                "-h",
                host,
                "-p",
                str(ui_port),
            ],
        ),
        (
            "Dashboard",
            f"http://{host}:{dash_port}",
            "/_stcore/health",
            [
                str(bin_dir / "streamlit"),
                "run",
                str(ROOT / "spd_dashboard" / "app.py"),
                "--server.address",
                host,
                "--server.port",
                str(dash_port),
                *STREAMLIT_FLAGS,
            ],
        ),
    ]
    procs: list[subprocess.Popen] = []
    stopping = False

    def on_signal(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        for _name, _url, _health, cmd in servers:
            procs.append(subprocess.Popen(cmd, env=env, cwd=ROOT, start_new_session=True))
        for (name, url, health, _), proc in zip(servers, procs, strict=True):
            if not _wait_http(url + health, proc):
                print(f"spd: {name} did not answer at {url}; see its output above", file=sys.stderr)
                return 1
        print(
            f"\nspd is running (DAGSTER_HOME={home}):\n  Dagster UI  {servers[0][1]}\n"
            f"  Dashboard   {servers[1][1]}\nPress Ctrl-C to stop both.\n",
            flush=True,
        )
        while not stopping:
            if any(p.poll() is not None for p in procs):
                print("spd: a server stopped unexpectedly; stopping the other", file=sys.stderr)
                return 1
            time.sleep(0.5)
        return 0
    finally:
        print("spd: stopping...", flush=True)
        _stop(procs)

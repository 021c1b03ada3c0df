"""Launch the ``anomaly_check`` job for a day through the Dagster webserver's GraphQL API, and follow it.

The dashboard's only Dagster import is the GraphQL client, and it is imported when a run is
launched, so the pages load without Dagster. Host and port: SPD_DAGSTER_HOST / SPD_DAGSTER_PORT.
"""

from __future__ import annotations

import datetime as dt
import urllib.request
from dataclasses import dataclass

from spd_assets.core.settings import SettingsError, load_servers

JOB = "anomaly_check"
TERMINAL = frozenset({"SUCCESS", "FAILURE", "CANCELED"})


class LaunchError(RuntimeError):
    """The run could not be launched or followed; the message is one line a user can act on."""


@dataclass(frozen=True)
class DagsterUI:
    """Where the Dagster webserver listens."""

    host: str
    port: int

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def run_url(self, run_id: str) -> str:
        return f"{self.url}/runs/{run_id}"

    def unreachable(self) -> str:
        return (
            f"The Dagster webserver is not reachable at {self.url}: start it with `make run` "
            f"(or `dagster dev -m spd_assets.definitions -p {self.port}`)."
        )


def dagster_ui() -> DagsterUI:
    """From SPD_DAGSTER_HOST and SPD_DAGSTER_PORT (default 127.0.0.1:3000)."""
    try:
        servers = load_servers()
    except SettingsError as exc:
        raise LaunchError(str(exc)) from None
    return DagsterUI(servers.dagster_host, servers.dagster_port)


def reachable(ui: DagsterUI, timeout_s: float = 1.5) -> bool:
    """Whether the webserver answers /server_info (a quick check before the slower GraphQL client)."""
    try:
        with urllib.request.urlopen(f"{ui.url}/server_info", timeout=timeout_s) as resp:
            return resp.status == 200
    except OSError:
        return False


def _client(ui: DagsterUI):  # -> DagsterGraphQLClient, imported lazily
    from dagster_graphql import DagsterGraphQLClient

    return DagsterGraphQLClient(ui.host, port_number=ui.port, timeout=30)


def _one_line(exc: Exception) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= 300 else text[:297] + "..."


def launch_check(ui: DagsterUI, day: dt.date) -> str:
    """Submit ``anomaly_check`` for ``day``'s partition; returns the run id."""
    if not reachable(ui):
        raise LaunchError(ui.unreachable())
    from dagster_graphql import DagsterGraphQLClientError

    try:
        return _client(ui).submit_job_execution(JOB, tags={"dagster/partition": day.isoformat()})
    except DagsterGraphQLClientError as exc:
        raise LaunchError(f"Dagster refused to launch {JOB} for {day}: {_one_line(exc)}") from exc


def run_status(ui: DagsterUI, run_id: str) -> str:
    """The run's status name: QUEUED, STARTING, STARTED, SUCCESS, FAILURE, CANCELED, ..."""
    from dagster_graphql import DagsterGraphQLClientError

    try:
        return _client(ui).get_run_status(run_id).value
    except DagsterGraphQLClientError as exc:
        if not reachable(ui):
            raise LaunchError(ui.unreachable()) from exc
        raise LaunchError(f"Could not read the status of run {run_id}: {_one_line(exc)}") from exc

"""Launch the ``anomaly_check`` job for a day (or a span of days) through the Dagster webserver's
GraphQL API, and follow it.

The dashboard's only Dagster import is the GraphQL client, and it is imported when a run is
launched, so the pages load without Dagster. Host and port: SPD_DAGSTER_HOST / SPD_DAGSTER_PORT.
"""

from __future__ import annotations

import datetime as dt
import json
import urllib.request
from dataclasses import dataclass

from spd_assets.core.run_tags import PARTITION_TAG, RANGE_END, RANGE_START, range_tags
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


def launch_check(ui: DagsterUI, day: dt.date, last: dt.date | None = None) -> str:
    """Submit ``anomaly_check`` for ``day``'s partition, or as one range run over ``day``..``last``
    (the alerts asset backfills a range in a single run); returns the run id."""
    if not reachable(ui):
        raise LaunchError(ui.unreachable())
    from dagster_graphql import DagsterGraphQLClientError

    span = day.isoformat() if last in (None, day) else f"{day} .. {last}"
    tags = {PARTITION_TAG: day.isoformat()} if last in (None, day) else range_tags(day, last)
    try:
        return _client(ui).submit_job_execution(JOB, tags=tags)
    except DagsterGraphQLClientError as exc:
        why = _one_line(exc)
        if "UnauthorizedError" in why:  # a webserver started with --read-only (README, Security)
            why += f"; the Dagster UI at {ui.url} is read-only: launch the check from a writable one"
        raise LaunchError(f"Dagster refused to launch {JOB} for {span}: {why}") from exc


def run_status(ui: DagsterUI, run_id: str) -> str:
    """The run's status name: QUEUED, STARTING, STARTED, SUCCESS, FAILURE, CANCELED, ..."""
    from dagster_graphql import DagsterGraphQLClientError

    try:
        return _client(ui).get_run_status(run_id).value
    except DagsterGraphQLClientError as exc:
        if not reachable(ui):
            raise LaunchError(ui.unreachable()) from exc
        raise LaunchError(f"Could not read the status of run {run_id}: {_one_line(exc)}") from exc


@dataclass(frozen=True)
class FailedRun:
    """The latest failed run: what it ran, when, and the first error line."""

    run_id: str
    job: str
    ended: dt.datetime | None
    error: str
    what: str  # its partition or range, or the landing files it loaded


_FAILED_RUNS = """query { runsOrError(filter: {statuses: [FAILURE]}, limit: 1) { ... on Runs { results {
  runId jobName endTime tags { key value }
  eventConnection(limit: 200) { events { __typename ... on MessageEvent { message }
    ... on ExecutionStepFailureEvent { error { message } } ... on RunFailureEvent { message } } } } } } }"""


def latest_failure(ui: DagsterUI, timeout_s: float = 5) -> FailedRun | None:
    """The most recent failed run, read from the webserver's GraphQL API (None: no failed run)."""
    body = json.dumps({"query": _FAILED_RUNS}).encode()
    request = urllib.request.Request(
        f"{ui.url}/graphql", data=body, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as resp:
            answer = json.loads(resp.read())
        results = answer["data"]["runsOrError"]["results"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise LaunchError(f"Could not read failed runs from {ui.url}: {_one_line(exc)}") from exc
    if not results:
        return None
    run = results[0]
    tags = {t["key"]: t["value"] for t in run["tags"]}
    errors = [
        (e.get("error") or {}).get("message") or e.get("message") or ""
        for e in run["eventConnection"]["events"]
        if e["__typename"] in ("ExecutionStepFailureEvent", "RunFailureEvent")
    ]
    step_errors = [m for m in errors if m and not m.startswith("Execution of run")]
    what = tags.get("spd/landing") or tags.get(PARTITION_TAG) or ""
    if not what and RANGE_START in tags:
        what = f"{tags[RANGE_START]} .. {tags.get(RANGE_END, '')}"
    ended = dt.datetime.fromtimestamp(run["endTime"], dt.UTC) if run.get("endTime") else None
    message = (step_errors or errors or ["(no error message recorded)"])[0]
    return FailedRun(run["runId"], run["jobName"], ended, _one_line(Exception(message)), what)

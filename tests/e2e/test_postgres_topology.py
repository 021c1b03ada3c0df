"""The production topology on a real PostgreSQL: `dagster code-server`, `dagster-webserver` and
`dagster-daemon` as separate processes, the instance from deploy/dagster.yaml (adapted only through
its environment variables) and deploy/workspace.yaml, spd's state store in the same Postgres.

A UI backfill of four days, chunked two days a run (SPD_BACKFILL_CHUNK_DAYS=2), goes out as runs of
two days each (per chunk, one for the sources and aggregates, then one for the rolling metrics, which
read the earlier days) through the daemon's run queue; the anomaly sensor, ticking in the daemon,
checks those days; the dashboard's launcher starts a check against that webserver, and it succeeds.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import dagster as dg
import grpc
import pg_server
import pytest
from conftest import SMALL, recent_days
from grpc_health.v1 import health_pb2, health_pb2_grpc
from harness import (
    BIN,
    ROOT,
    UNFINISHED,
    free_port,
    graphql,
    launch,
    launch_backfill,
    runs,
    wait_code_location_loaded,
    wait_until,
)
from pg_server import dagster_pg_env, new_database

from spd_assets.core.settings import load_settings
from spd_assets.core.storage import DayStore
from spd_assets.definitions import build_defs
from spd_dashboard.dagster_runs import TERMINAL, DagsterUI, launch_check, run_status

pg_url = pg_server.pg_url  # the fixture: a real PostgreSQL on loopback
pytestmark = pytest.mark.slow

DAYS = recent_days(4, end_offset=3)
CHUNK = 2
BACKFILLED = ["orders", "quarantine", "injected_drops", "daily_agg", "daily_metrics"]  # alerts: the sensor
RUN = """query($id: ID!) { runOrError(runId: $id) { ... on Run { status jobName
  tags { key value } eventConnection(limit: 1000) { events { __typename } } } } }"""


def run_record(url: str, run_id: str) -> dict:
    run = graphql(url, RUN, {"id": run_id})["runOrError"]
    run["events"] = [e["__typename"] for e in run.pop("eventConnection")["events"]]
    run["tags"] = {t["key"]: t["value"] for t in run["tags"]}
    return run


def went_through_the_queue(run: dict) -> bool:
    """Enqueued (QUEUED), then started by the daemon's dequeue, then succeeded (the run's own log)."""
    return queue_events(run) == ["RunEnqueuedEvent", "RunStartEvent"] and run["status"] == "SUCCESS"


def queue_events(run: dict) -> list[str]:
    return [e for e in run["events"] if e in ("RunEnqueuedEvent", "RunStartEvent")]


def code_server_up(port: int, server) -> bool:
    """The code server answers gRPC health checks with SERVING once spd's definitions have loaded (the
    webserver loads the code location once, at start-up)."""
    if server.proc.poll() is not None:
        raise RuntimeError(f"the code server exited:\n{server.tail()}")
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        try:
            answer = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=2)
        except grpc.RpcError:
            return False
    return answer.status == health_pb2.HealthCheckResponse.SERVING


@pytest.fixture
def topology(tmp_path, pg_url):
    """The three servers on one fresh Postgres database, the catalog materialized before they start."""
    db_url = new_database(pg_url, "topology")
    state_url = new_database(pg_url, "spd_state")
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copyfile(ROOT / "deploy" / "dagster.yaml", home / "dagster.yaml")
    grpc_port, web_port = free_port(), free_port()
    env = {
        **os.environ, **dagster_pg_env(db_url),
        "DAGSTER_HOME": str(home), "SPD_DATA_DIR": str(tmp_path / "data"),
        "SPD_STATE_URL": state_url, "SPD_ORDERS_PER_DAY": "800", "SPD_SKUS": str(SMALL["n_skus"]),
        "SPD_SEED": "7", "SPD_SENSOR_INTERVAL_S": "3", "SPD_BACKFILL_CHUNK_DAYS": str(CHUNK),
        "SPD_CODE_SERVER_HOST": "127.0.0.1", "SPD_CODE_SERVER_PORT": str(grpc_port),
    }  # fmt: skip
    settings = load_settings({k: v for k, v in env.items() if k.startswith("SPD_")})
    defs = build_defs(settings)
    with pytest.MonkeyPatch.context() as mp:
        for name, value in dagster_pg_env(db_url).items():
            mp.setenv(name, value)
        with dg.DagsterInstance.from_config(str(home)) as instance:  # creates the schema once
            dg.materialize([defs.get_assets_def("catalog")], instance=instance, resources=defs.resources)
    workspace = str(ROOT / "deploy" / "workspace.yaml")
    code = [str(BIN / "dagster"), "code-server", "start", "-m", "spd_assets.definitions",
            "-h", "127.0.0.1", "-p", str(grpc_port)]  # fmt: skip
    web = [str(BIN / "dagster-webserver"), "-w", workspace, "-h", "127.0.0.1", "-p", str(web_port)]
    daemon = [str(BIN / "dagster-daemon"), "run", "-w", workspace]
    servers = [launch("code-server", code, env, grpc_port, "", tmp_path)]
    try:
        wait_until("the code server", lambda: code_server_up(grpc_port, servers[0]), 120, 0.3, servers[0])
        servers.append(launch("webserver", web, env, web_port, "/server_info", tmp_path))
        servers.append(launch("daemon", daemon, env, 0, "", tmp_path))
        webserver = servers[1].ready()
        wait_code_location_loaded(webserver.url)
        yield webserver, servers[2], Path(env["SPD_DATA_DIR"])
    finally:
        for server in reversed(servers):
            server.stop()


def test_a_chunked_ui_backfill_the_sensor_and_a_dashboard_check_run_through_the_queue_on_postgres(
    topology,
) -> None:
    webserver, daemon, data_dir = topology
    url = webserver.url
    first, last = DAYS[0].isoformat(), DAYS[-1].isoformat()
    params = {
        "partitionsByAssets": [
            {"assetKey": {"path": [a]}, "partitions": {"range": {"start": first, "end": last}}}
            for a in BACKFILLED
        ],
        "fromFailure": False,
    }
    backfill_id = launch_backfill(url, params)

    # the backfill's runs, then the sensor's checks: every day gets alerts without anyone asking
    store = DayStore(str(data_dir))
    wait_until(
        "the anomaly sensor's check of the backfilled days",
        lambda: all(store.exists("alerts", d) for d in DAYS) and not runs(url, UNFINISHED),
        240,
        every_s=2,
        log=daemon,
    )
    # every run since the servers started (the catalog's was in process, before them)
    done = [run_record(url, r["runId"]) for r in runs(url, ["SUCCESS"])]
    done = [r for r in done if r["jobName"] != "__ephemeral_asset_job__"]
    chunks = sorted(
        (r["tags"]["dagster/asset_partition_range_start"], r["tags"]["dagster/asset_partition_range_end"])
        for r in done
        if r["tags"].get("dagster/backfill") == backfill_id
    )
    pairs = [(DAYS[i].isoformat(), DAYS[i + CHUNK - 1].isoformat()) for i in range(0, len(DAYS), CHUNK)]
    assert sorted(set(chunks)) == pairs and len(chunks) == 2 * len(pairs)  # never one run over the range
    checks = [r for r in done if r["jobName"] == "anomaly_check" and "dagster/sensor_name" in r["tags"]]
    assert checks, "the anomaly sensor requested no check"
    through_queue = [(r["jobName"], queue_events(r), r["status"]) for r in done]
    assert all(went_through_the_queue(r) for r in done), through_queue

    # the dashboard's launcher, as the Alerts page calls it, against this webserver
    ui = DagsterUI("127.0.0.1", int(url.rsplit(":", 1)[1]))
    run_id = launch_check(ui, DAYS[-1])
    status = wait_until("the dashboard's check", lambda: (s := run_status(ui, run_id)) in TERMINAL and s, 120)
    assert status == "SUCCESS"
    assert went_through_the_queue(run_record(url, run_id))
    assert runs(url, ["FAILURE"]) == []

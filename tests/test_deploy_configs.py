"""The deploy/ folder, linted with what installs here (no image can be built and no cluster reached):
Dagster itself loads each instance file against a real Postgres, the launchers' classes resolve and
take their config, the Helm values carry the keys the chart reads and the same limits as dagster.yaml,
and the Dockerfile copies files that exist and starts a module that imports."""

from __future__ import annotations

import importlib
import re
import subprocess
from dataclasses import replace
from pathlib import Path

import dagster as dg
import pg_server
import pytest
import sqlalchemy as sa
import yaml
from conftest import SMALL
from pg_server import dagster_pg_env

from spd_assets.core.run_tags import DEFINITIONS
from spd_assets.core.settings import SettingsError, load_settings
from spd_assets.definitions import build_defs
from spd_assets.launcher import DAGSTER_YAML

pg_url = pg_server.pg_url  # the fixture: a real PostgreSQL on loopback

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
UV = ROOT / ".tools" / "uv" / "bin" / "uv"
KUBECONFIG = """apiVersion: v1
kind: Config
clusters: [{name: none, cluster: {server: "https://127.0.0.1:9"}}]
users: [{name: none, user: {token: none}}]
contexts: [{name: none, context: {cluster: none, user: none}}]
current-context: none
"""


def instance_from(home: Path, text: str) -> dg.DagsterInstance:
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text(text)
    return dg.DagsterInstance.from_config(str(home))


@pytest.fixture
def pg_environ(pg_url, monkeypatch) -> dict[str, str]:
    env = dagster_pg_env(pg_url)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


@dg.asset(name="probe")
def _probe() -> int:
    return 1


def test_the_test_server_is_a_real_postgres_with_the_spd_database(pg_url: str) -> None:
    engine = sa.create_engine(pg_url)
    try:
        with engine.connect() as conn:
            version, database = conn.execute(sa.text("select version(), current_database()")).one()
    finally:
        engine.dispose()
    assert version.startswith("PostgreSQL") and database == "spd"


def test_the_deploy_instance_keeps_runs_and_events_in_postgres_behind_the_run_queue(
    tmp_path, pg_url, pg_environ
) -> None:
    with instance_from(tmp_path / "home", (DEPLOY / "dagster.yaml").read_text()) as instance:
        assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"
        assert type(instance.run_launcher).__name__ == "DefaultRunLauncher"
        assert instance.run_retries_enabled and instance.run_retries_max_retries == 2
        assert instance.run_monitoring_enabled
        queue = instance.get_concurrency_config().run_queue_config
        assert queue.max_concurrent_runs == 4
        limits = {(lim["key"], str(lim.get("value"))): lim["limit"] for lim in queue.tag_concurrency_limits}
        assert limits[("dagster/partition", "{'applyLimitPerUniqueValue': True}")] == 1
        assert dg.materialize([_probe], instance=instance).success
        assert instance.get_latest_materialization_event(dg.AssetKey("probe")) is not None
    engine = sa.create_engine(pg_url)  # the rows are in Postgres itself, not in a file under the home
    try:
        with engine.connect() as conn:
            tables = set(sa.inspect(conn).get_table_names())
            assert {"runs", "event_logs", "jobs"} <= tables
            assert conn.execute(sa.text("select count(*) from runs")).scalar() >= 1
    finally:
        engine.dispose()
    assert not list((tmp_path / "home").glob("**/*.db"))


def test_the_laptop_instance_retries_dead_runs_and_starts_queued_runs_within_a_second(tmp_path) -> None:
    """The dagster.yaml `make run` writes (SQLite): what the README says of it is what Dagster loads."""
    with instance_from(tmp_path / "home", DAGSTER_YAML) as instance:
        assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"
        assert instance.run_coordinator.dequeue_interval_seconds == 1
        assert instance.run_retries_enabled and instance.run_retries_max_retries == 2
        assert not instance.run_retries_retry_on_asset_or_op_failure


def test_the_docker_variant_is_dagster_yaml_plus_a_launcher_that_takes_its_config(
    tmp_path, pg_environ
) -> None:
    text = (DEPLOY / "dagster.yaml").read_text() + (DEPLOY / "docker" / "run_launcher.yaml").read_text()
    assert "run_launcher" not in yaml.safe_load((DEPLOY / "dagster.yaml").read_text())
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SPD_DOCKER_NETWORK", "spd")
        with instance_from(tmp_path / "home", text) as instance:
            launcher = instance.run_launcher
            assert type(launcher).__module__.startswith("dagster_docker")
            config = launcher.inst_data.config_dict
            assert (
                config["network"] == {"env": "SPD_DOCKER_NETWORK"}
                and "DAGSTER_PG_PASSWORD" in config["env_vars"]
            )


def helm_values() -> dict:
    return yaml.safe_load((DEPLOY / "helm" / "values.yaml").read_text())


def test_the_helm_values_name_a_code_server_a_k8s_launcher_and_an_external_postgres() -> None:
    values = helm_values()
    (deployment,) = values["dagster-user-deployments"]["deployments"]
    assert values["dagster-user-deployments"]["enabled"] is True
    assert deployment["codeServerArgs"] == ["-m", DEFINITIONS]
    assert {"repository", "tag"} <= set(deployment["image"])
    assert values["runLauncher"]["type"] == "K8sRunLauncher"
    pg = values["postgresql"]
    assert pg["enabled"] is False and pg["postgresqlHost"] and pg["postgresqlDatabase"]
    assert values["generatePostgresqlPasswordSecret"] is False and values["global"]["postgresqlSecretName"]
    assert "postgresqlPassword" not in pg  # the password comes from the Secret only
    instance = yaml.safe_load((DEPLOY / "dagster.yaml").read_text())
    assert pg["postgresqlScheme"] == instance["storage"]["postgres"]["postgres_db"]["scheme"]


def test_the_helm_run_queue_and_retries_are_those_of_dagster_yaml() -> None:
    daemon, instance = helm_values()["dagsterDaemon"], yaml.safe_load((DEPLOY / "dagster.yaml").read_text())
    queue = daemon["runCoordinator"]
    assert queue["enabled"] is True and queue["type"] == "QueuedRunCoordinator"
    limits = queue["config"]["queuedRunCoordinator"]
    runs = instance["concurrency"]["runs"]
    assert limits["maxConcurrentRuns"] == runs["max_concurrent_runs"]
    assert limits["tagConcurrencyLimits"] == runs["tag_concurrency_limits"]
    retries = instance["run_retries"]
    assert daemon["runRetries"] == {
        "enabled": retries["enabled"], "maxRetries": retries["max_retries"],
        "retryOnAssetOrOpFailure": retries["retry_on_asset_or_op_failure"],
    }  # fmt: skip


def test_the_helm_k8s_launcher_config_is_taken_by_dagster_k8s(tmp_path, pg_environ) -> None:
    """The chart renders the launcher's camelCase values into the instance's snake_case config."""
    k8s = helm_values()["runLauncher"]["config"]["k8sRunLauncher"]
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(KUBECONFIG)  # parsed at start-up, never contacted
    config = {
        "instance_config_map": "spd-dagster-instance",  # these two the chart names after the release
        "service_account_name": "spd-dagster",
        "load_incluster_config": False,
        "kubeconfig_file": str(kubeconfig),
        "env_secrets": [s["name"] for s in k8s["envSecrets"]],
        "run_k8s_config": {"container_config": k8s["runK8sConfig"]["containerConfig"]},
    }
    launcher = {"run_launcher": {"module": "dagster_k8s", "class": "K8sRunLauncher", "config": config}}
    text = (DEPLOY / "dagster.yaml").read_text() + yaml.safe_dump(launcher)
    with instance_from(tmp_path / "home", text) as instance:
        assert type(instance.run_launcher).__name__ == "K8sRunLauncher"
        assert instance.run_launcher.env_secrets == ["spd-env"]


def test_the_workspace_points_at_the_code_server_the_dockerfile_starts() -> None:
    (entry,) = yaml.safe_load((DEPLOY / "workspace.yaml").read_text())["load_from"]
    server = entry["grpc_server"]
    assert server["host"] == {"env": "SPD_CODE_SERVER_HOST"} and server["port"] == {
        "env": "SPD_CODE_SERVER_PORT"
    }
    assert server["location_name"] == "spd"
    cmd = re.search(r"^CMD (\[.*\])$", (DEPLOY / "Dockerfile").read_text(), re.M)
    args = yaml.safe_load(cmd.group(1))
    assert args[:3] == ["dagster", "code-server", "start"] and args[args.index("-m") + 1] == DEFINITIONS
    assert importlib.import_module(DEFINITIONS).defs is not None


def test_every_dockerfile_copy_source_exists_and_is_in_the_build_context() -> None:
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    sources = [s for line in re.findall(r"^COPY (.+)$", dockerfile, re.M) for s in line.split()[:-1]]
    assert sources and all((ROOT / s).exists() for s in sources), sources
    kept = [
        line[1:] for line in (DEPLOY / "Dockerfile.dockerignore").read_text().splitlines() if line[:1] == "!"
    ]
    assert {s.rstrip("/") for s in sources} <= {k.rstrip("/") for k in kept}


@pytest.mark.skipif(not UV.exists(), reason="uv is installed by `make setup` (.tools/uv)")
def test_the_image_installs_the_locked_runtime_and_the_launchers_without_test_tools() -> None:
    """The packages `uv sync --frozen --no-dev --group deploy` (the Dockerfile's) installs, from uv.lock."""
    assert "uv sync --frozen --no-dev --group deploy" in (DEPLOY / "Dockerfile").read_text()
    out = subprocess.run(
        [str(UV), "export", "--frozen", "--no-dev", "--group", "deploy", "--no-hashes", "--no-emit-project"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    names = {re.split(r"[=<>; ]", line)[0].lower() for line in out.splitlines() if line[:1].isalpha()}
    assert {"dagster", "dagster-postgres", "dagster-docker", "dagster-k8s", "psycopg2-binary"} <= names
    assert not names & {"pytest", "pytest-xdist", "playwright", "moto"}


def dated_policies(chunk_days: int) -> dict[str, dg.BackfillPolicy | None]:
    settings = replace(load_settings(), backfill_chunk_days=chunk_days, **SMALL)
    defs = build_defs(settings)
    graph = defs.resolve_asset_graph()
    return {key.to_user_string(): graph.get(key).backfill_policy for key in graph.materializable_asset_keys
            if graph.get(key).partitions_def is not None}  # fmt: skip


def test_by_default_a_backfill_is_one_run_per_range() -> None:
    policies = dated_policies(0)
    assert {"orders", "daily_agg", "daily_metrics", "alerts"} <= set(policies)
    assert set(policies.values()) == {dg.BackfillPolicy.single_run()}


def test_a_chunk_setting_splits_every_dated_asset_s_backfill_into_runs_of_that_many_days(tmp_path) -> None:
    assert set(dated_policies(2).values()) == {dg.BackfillPolicy.multi_run(2)}
    env = {"SPD_DATA_DIR": str(tmp_path)}
    assert load_settings({**env, "SPD_BACKFILL_CHUNK_DAYS": "7"}).backfill_chunk_days == 7
    with pytest.raises(SettingsError, match="SPD_BACKFILL_CHUNK_DAYS"):
        load_settings({**env, "SPD_BACKFILL_CHUNK_DAYS": "-1"})

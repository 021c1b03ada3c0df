"""The pipeline, the dashboard and the landing folder on an S3 endpoint: moto's server on loopback,
reached through the real S3 HTTP API with credentials and endpoint from the environment only."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import replace

import dagster as dg
import polars as pl
import pyarrow.fs as pafs
import pytest
from conftest import APP, SMALL, materialize_range, recent_days
from s3_server import RequestLog, new_bucket, s3_client
from streamlit.testing.v1 import AppTest

from spd_assets.core.filesystems import filesystem
from spd_assets.core.landing.files import check_day
from spd_assets.core.settings import load_settings
from spd_assets.core.storage import DayStore, rebuild_command
from spd_assets.core.synthetic.catalog import generate_catalog
from spd_assets.core.synthetic.orders import generate_day
from spd_assets.definitions import build_defs

pytest_plugins = ["s3_server"]
DAYS = recent_days(4)
ASSETS = ("orders", "quarantine", "daily_agg", "daily_metrics", "alerts", "incidents")


def _settings(**changes):
    return replace(load_settings(check_writable=False), **SMALL, **changes)


@pytest.fixture(scope="module")
def history(s3_endpoint, tmp_path_factory) -> str:
    """DAYS backfilled in one run by the real pipeline on a real (SQLite) instance into s3://<bucket>/shop."""
    root = f"s3://{new_bucket(s3_endpoint)}/shop"
    defs = build_defs(_settings(data_dir=root))
    with dg.instance_for_test(temp_dir=str(tmp_path_factory.mktemp("instance"))) as instance:
        assert materialize_range(defs, instance, DAYS[0], DAYS[-1]).success
    return root


def _revenue(root: str, first: dt.date, last: dt.date) -> float:
    return float(DayStore(root).read_days("daily_agg", DAYS)["revenue"].sum())


def test_a_backfill_writes_one_parquet_object_per_asset_and_day(history, s3_endpoint) -> None:
    bucket = history.removeprefix("s3://").split("/")[0]
    listed = s3_client(s3_endpoint).list_objects_v2(Bucket=bucket, Prefix="shop/")
    keys = {o["Key"] for o in listed["Contents"]}
    for asset in ("orders", "daily_agg", "daily_metrics", "alerts"):
        assert {f"shop/{asset}/date={d}/data.parquet" for d in DAYS} <= keys, asset
    assert "shop/catalog/data.parquet" in keys
    assert not [k for k in keys if ".tmp-" in k]  # every object was written whole, then moved
    orders = DayStore(history).read_days("orders", DAYS)
    assert orders.height > 0 and set(orders["date"]) == set(DAYS)


def test_the_dashboard_shows_the_revenue_the_pipeline_wrote_to_s3(history, open_app) -> None:
    at = open_app(history, params={"dates": [DAYS[0].isoformat(), DAYS[-1].isoformat()]})
    card = next(m for m in at.metric if m.label == "Revenue")
    exact = float(re.search(r"Exactly \$([\d,.]+)\.$", card.proto.help).group(1).replace(",", ""))
    assert exact == pytest.approx(_revenue(history, DAYS[0], DAYS[-1]), abs=0.01)
    health = open_app(history, page="views/health.py").dataframe[0].value.set_index("asset")
    assert health.loc["daily_agg", "days"] == len(DAYS) and health.loc["daily_agg", "missing_days"] == 0
    assert health.loc["orders", "rows"] == DayStore(history).read_days("orders", DAYS).height


def _damaged_copy(history: str, endpoint: str) -> tuple[str, str]:
    """A copy of the history in a new bucket whose last daily_agg day is junk bytes: (root, its URI)."""
    client, source = s3_client(endpoint), history.removeprefix("s3://").split("/")[0]
    bucket = new_bucket(endpoint)
    for obj in client.list_objects_v2(Bucket=source)["Contents"]:
        client.copy_object(Bucket=bucket, Key=obj["Key"], CopySource={"Bucket": source, "Key": obj["Key"]})
    root = f"s3://{bucket}/shop"
    damaged = DayStore(root).uri("daily_agg", DAYS[-1])
    client.put_object(Bucket=bucket, Key=damaged.removeprefix(f"s3://{bucket}/"), Body=b"not parquet at all")
    return root, damaged


def test_a_corrupt_object_is_named_in_the_pipeline_error_and_the_dashboard(
    history, s3_endpoint, tmp_path, monkeypatch, closed_port
) -> None:
    root, damaged = _damaged_copy(history, s3_endpoint)
    command = rebuild_command("daily_agg", DAYS[-1])
    defs = build_defs(_settings(data_dir=root))
    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        result = defs.resolve_job_def("daily_pipeline").execute_in_process(
            instance=instance,
            partition_key=DAYS[-1].isoformat(),
            asset_selection=[dg.AssetKey("daily_metrics")],
            raise_on_error=False,
        )
    failures = [e.step_failure_data.error for e in result.all_events if e.is_step_failure]
    messages = [m for error in failures for m in (error.message, error.cause.message if error.cause else "")]
    assert any(damaged in m and f"`{command}`" in m for m in messages), messages
    monkeypatch.setenv("SPD_DATA_DIR", root)
    monkeypatch.setenv("SPD_DAGSTER_PORT", str(closed_port))
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    assert not at.exception, [e.message for e in at.exception]
    shown = " ".join(e.value for e in at.error)
    assert damaged in shown and command in shown, shown


def test_the_start_date_is_recorded_with_an_s3_history(s3_endpoint, s3_bucket) -> None:
    root = f"s3://{s3_bucket}/shop"
    first = load_settings({"SPD_DATA_DIR": root}).start_date  # the default, recorded on first use
    key = "shop/_spd/start_date"
    body = s3_client(s3_endpoint).get_object(Bucket=s3_bucket, Key=key)["Body"].read()
    assert body.decode().strip() == first.isoformat()
    s3_client(s3_endpoint).put_object(Bucket=s3_bucket, Key=key, Body=b"2025-03-01\n")
    assert load_settings({"SPD_DATA_DIR": root}).start_date == dt.date(2025, 3, 1)  # fixed, never moving


def _put(client, bucket: str, key: str, frame: pl.DataFrame) -> None:
    client.put_object(Bucket=bucket, Key=key, Body=frame.write_csv().encode())


def test_day_files_placed_in_an_s3_landing_folder_are_loaded(s3_endpoint, s3_bucket, tmp_path) -> None:
    client, catalog = s3_client(s3_endpoint), generate_catalog(SMALL["n_skus"], SMALL["seed"])
    _put(client, s3_bucket, "landing/catalog.csv", catalog.rename({"base_price": "price"}))
    shop = {d: generate_day(d, catalog, 60, 7).orders for d in DAYS[:2]}
    for day, orders in shop.items():
        _put(client, s3_bucket, f"landing/orders_{day}.csv", orders)
    landing = f"s3://{s3_bucket}/landing"
    settings = load_settings({"SPD_DATA_DIR": str(tmp_path / "data"), "SPD_SOURCE": "landing",
                              "SPD_LANDING_DIR": landing, "SPD_LANDING_SETTLE_S": "0"})  # fmt: skip
    defs = build_defs(replace(settings, **SMALL))
    with dg.instance_for_test() as instance:
        context = dg.build_sensor_context(instance=instance, definitions=defs, resources=defs.resources)
        with context:
            requested = defs.resolve_sensor_def("landing_sensor").evaluate_tick(context).run_requests
        assert requested, "the sensor saw no file in the s3 landing folder"
        assert materialize_range(defs, instance, DAYS[0], DAYS[1]).success
    loaded = DayStore(settings.data_dir).read_days("orders", DAYS[:2])
    assert sorted(loaded["order_id"]) == sorted(pl.concat(shop.values())["order_id"])
    assert set(DayStore(settings.data_dir).read("catalog")["sku"]) == set(catalog["sku"])


def test_a_bad_landing_object_is_reported_by_its_s3_name(s3_endpoint, s3_bucket) -> None:
    day = DAYS[0]
    s3_client(s3_endpoint).put_object(Bucket=s3_bucket, Key=f"landing/orders_{day}.csv", Body=b"")
    with pytest.raises(ValueError, match=re.escape(f"s3://{s3_bucket}/landing/orders_{day}.csv: is empty")):
        check_day(f"s3://{s3_bucket}/landing", day)


def test_an_assets_days_are_listed_in_one_request_not_one_per_day(s3_endpoint, s3_bucket) -> None:
    client, first = s3_client(s3_endpoint), dt.date(2025, 1, 1)
    year = [first + dt.timedelta(days=k) for k in range(365)]
    for day in year:
        client.put_object(Bucket=s3_bucket, Key=f"shop/daily_agg/date={day}/data.parquet", Body=b"x")
    client.put_object(Bucket=s3_bucket, Key=f"shop/daily_agg/date={first}/data.parquet.tmp-1", Body=b"x")
    store, log = DayStore(f"s3://{s3_bucket}/shop"), RequestLog()
    store.exists("catalog")  # the filesystem is resolved once, before counting
    with log.counting() as listing:
        assert store.days("daily_agg") == year
    with log.counting() as per_day:
        assert all(store.exists("daily_agg", d) for d in year)
    assert (len(listing), len(per_day)) == (1, 365), listing[:3]


def test_an_object_read_for_some_columns_decodes_those_it_has(s3_bucket) -> None:
    store, (day,) = DayStore(f"s3://{s3_bucket}/shop"), recent_days(1)
    store.write("orders", day, pl.DataFrame({"sku": ["a"], "qty": [2], "ts": ["x"]}))  # no `counted`
    assert store.read("orders", day, ["sku", "counted"], missing_ok=True).columns == ["sku"]
    with pytest.raises(Exception, match="counted"):
        store.read("orders", day, ["sku", "counted"])


@pytest.mark.parametrize("page", ["views/skus.py", "views/regions.py", "views/alerts.py"])
def test_every_page_reads_an_s3_data_dir(history, open_app, page) -> None:
    at = open_app(history, page=page, params={"dates": [DAYS[0].isoformat(), DAYS[-1].isoformat()]})
    assert not any("No data yet" in i.value for i in at.info)


def test_each_scheme_opens_its_pyarrow_filesystem_once_per_bucket(s3_bucket, monkeypatch) -> None:
    first, _ = filesystem(f"s3://{s3_bucket}/shop")
    assert filesystem(f"s3://{s3_bucket}/shop/orders/date=2026-01-01/data.parquet")[0] is first
    assert filesystem("/tmp/spd/")[1] == "/tmp/spd"
    gcs, path = filesystem("gs://shop-bucket/spd/")
    assert isinstance(gcs, pafs.GcsFileSystem) and path == "shop-bucket/spd"
    monkeypatch.delenv("AZURE_STORAGE_ACCOUNT_NAME", raising=False)
    with pytest.raises(ValueError, match="AZURE_STORAGE_ACCOUNT_NAME"):
        filesystem("az://nobody/spd")
    monkeypatch.setenv("AZURE_STORAGE_ACCOUNT_NAME", "shopaccount")
    azure, path = filesystem("az://box/spd")
    assert isinstance(azure, pafs.AzureFileSystem) and path == "box/spd"


def test_spd_withdraw_sees_a_day_file_still_in_an_s3_landing_folder(s3_endpoint, s3_bucket, tmp_path) -> None:
    from spd_assets.withdraw import _in_landing

    s3_client(s3_endpoint).put_object(Bucket=s3_bucket, Key="landing/orders_2025-03-01.csv", Body=b"x")
    assert _in_landing(f"s3://{s3_bucket}/landing", "orders_2025-03-01.csv")
    assert not _in_landing(f"s3://{s3_bucket}/landing", "orders_2025-03-02.csv")
    (tmp_path / "orders_2025-03-01.csv").write_text("x")
    assert _in_landing(str(tmp_path), "orders_2025-03-01.csv")
    assert not _in_landing(str(tmp_path), "orders_2025-03-02.csv")

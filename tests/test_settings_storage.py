"""Bad settings fail at once naming the setting; the day store never leaves half a file."""

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
import pytest

from spd_assets.core.settings import SettingsError, default_start_date, load_settings
from spd_assets.core.storage import DayStore, MissingPartitionError


def test_defaults_are_sensible(tmp_path):
    s = load_settings({"SPD_DATA_DIR": str(tmp_path)})
    assert s.orders_per_day == 20_000 and s.source == "synthetic"
    assert s.start_date == default_start_date()
    assert s.landing_dir == f"{tmp_path}/landing"
    assert default_start_date(dt.date(2026, 11, 25)) == dt.date(2025, 11, 1)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"SPD_START_DATE": "2025-13-01"}, "SPD_START_DATE='2025-13-01' is not a date: expected YYYY-MM-DD"),
        ({"SPD_START_DATE": "2999-01-01"}, "SPD_START_DATE='2999-01-01' is in the future"),
        ({"SPD_ORDERS_PER_DAY": "-5"}, "SPD_ORDERS_PER_DAY='-5' is too small: expected an integer >= 0"),
        ({"SPD_ORDERS_PER_DAY": "lots"}, "SPD_ORDERS_PER_DAY='lots' is not a whole number"),
        ({"SPD_SOURCE": "ftp"}, "SPD_SOURCE='ftp' is unknown: expected 'synthetic' or 'landing'"),
    ],
)
def test_bad_settings_name_the_setting_and_what_was_expected(tmp_path, env, message):
    with pytest.raises(SettingsError) as err:
        load_settings({"SPD_DATA_DIR": str(tmp_path), **env})
    assert message in str(err.value)


def test_an_unwritable_data_dir_is_refused(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(SettingsError, match=r"SPD_DATA_DIR=.*file/data.* is not a writable directory"):
        load_settings({"SPD_DATA_DIR": str(blocker / "data")})


def test_dagster_reports_a_bad_setting_when_loading(tmp_path):
    env = {
        **os.environ,
        "SPD_DATA_DIR": str(tmp_path),
        "DAGSTER_HOME": str(tmp_path),
        "SPD_START_DATE": "yesterday",
    }
    cmd = [Path(sys.executable).parent / "dagster", "definitions", "validate", "-m", "spd_assets.definitions"]
    out = subprocess.run(cmd, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert out.returncode != 0
    assert "SPD_START_DATE='yesterday' is not a date: expected YYYY-MM-DD" in out.stdout + out.stderr


def test_a_failed_write_leaves_neither_a_partial_nor_a_temporary_file(tmp_path, monkeypatch):
    store = DayStore(str(tmp_path))
    day = dt.date(2025, 1, 1)
    good = pl.DataFrame({"date": [day], "x": [1]})
    store.write("t", day, good)

    write_table = pq.ParquetWriter.write_table

    def broken_write(self, table, **kwargs):
        write_table(self, table, **kwargs)  # half a file: a header and a row group, no footer
        raise OSError("disk full")

    monkeypatch.setattr(pq.ParquetWriter, "write_table", broken_write)
    with pytest.raises(OSError, match="disk full"):
        store.write("t", day, pl.DataFrame({"date": [day], "x": [2]}))
    monkeypatch.undo()
    assert store.read("t", day).equals(good)  # the previous complete file is still there
    assert [p.name for p in (tmp_path / "t" / "date=2025-01-01").iterdir()] == ["data.parquet"]


def test_store_lists_complete_days_and_names_missing_ones(tmp_path):
    store = DayStore(str(tmp_path))
    for d in (dt.date(2025, 1, 2), dt.date(2025, 1, 1)):
        store.write("a", d, pl.DataFrame({"date": [d]}))
    (tmp_path / "a" / "date=2025-01-03").mkdir()  # a directory without a file is not a day
    assert store.days("a") == [dt.date(2025, 1, 1), dt.date(2025, 1, 2)]
    with pytest.raises(MissingPartitionError, match="a for 2025-01-03 is not materialized"):
        store.read("a", dt.date(2025, 1, 3))


def test_ids_and_times_are_stored_plain_and_the_repeated_columns_by_dictionary(tmp_path):
    """An order line's id and time are nearly unique a row: no dictionary and no min/max for them;
    SKU, region and status repeat: dictionary-encoded with statistics (what the README promises)."""
    day, n = dt.date(2025, 1, 1), 5_000
    frame = pl.DataFrame(
        {
            "order_id": [f"SO-{i}" for i in range(n)],
            "ts": [dt.datetime(2025, 1, 1) + dt.timedelta(seconds=i) for i in range(n)],
            "sku": [f"SKU-{i % 40}" for i in range(n)],
            "region": [("north", "south")[i % 2] for i in range(n)],
            "status": ["paid"] * n,
        }
    )
    store = DayStore(str(tmp_path))
    store.write("orders", day, frame)
    meta = pq.read_metadata(store.path("orders", day)).row_group(0)
    chunks = {meta.column(i).path_in_schema: meta.column(i) for i in range(meta.num_columns)}
    for name in ("order_id", "ts"):
        assert not {"RLE_DICTIONARY", "PLAIN_DICTIONARY"} & set(chunks[name].encodings), name
        assert not chunks[name].is_stats_set, name
    for name in ("sku", "region", "status"):
        assert "RLE_DICTIONARY" in chunks[name].encodings, name
        assert chunks[name].is_stats_set, name
    assert store.read("orders", day).equals(frame)


def test_spd_today_pins_the_partitions_to_a_past_day(tmp_path):
    from spd_assets.partitions import daily_partitions

    past = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=40)
    settings = load_settings({"SPD_DATA_DIR": str(tmp_path), "SPD_TODAY": past.isoformat()})
    assert daily_partitions(settings).get_last_partition_key() == (past - dt.timedelta(days=1)).isoformat()
    assert settings.start_date == default_start_date(past)
    with pytest.raises(SettingsError, match=r"SPD_TODAY.*in the future"):
        load_settings({"SPD_DATA_DIR": str(tmp_path), "SPD_TODAY": "2999-01-01"})


def test_the_default_start_date_is_fixed_on_the_first_run_and_never_moves(tmp_path):
    earlier = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=62)  # another month than today
    first = load_settings({"SPD_DATA_DIR": str(tmp_path), "SPD_TODAY": earlier.isoformat()})
    assert first.start_date == default_start_date(earlier)
    later = load_settings({"SPD_DATA_DIR": str(tmp_path)})  # two months on, the same history
    assert later.start_date == first.start_date != default_start_date()
    assert (tmp_path / "_spd" / "start_date").read_text().strip() == first.start_date.isoformat()
    override = load_settings({"SPD_DATA_DIR": str(tmp_path), "SPD_START_DATE": "2020-01-01"})
    assert override.start_date == dt.date(2020, 1, 1)


def _groups(path: str) -> list[tuple[int, str, tuple[str, ...]]]:
    """Each row group's rows, what it holds (roll-ups, SKU x region rows, or both) and the regions of
    its SKU x region rows, read group by group."""
    file = pq.ParquetFile(path)
    out = []
    for i in range(file.num_row_groups):
        group = pl.from_arrow(file.read_row_group(i, columns=["level", "region"]))
        cells = group.filter(level="sku_region")
        kind = "cells" if cells.height == group.height else "roll-ups" if cells.is_empty() else "both"
        out.append((group.height, kind, tuple(cells["region"].unique(maintain_order=True))))
    return out


@pytest.mark.parametrize("min_rows", [1, 35, 10_000])
def test_daily_metrics_row_groups_hold_the_roll_ups_apart_and_each_region_apart(
    tmp_path, monkeypatch, min_rows
):
    """A reader of the roll-ups, or of one region's SKU x region rows, decodes no row of the others: a
    row group ends where the roll-ups end and where a region's rows end (runs under MIN_GROUP_ROWS
    share one), and the file reads back as written."""
    from spd_assets.core import storage
    from spd_assets.core.metrics import rolling_metrics

    monkeypatch.setattr(storage, "MIN_GROUP_ROWS", min_rows)
    day, skus, regions = dt.date(2025, 1, 7), 30, ("apac", "eu-west", "latam", "us-east")
    n = skus * len(regions)
    agg = pl.DataFrame(
        {"date": [day] * n, "sku": [f"SKU-{i:03d}" for i in range(skus)] * len(regions),
         "category": ["toys"] * n, "region": [r for r in regions for _ in range(skus)],
         "orders": [2] * n, "units": [3] * n, "revenue": [9.5] * n}
    )  # fmt: skip
    metrics = rolling_metrics(agg, [day], [day])
    assert metrics.height - n == 40  # total, 4 regions, 1 category, 4 category x region, 30 SKUs
    store = DayStore(str(tmp_path))
    store.write("daily_metrics", day, metrics)
    assert store.read("daily_metrics", day).equals(metrics)
    shape = _groups(store.path("daily_metrics", day))
    if min_rows == 1:  # the roll-ups alone, then each region alone
        assert shape == [(40, "roll-ups", ())] + [(skus, "cells", (r,)) for r in regions]
    elif min_rows == 35:  # regions of 30 rows go two to a group
        assert shape == [(40, "roll-ups", ()), (60, "cells", regions[:2]), (60, "cells", regions[2:])]
    else:  # a small shop's file: one row group
        assert shape == [(metrics.height, "both", regions)]


def test_a_daily_metrics_frame_without_the_break_columns_is_written_whole(tmp_path):
    """The row-group breaks need level and region: a frame without them (a file of another layout) is
    written as one run, not refused."""
    store, day = DayStore(str(tmp_path)), dt.date(2025, 1, 7)
    frame = pl.DataFrame({"date": [day] * 3, "revenue": [1.0, 2.0, 3.0]})
    store.write("daily_metrics", day, frame)
    assert store.read("daily_metrics", day).equals(frame)
    assert pq.read_metadata(store.path("daily_metrics", day)).num_row_groups == 1

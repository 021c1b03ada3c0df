"""The event calendar in the state store: edits with history, CSV round trip, defaults, expected drops."""

from __future__ import annotations

import datetime as dt
import io

import polars as pl
import pytest
from conftest import recent_days
from test_state_store import _pg_database

from spd_assets.core.events import (
    EVENT_COLUMNS,
    Calendar,
    EventError,
    between,
    days_covered,
    default_calendar,
    label_expected,
)
from spd_assets.core.state_store import StateStore

D = dt.date
pytest_plugins = ["pg_server"]


@pytest.fixture
def calendar(tmp_path) -> Calendar:
    return Calendar(StateStore(f"sqlite:///{tmp_path / 'state.sqlite'}"))


def test_add_update_remove_keep_history(calendar, tmp_path) -> None:
    first, last = recent_days(3)[0], recent_days(3)[-1]
    eid = calendar.add("Checkout migration", "site_change", first, last, "region", "eu-west")
    calendar.update(eid, name="Checkout v2", end=first)
    (row,) = calendar.table().to_dicts()
    assert (row["name"], row["start"], row["end"], row["scope_value"]) == (
        "Checkout v2",
        first,
        first,
        "eu-west",
    )
    reopened = Calendar(StateStore(f"sqlite:///{tmp_path / 'state.sqlite'}"))
    reopened.remove(eid)
    assert reopened.table().is_empty() and reopened.table().schema == pl.Schema(EVENT_COLUMNS)
    assert reopened.history()["removed_at"].to_list()[0] is not None
    with pytest.raises(KeyError):
        reopened.remove(eid)


def test_invalid_events_name_the_field(calendar) -> None:
    with pytest.raises(EventError, match="field kind"):
        calendar.add("x", "party", D(2026, 1, 1), D(2026, 1, 1))
    with pytest.raises(EventError, match="field end"):
        calendar.add("x", "other", D(2026, 1, 2), D(2026, 1, 1))
    with pytest.raises(EventError, match="field scope_value"):
        calendar.add("x", "other", D(2026, 1, 1), D(2026, 1, 1), "region")


def test_csv_round_trip_and_a_second_import_adds_nothing(calendar, tmp_path) -> None:
    calendar.add("Spring sale", "promotion", D(2026, 3, 5), D(2026, 3, 8), "category", "toys")
    calendar.add("Easter", "holiday", D(2026, 4, 5), D(2026, 4, 6))
    path = tmp_path / "events.csv"
    calendar.export_csv(path)
    other = Calendar(StateStore(f"sqlite:///{tmp_path / 'other.sqlite'}"))
    assert other.import_csv(path) == 2
    assert other.import_csv(path) == 0
    assert other.table().equals(calendar.table())


def test_a_bad_csv_row_names_the_file_row_and_field_and_imports_nothing(calendar) -> None:
    text = (
        "name,kind,start,end,scope_level,scope_value\n"
        "A,holiday,2026-01-01,2026-01-01,,\n"
        "B,holiday,2026-13-01,2026-01-02,,\n"
    )
    buffer = io.StringIO(text)
    buffer.name = "my_events.csv"
    with pytest.raises(EventError, match=r"my_events\.csv, row 3: field start"):
        calendar.import_csv(buffer)
    assert calendar.table().is_empty()


def test_default_calendar_has_the_retail_dates_and_the_shop_promotions(calendar) -> None:
    events = default_calendar(D(2026, 11, 1), D(2027, 1, 5))
    names = set(events["name"])
    assert {"Black Friday", "Cyber Monday", "Christmas", "New Year"} <= names
    assert events.filter(name="Black Friday")["start"].to_list() == [D(2026, 11, 27)]
    promos = events.filter(pl.col("scope_level") == "category")
    assert promos.height > 0 and set(promos["start"].dt.weekday()) == {4}  # Thursday to Sunday
    assert default_calendar(D(2026, 11, 1), D(2027, 1, 5)).equals(events)
    assert calendar.seed_default(D(2026, 11, 1), D(2027, 1, 5)) == events.height
    assert calendar.seed_default(D(2026, 11, 1), D(2027, 1, 5)) == 0
    assert between(calendar.table(), D(2026, 12, 25), D(2026, 12, 25))["name"].to_list() == ["Christmas"]


def test_days_covered_are_the_expected_drop_days_old_and_new() -> None:
    promo = {"kind": "promotion", "start": D(2026, 3, 5), "end": D(2026, 3, 8)}
    moved = {**promo, "end": D(2026, 3, 9)}
    site = {"kind": "site_change", "start": D(2026, 3, 1), "end": D(2026, 3, 2)}
    assert days_covered(None, promo) == [D(2026, 3, 9)]
    assert days_covered(promo, moved) == [D(2026, 3, 9), D(2026, 3, 10)]
    assert days_covered(site, None) == [D(2026, 3, 1), D(2026, 3, 2)]


def test_a_drop_is_expected_only_on_the_event_days_within_its_scope() -> None:
    events = pl.DataFrame(
        [
            ("e1", "Toys promo", "promotion", D(2026, 3, 5), D(2026, 3, 8), "category", "toys"),
            ("e2", "EU checkout", "site_change", D(2026, 3, 9), D(2026, 3, 9), "region", "eu-west"),
        ],
        schema=EVENT_COLUMNS,
        orient="row",
    )
    alerts = pl.DataFrame(
        {
            "alert_id": ["a", "b", "c", "d", "e"],
            "date": [D(2026, 3, 9), D(2026, 3, 9), D(2026, 3, 9), D(2026, 3, 8), D(2026, 3, 9)],
            "level": ["category", "sku_region", "region", "category", "total"],
            "sku": [None, "SKU-1", None, None, None],
            "category": ["toys", "toys", None, "toys", None],
            "region": [None, "eu-west", "us-east", None, None],
        }
    )
    out = label_expected(alerts, events)
    assert out["alert_id"].to_list() == ["a", "b", "c", "d", "e"]
    assert out["expected"].to_list() == ["Toys promo", "EU checkout; Toys promo", None, None, None]
    assert label_expected(alerts, events.clear())["expected"].to_list() == [None] * 5


def test_the_calendar_works_on_postgresql(pg_url, tmp_path) -> None:
    url = _pg_database(pg_url)
    eid = Calendar(StateStore(url)).add(
        "Checkout", "site_change", D(2026, 3, 1), D(2026, 3, 2), "sku", "SKU-1"
    )
    calendar = Calendar(StateStore(url))
    calendar.update(eid, end=D(2026, 3, 3))
    assert calendar.table()[["start", "end", "scope_value"]].row(0) == (D(2026, 3, 1), D(2026, 3, 3), "SKU-1")
    assert calendar.seed_default(D(2026, 11, 1), D(2026, 12, 31)) > 0
    assert calendar.seed_default(D(2026, 11, 1), D(2026, 12, 31)) == 0
    calendar.export_csv(tmp_path / "events.csv")
    calendar.remove(eid)
    assert eid not in set(calendar.table()["event_id"]) and calendar.import_csv(tmp_path / "events.csv") == 1

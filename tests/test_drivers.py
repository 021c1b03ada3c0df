"""Key drivers on hand-built daily_agg rows where the answer is known."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from spd_assets.core.drivers import effects, key_drivers

BASE = dt.date.today() - dt.timedelta(days=10)
CURRENT = BASE + dt.timedelta(days=1)


def day_rows(day: dt.date, rows: list[tuple[str, str, str, int, float]]) -> list[dict]:
    return [
        {"date": day, "sku": s, "category": c, "region": r, "orders": o, "units": o, "revenue": rev}
        for s, c, r, o, rev in rows
    ]


def frame(base: list[tuple], current: list[tuple]) -> pl.DataFrame:
    return pl.DataFrame(day_rows(BASE, base) + day_rows(CURRENT, current))


def drop_of_120() -> pl.DataFrame:
    """East loses 100 and west 20 of revenue, spread over two SKUs in each."""
    return frame(
        [("A", "toys", "east", 10, 150.0), ("B", "books", "east", 10, 150.0),
         ("A", "toys", "west", 10, 100.0), ("B", "books", "west", 10, 100.0)],
        [("A", "toys", "east", 10, 100.0), ("B", "books", "east", 10, 100.0),
         ("A", "toys", "west", 10, 90.0), ("B", "books", "west", 10, 90.0)],
    )  # fmt: skip


def test_a_region_losing_100_of_a_120_drop_explains_83_percent():
    result = key_drivers(drop_of_120(), "revenue", (BASE, BASE), (CURRENT, CURRENT), top=1)
    assert result.change == pytest.approx(-120.0)
    assert result.top.select("dimension", "region").row(0) == ("region", "east")
    assert result.explained == pytest.approx(100 / 120)


def test_drivers_are_ranked_by_the_size_of_their_contribution():
    result = key_drivers(drop_of_120(), "revenue", (BASE, BASE), (CURRENT, CURRENT))
    contributions = result.table["contribution"].abs().to_list()
    assert contributions == sorted(contributions, reverse=True)


def test_combinations_of_dimensions_are_drivers_too():
    result = key_drivers(drop_of_120(), "revenue", (BASE, BASE), (CURRENT, CURRENT))
    pair = result.table.filter((pl.col("dimension") == "region × sku") & (pl.col("region") == "east"))
    assert pair["contribution"].to_list() == [pytest.approx(-50.0), pytest.approx(-50.0)]


def test_top_drivers_are_never_nested_in_one_another():
    result = key_drivers(drop_of_120(), "revenue", (BASE, BASE), (CURRENT, CURRENT), top=3)
    east_inside = result.top.filter((pl.col("region") == "east") & (pl.col("dimension") != "region"))
    assert east_inside.is_empty()


def test_a_pure_mix_shift_changes_aov_with_no_rate_effect():
    # Each region keeps its AOV (10 and 20); orders move from 50/50 to 80/20.
    data = frame(
        [("A", "toys", "east", 50, 500.0), ("B", "toys", "west", 50, 1000.0)],
        [("A", "toys", "east", 80, 800.0), ("B", "toys", "west", 20, 400.0)],
    )
    result = key_drivers(data, "aov", (BASE, BASE), (CURRENT, CURRENT), dimensions=("region",))
    assert (result.base, result.current) == (pytest.approx(15.0), pytest.approx(12.0))
    by_region = effects(result).row(0, named=True)
    assert by_region["rate"] == pytest.approx(0.0)
    assert by_region["mix"] == pytest.approx(-3.0)


def test_a_pure_rate_change_has_no_mix_effect():
    data = frame(
        [("A", "toys", "east", 50, 500.0), ("B", "toys", "west", 50, 1000.0)],
        [("A", "toys", "east", 50, 250.0), ("B", "toys", "west", 50, 1000.0)],
    )
    result = key_drivers(data, "aov", (BASE, BASE), (CURRENT, CURRENT), dimensions=("region",))
    east = result.table.filter(pl.col("region") == "east").row(0, named=True)
    assert (east["mix"], east["rate"]) == (pytest.approx(0.0), pytest.approx(-2.5))


def test_an_unknown_kpi_is_refused_by_name():
    with pytest.raises(ValueError, match="'margin'"):
        key_drivers(drop_of_120(), "margin", (BASE, BASE), (CURRENT, CURRENT))

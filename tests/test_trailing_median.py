"""``detect_grid.trailing_median`` is Polars' shifted rolling median per series, from bottleneck."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from spd_assets.core.detect_grid import SID, trailing_median


def _frame(lengths: list[int], seed: int) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=sum(lengths))
    x[rng.random(x.size) < 0.15] = np.nan  # unknown days, left out of every window
    sid = np.repeat(np.arange(len(lengths)), lengths).astype(np.uint32)
    return pl.DataFrame({SID: sid, "x": x}).with_columns(pl.col("x").fill_nan(None))


@pytest.mark.parametrize(
    ("window", "min_samples", "lag"), [(28, 7, 1), (28, 14, 8), (3, 3, 0), (7, 7, 0), (40, 5, 2)]
)
@pytest.mark.parametrize("lengths", [[60] * 30, [5, 5, 5], [90, 3, 45, 1]], ids=["grid", "short", "ragged"])
def test_the_same_medians_as_polars_per_series(lengths, window, min_samples, lag) -> None:
    frame = _frame(lengths, seed=len(lengths) + window)
    polars = frame.select(pl.col("x").shift(lag).rolling_median(window, min_samples=min_samples).over(SID))
    ours = trailing_median(frame, pl.col("x"), window, min_samples, lag=lag)
    expected = polars.to_series().fill_null(np.nan).to_numpy()
    got = ours.fill_null(np.nan).to_numpy()
    assert (np.isnan(expected) == np.isnan(got)).all()
    assert np.allclose(expected[~np.isnan(expected)], got[~np.isnan(got)], rtol=0, atol=1e-12)


def test_a_series_never_reads_the_one_before_it() -> None:
    # The first series sells 100 a day, the second 1: its first known medians are its own.
    frame = pl.DataFrame({SID: np.repeat([0, 1], 10).astype(np.uint32), "x": [100.0] * 10 + [1.0] * 10})
    got = trailing_median(frame, pl.col("x"), 28, 1, lag=1).to_list()
    assert got[10] is None and got[11:] == [1.0] * 9 and got[1:10] == [100.0] * 9

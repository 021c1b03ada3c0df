"""root_causes on hand-built leaves with known causes, and on the benchmark's generated cases."""

from __future__ import annotations

import itertools

import numpy as np
import polars as pl
import pytest

from benchmarks.root_causes import f1, generate_case, one_dimension_baseline
from spd_assets.core.drivers import root_causes

VALUES = {
    "region": ["east", "west", "north", "south", "central"],
    "category": ["toys", "books", "garden", "food", "tools"],
    "channel": ["web", "app", "store", "phone"],
}


def leaves(drops: dict[tuple[tuple[str, str], ...], float], noise: float = 0.05, dims=None, seed=1):
    """Every combination of ``dims`` with an expected value, observed = expected x noise x drops."""
    dims = dims or VALUES
    rng = np.random.default_rng(seed)
    rows = [dict(zip(dims, combo, strict=True)) for combo in itertools.product(*dims.values())]
    frame = pl.DataFrame(rows).with_columns(expected=pl.Series(rng.lognormal(4, 0.5, len(rows))))
    observed = frame["expected"].to_numpy() * (1 + rng.uniform(-noise, noise, frame.height))
    for cause, factor in drops.items():
        mask = np.all([frame[k].to_numpy() == v for k, v in cause], axis=0)
        observed = np.where(mask, observed * factor, observed)
    return frame.with_columns(observed=pl.Series(observed))


def test_a_region_outage_is_the_region_alone():
    frame = leaves({(("region", "east"),): 0.3})
    assert root_causes(frame, list(VALUES)) == [{"region": "east"}]


def test_a_two_dimension_combination_is_found_as_the_pair():
    frame = leaves({(("region", "east"), ("category", "toys")): 0.2})
    assert root_causes(frame, list(VALUES)) == [{"region": "east", "category": "toys"}]


def test_two_causes_at_once_are_both_found_larger_first():
    frame = leaves({(("region", "west"),): 0.4, (("category", "books"), ("channel", "web")): 0.3})
    assert root_causes(frame, list(VALUES)) == [{"region": "west"}, {"category": "books", "channel": "web"}]


def test_a_rise_is_a_cause_too():
    frame = leaves({(("channel", "app"),): 1.8})
    assert root_causes(frame, list(VALUES)) == [{"channel": "app"}]


def test_noise_alone_gives_no_cause():
    assert root_causes(leaves({}, noise=0.2), list(VALUES)) == []


def test_a_child_is_never_returned_beside_its_parent():
    frame = leaves({(("region", "east"),): 0.5, (("region", "east"), ("category", "toys")): 0.4})
    found = root_causes(frame, list(VALUES))
    assert {"region": "east"} in found
    for a, b in itertools.permutations(found, 2):
        assert not (a != b and all(a.get(k) == v for k, v in b.items())), (a, b)


def test_pandas_frames_and_custom_column_names_are_accepted():
    frame = leaves({(("region", "east"),): 0.3}).rename({"observed": "actual", "expected": "forecast"})
    assert root_causes(frame.to_pandas(), list(VALUES), "actual", "forecast") == [{"region": "east"}]


@pytest.mark.parametrize("n_dims", [2, 3, 4, 5, 6])
def test_any_number_of_dimensions_from_two_to_six(n_dims):
    dims = {f"d{i}": [f"v{j}" for j in range(4)] for i in range(n_dims)}
    frame = leaves({(("d0", "v1"), ("d1", "v2")): 0.25}, dims=dims)
    assert root_causes(frame, list(dims)) == [{"d0": "v1", "d1": "v2"}]


def test_a_missing_column_is_named():
    with pytest.raises(ValueError, match="'observed'"):
        root_causes(leaves({}).drop("observed"), list(VALUES))


def test_generated_cases_are_found_better_than_one_dimension_at_a_time():
    cases = [generate_case(seed) for seed in range(2000, 2010)]
    ours = np.mean([f1(root_causes(c["frame"], c["dims"]), c["causes"]) for c in cases])
    baseline = np.mean([f1(one_dimension_baseline(c["frame"], c["dims"]), c["causes"]) for c in cases])
    assert ours >= 0.8
    assert ours > baseline

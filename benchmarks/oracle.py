"""What any detector could find: each incident's chance of being found in time by an oracle that knows
the shop's true expected orders and noise, at the one-day rule's false-alarm level.

A target of 0.9 recall cannot hold where the data itself does not show the drop: a category of 50
over-dispersed orders a day losing half of them for two days is within its own noise. The oracle
bounds what the default rule can do per shape and kind, so a shortfall reads as the detector's (the
oracle finds it, spd does not) or the data's (neither can).

The oracle tests the incident's own series on orders, days 0..deadline: each day's relative drop
read from the series' cells with optimal weights (information sum(m^2 / var) over cells, var Poisson
plus the shape's negative-binomial term; its shop-wide daily shock adds to the total's, which no
other series shows), days combined as the matched filter of the known drop (z^2 = sum drop^2 /
variance); found with chance Phi(z - Z). A stop (nothing kept) is found when its run of zero days is
as unlikely as a Z-spread miss. It knows the baseline exactly: an upper bound, not a detector.
"""

from __future__ import annotations

import math

import numpy as np

from spd_assets.core.synthetic.shape_incidents import ShapeIncident
from spd_assets.core.synthetic.shapes import ShopYear

Z = 3.5  # the one-day rule's z_threshold: the same false-alarm level per series-day


def _phi(x: float) -> float:
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


def oracle_power(shop: ShopYear, incident: ShapeIncident, deadline: int) -> float:
    """The chance an oracle finds ``incident`` within ``deadline`` days of its start."""
    first = shop.days[0]
    start = (incident.start - first).days
    last = min((incident.end - first).days, start + deadline, len(shop.days) - 1)
    _, n_skus, n_regions = shop.expected.shape
    skus = list(range(n_skus)) if incident.sku_index is None else list(incident.sku_index)
    regions = list(range(n_regions)) if incident.region_index is None else [incident.region_index]
    r, shock = shop.shape.dispersion, shop.shape.day_shock if incident.level == "total" else 0.0
    signal, log_zero = 0.0, 0.0
    stop = True
    for d in range(start, last + 1):
        normal = shop.expected[d][np.ix_(skus, regions)]
        kept = shop.kept[d][np.ix_(skus, regions)]
        # The day's relative drop (the same in every cell hit) read from its cells with the optimal
        # weights: information sum(m^2 / var) over cells, var = m + m^2 / r; the shock adds to it.
        information = float((normal**2 / (normal + (normal**2 / r if r else 0.0))).sum())
        drop = float(1.0 - kept.mean())
        signal += drop**2 / (1.0 / information + shock**2) if information > 0 else 0.0
        stop &= bool((kept == 0).all())
        # P(no order that day): Poisson e^-m, or negative binomial (r / (r + m))^r per cell.
        log_zero += float((r * np.log(r / (r + normal))).sum()) if r else -float(normal.sum())
    if stop:
        return 1.0 if log_zero <= math.log(_phi(-Z)) else 0.0
    return _phi(math.sqrt(signal) - Z)

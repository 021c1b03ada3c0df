"""spd: sales performance pipeline. ``dagster ... -m spd_assets`` finds ``defs`` here."""

import warnings

import dagster as dg

# spd relies on single-run backfills and partition mappings that Dagster still labels beta/preview
# (see README, "What spd relies on"); say so once there instead of on every import.
warnings.filterwarnings("ignore", category=dg.BetaWarning)
warnings.filterwarnings("ignore", category=dg.PreviewWarning)

from .definitions import defs  # noqa: E402

__all__ = ["defs"]

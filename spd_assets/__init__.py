"""spd: sales performance pipeline. ``dagster ... -m spd_assets`` finds ``defs`` here."""

from .definitions import defs

__all__ = ["defs"]

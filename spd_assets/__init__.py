"""spd: sales performance pipeline. Dagster loads ``spd_assets.definitions``; importing this package
(or any ``spd_assets.core`` module) builds nothing, reads no setting and touches no file.

``dagster ... -m spd_assets`` still works: ``defs`` is built on first access.
"""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    if name == "defs":
        from .definitions import defs

        return defs
    raise AttributeError(f"module 'spd_assets' has no attribute {name!r}")

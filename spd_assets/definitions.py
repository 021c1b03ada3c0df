"""The one Definitions object: assets, checks, jobs, schedules, sensors and resources.

Built by ``build_defs`` from validated SPD_* settings, so tests can point it at a temporary directory.
"""

from __future__ import annotations

import dagster as dg

from .assets import alerts, sales, sources
from .io_manager import DayParquetIOManager
from .jobs import anomaly_check, daily_pipeline, daily_schedule
from .notifiers import notifications_from_env
from .resources import LandingSource, SyntheticSource
from .sensors.anomaly import anomaly_sensor
from .sensors.landing import landing_sensor
from .settings import Settings, load_settings

ASSET_MODULES = [sources, sales, alerts]
JOBS = [daily_pipeline, anomaly_check]
SCHEDULES = [daily_schedule]
SENSORS: list[dg.SensorDefinition] = [landing_sensor, anomaly_sensor]


def build_resources(settings: Settings) -> dict[str, object]:
    """Resources configured from settings (the Dagster UI launchpad can still override them)."""
    rate = settings.quarantine_max_rate
    source = (
        LandingSource(landing_dir=settings.landing_dir, quarantine_max_rate=rate)
        if settings.source == "landing"
        else SyntheticSource(
            orders_per_day=settings.orders_per_day,
            n_skus=settings.n_skus,
            seed=settings.seed,
            quarantine_max_rate=rate,
        )
    )
    return {
        "io_manager": DayParquetIOManager(data_dir=settings.data_dir),
        "source": source,
        "notifications": notifications_from_env(settings),
    }


def build_defs(settings: Settings) -> dg.Definitions:
    """Everything Dagster loads, wired to ``settings``."""
    return dg.Definitions(
        assets=dg.load_assets_from_modules(ASSET_MODULES),
        asset_checks=dg.load_asset_checks_from_modules(ASSET_MODULES),
        jobs=JOBS,
        schedules=SCHEDULES,
        sensors=SENSORS,
        resources=build_resources(settings),
        # A daily chain cannot run in parallel, and each multiprocess step re-imports everything.
        executor=dg.in_process_executor,
    )


defs = build_defs(load_settings())

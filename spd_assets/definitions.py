"""The one Definitions object: assets, checks, jobs, schedules, sensors and resources.

Everything is built by ``build_defs`` from one validated ``Settings`` (partitions, sensors' default
status and intervals, resources), so tests can point it at a temporary directory or another day.
"""

from __future__ import annotations

import atexit
import gc
import warnings

import dagster as dg

from .assets import alerts, sales, sources
from .core.settings import Settings, load_settings
from .io_manager import DayParquetIOManager
from .jobs import build_jobs
from .partitions import backfill_policy, daily_partitions
from .resources.notifications import notifications_from_env
from .resources.order_sources import LandingSource, SyntheticSource
from .sensors.anomaly import build_anomaly_sensor
from .sensors.failures import build_failure_sensors
from .sensors.landing import build_landing_sensor

# spd relies on single-run backfills and partition mappings that Dagster still labels beta/preview
# (see README, "What spd relies on"); say so once there instead of on every load.
warnings.filterwarnings("ignore", category=dg.BetaWarning)
warnings.filterwarnings("ignore", category=dg.PreviewWarning)


def build_resources(settings: Settings) -> dict[str, object]:
    """Resources configured from settings (the Dagster UI launchpad can still override them)."""
    rate = settings.quarantine_max_rate
    source = (
        LandingSource(landing_dir=settings.landing_dir, quarantine_max_rate=rate, timezone=settings.timezone)
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
    daily, policy = daily_partitions(settings), backfill_policy(settings.backfill_chunk_days)
    jobs = build_jobs(daily)
    return dg.Definitions(
        assets=[
            *sources.build(daily, policy),
            *sales.build(daily, settings.fresh_by_hour, policy),
            *alerts.build(daily, policy),
        ],
        jobs=[jobs.daily_pipeline, jobs.anomaly_check],
        schedules=[jobs.schedule],
        sensors=[
            build_landing_sensor(settings, daily),
            build_anomaly_sensor(jobs.anomaly_check, daily, settings.sensor_interval_s),
            *build_failure_sensors(settings),
        ],
        resources=build_resources(settings),
        # A daily chain cannot run in parallel, and each multiprocess step re-imports everything.
        executor=dg.in_process_executor,
    )


def keep_loaded_objects_out_of_gc() -> None:
    """Spare each process that loads the definitions the collector's walks over what it loaded.

    Python's cyclic collector walks every tracked object at each full collection, and again several
    times as the interpreter exits. After Dagster, Polars and these definitions are loaded that is
    about 230,000 objects (modules, classes, functions), all alive until the process ends: a nightly
    CLI run spent about 1.5 s of its wall time walking them, 1 s of it after the run had finished.
    ``gc.freeze`` moves them out of the collector's sight (objects made later are still collected);
    at exit it is called again: the process is ending, its files are closed and the logging module
    flushes its handlers in its own exit handler, so nothing is lost by leaving the rest to the OS.
    """
    gc.freeze()
    atexit.register(gc.freeze)


defs = build_defs(load_settings())
keep_loaded_objects_out_of_gc()

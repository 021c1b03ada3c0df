"""The one Definitions object: assets, jobs, schedules and resources, configured from SPD_* settings."""

from __future__ import annotations

import dagster as dg

from .assets import sales, sources
from .io_manager import DayParquetIOManager
from .jobs import daily_pipeline, daily_schedule
from .resources import SyntheticSource
from .settings import load_settings

settings = load_settings()

defs = dg.Definitions(
    assets=dg.load_assets_from_modules([sources, sales]),
    jobs=[daily_pipeline],
    schedules=[daily_schedule],
    resources={
        "io_manager": DayParquetIOManager(data_dir=settings.data_dir),
        "source": SyntheticSource(
            orders_per_day=settings.orders_per_day, n_skus=settings.n_skus, seed=settings.seed
        ),
    },
    # A daily chain cannot run in parallel, and each multiprocess step re-imports everything.
    executor=dg.in_process_executor,
)

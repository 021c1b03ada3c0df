"""Progress lines for long runs: days done of days and rows per second, at most every few seconds."""

from __future__ import annotations

import time
from collections.abc import Callable


class Progress:
    """Counts days and rows through a run and reports through ``emit`` (usually ``context.log.info``)."""

    def __init__(
        self, label: str, total_days: int, emit: Callable[[str], None], unit: str = "rows", every_s: float = 2
    ) -> None:
        self.label, self.total, self.emit, self.unit, self.every = label, total_days, emit, unit, every_s
        self.days = self.rows = 0
        self.started = self.last = time.perf_counter()

    def step(self, rows: int, days: int = 1) -> None:
        self.days += days
        self.rows += rows
        now = time.perf_counter()
        if now - self.last >= self.every or self.days >= self.total:
            self.last = now
            rate = self.rows / max(now - self.started, 1e-9)
            done = f"{self.label}: {self.days}/{self.total} days"
            self.emit(f"{done}, {self.rows:,} {self.unit}, {rate:,.0f} {self.unit}/s")

"""Load the next day while the current one is written: a range run's reading and writing overlap.

Polars and pyarrow release the GIL, so on two cores reading and validating day d+1 in a thread while
day d is written to Parquet uses both. Only one day is read ahead, and only while the day in hand is
small (a ten-million-line day is not joined by a second one in memory).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")
AHEAD_MAX_BYTES = 512 << 20  # a day in hand bigger than this waits for its successor to be asked for


def read_ahead(
    items: Sequence[Item],
    load: Callable[[Item], Result],
    size: Callable[[Result], int] = lambda _: 0,
) -> Iterator[tuple[Item, Result]]:
    """(item, load(item)) in order; load's exception is raised at its own item, never earlier."""
    if len(items) < 2:
        for item in items:
            yield item, load(item)
        return
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="spd-read-ahead")
    try:
        future: Future[Result] | None = pool.submit(load, items[0])
        for k, item in enumerate(items):
            result = future.result() if future is not None else load(item)
            future = None
            if k + 1 < len(items) and size(result) <= AHEAD_MAX_BYTES:
                future = pool.submit(load, items[k + 1])
            yield item, result
            del result
    finally:
        pool.shutdown(wait=True, cancel_futures=True)

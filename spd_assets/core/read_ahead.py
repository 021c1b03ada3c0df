"""Work ahead of the caller in threads: a range run's reading and writing overlap, and detection
scores two shards of a big catalog at once.

Polars, pyarrow and numpy release the GIL, so on two cores reading and validating day d+1 in a
thread while day d is written to Parquet uses both, and so does scoring two shards at a time
(detection alone kept 1.2 of 2 cores busy). Results come back in order; at most ``workers`` loads
run ahead of the one in hand, and none while the one in hand is big (a ten-million-line day is
not joined by a second one in memory).
"""

from __future__ import annotations

from collections import deque
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
    workers: int = 1,
) -> Iterator[tuple[Item, Result]]:
    """(item, load(item)) in order, ``workers`` loads at a time in threads; load's exception is
    raised at its own item, never earlier."""
    if len(items) < 2 or workers < 1:
        for item in items:
            yield item, load(item)
        return
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="spd-ahead")
    pending: deque[tuple[Item, Future[Result]]] = deque()
    queued = 0

    def submit(limit: int) -> None:
        nonlocal queued
        while queued < len(items) and len(pending) < limit:
            pending.append((items[queued], pool.submit(load, items[queued])))
            queued += 1

    try:
        submit(workers)
        while pending:
            item, future = pending.popleft()
            result = future.result()
            submit(workers if size(result) <= AHEAD_MAX_BYTES else 0)
            yield item, result
            del result
            submit(1)  # the next one at least, now that the caller asks for it
    finally:
        pool.shutdown(wait=True, cancel_futures=True)

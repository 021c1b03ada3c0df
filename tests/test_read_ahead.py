"""read_ahead: the next day loads while the current one is handled, in order, failures at their day."""

from __future__ import annotations

import threading

import pytest

from spd_assets.core.read_ahead import AHEAD_MAX_BYTES, read_ahead


def test_results_come_in_order_and_the_next_item_loads_while_the_caller_works() -> None:
    started: list[int] = []
    second_started = threading.Event()

    def load(n: int) -> int:
        started.append(n)
        if n == 1:
            second_started.set()
        return n * 10

    seen = []
    for item, result in read_ahead([0, 1, 2], load):
        if item == 0:  # the caller holds day 0: day 1 is already being read
            assert second_started.wait(5)
        seen.append((item, result))
    assert seen == [(0, 0), (1, 10), (2, 20)]
    assert started == [0, 1, 2]


def test_a_failure_is_raised_at_its_own_item_after_the_earlier_ones() -> None:
    def load(n: int) -> int:
        if n == 2:
            raise ValueError("day 2 is broken")
        return n

    seen = []
    with pytest.raises(ValueError, match="day 2"):
        for item, _ in read_ahead([0, 1, 2, 3], load):
            seen.append(item)
    assert seen == [0, 1]


def test_nothing_is_read_ahead_while_a_big_item_is_in_hand() -> None:
    loading: list[int] = []
    in_hand: list[tuple[int, list[int]]] = []

    def load(n: int) -> int:
        loading.append(n)
        return n

    size = {0: AHEAD_MAX_BYTES + 1, 1: 0, 2: 0}
    for item, _ in read_ahead([0, 1, 2], load, size=lambda n: size[n]):
        in_hand.append((item, list(loading)))
    assert in_hand[0] == (0, [0])  # day 0 is big: day 1 waited until day 0 was handed back
    assert [item for item, _ in in_hand] == [0, 1, 2]


def test_two_workers_load_two_items_at_once_and_hold_no_more_than_two_ahead() -> None:
    gate = threading.Barrier(2, timeout=5)  # passes only when two loads run at the same time
    running, most = 0, 0
    lock = threading.Lock()

    def load(n: int) -> int:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        if n < 2:
            gate.wait()  # items 0 and 1 must be loading together, or this times out
        with lock:
            running -= 1
        return n * 10

    seen = [(item, result) for item, result in read_ahead(list(range(6)), load, workers=2)]
    assert seen == [(n, n * 10) for n in range(6)]
    assert most == 2

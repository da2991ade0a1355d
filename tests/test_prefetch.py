"""Working ahead on threads: the same results, in the same order, with bounded memory."""
import threading
import time

import pytest

from pixel2gene.io.prefetch import prefetch, resolve_threads


@pytest.mark.parametrize("workers", [0, 1, 4])
def test_results_come_in_order_whatever_finishes_first(workers):
    def slow_first(i):
        time.sleep(0.02 if i % 3 == 0 else 0)
        return i * i
    assert list(prefetch(slow_first, range(20), workers=workers)) == [i * i for i in range(20)]


def test_no_more_than_depth_items_are_in_flight():
    started, lock = [], threading.Lock()

    def work(i):
        with lock:
            started.append(i)
        return i

    seen = []
    for r in prefetch(work, range(50), workers=2, depth=4):
        with lock:
            ahead = len(started) - len(seen)
        assert ahead <= 4
        seen.append(r)
    assert seen == list(range(50))


def test_an_error_reaches_the_caller_at_its_item():
    def work(i):
        if i == 5:
            raise ValueError("bad tile 5")
        return i

    got = []
    with pytest.raises(ValueError, match="bad tile 5"):
        for r in prefetch(work, range(10), workers=3):
            got.append(r)
    assert got == [0, 1, 2, 3, 4]


def test_zero_threads_means_every_core():
    assert resolve_threads(0) >= 1 and resolve_threads(3) == 3

"""Work ahead on threads while the caller consumes earlier results, in order and with bounded memory.

Decoding, resampling and tile preparation release the GIL (NumPy, OpenCV,
tifffile codecs, torch), so a few threads keep a device or a writer fed.
Unlike Executor.map, at most `depth` results are pending at any time: on a
whole slide an unbounded map would hold every strip or tile in memory.
"""
import os
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Iterable, Iterator, TypeVar

T = TypeVar("T")
R = TypeVar("R")


def available_cores() -> int:
    """Cores this process may run on (affinity, not the machine's total)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def resolve_threads(threads: int) -> int:
    """The tools' convention: 0 means every available core."""
    return threads if threads > 0 else available_cores()


def prefetch(fn: Callable[[T], R], items: Iterable[T], workers: int = 1, depth: int = 0) -> Iterator[R]:
    """fn(item) for each item, in the items' order, computed up to `depth` items ahead on `workers` threads.

    workers=0 runs everything in the caller's thread (the plain loop). An
    exception raised by fn reaches the caller at that item; pending work is
    cancelled or awaited before the generator closes.
    """
    if workers <= 0:
        for item in items:
            yield fn(item)
        return
    depth = max(depth, workers + 1)
    it = iter(items)
    pending = deque()
    with ThreadPoolExecutor(workers) as pool:
        try:
            for item in it:
                pending.append(pool.submit(fn, item))
                if len(pending) >= depth:
                    break
            while pending:
                result = pending.popleft().result()
                for item in it:  # refill one slot before handing the result over
                    pending.append(pool.submit(fn, item))
                    break
                yield result
        finally:
            for f in pending:
                f.cancel()

"""Features from the device into the memory map on a background thread, while the device goes on.

On CUDA a batch's features are copied into pinned host memory asynchronously
and a writer thread waits for that copy alone before writing, so the GPU never
waits for the disk and the host never waits for the GPU between batches. Jobs
run in the order they were given, one at a time, so the result is the same
as writing in the loop.
"""
from collections import deque
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch


class HostCopy:
    """A device tensor on its way to the host: .numpy() waits for the copy (and nothing else)."""

    def __init__(self, x: torch.Tensor):
        if x.device.type == "cuda":
            self._host = torch.empty(x.shape, dtype=x.dtype, pin_memory=True)
            self._host.copy_(x, non_blocking=True)
            self._done = torch.cuda.Event()
            self._done.record()
        else:
            self._host, self._done = x, None

    def numpy(self) -> np.ndarray:
        if self._done is not None:
            self._done.synchronize()
        return self._host.numpy()


class BackgroundWriter:
    """Run write jobs on one thread, in order, with at most `depth` waiting; errors surface in the caller."""

    def __init__(self, depth: int = 2):
        self._pool = ThreadPoolExecutor(1)
        self._pending = deque()
        self._depth = depth

    def submit(self, fn, *args):
        while len(self._pending) >= self._depth:
            self._pending.popleft().result()
        self._pending.append(self._pool.submit(fn, *args))

    def wait(self):
        while self._pending:
            self._pending.popleft().result()

    def __enter__(self):
        return self

    def __exit__(self, exc_type, *exc):
        try:
            if exc_type is None:
                self.wait()
        finally:
            for f in self._pending:
                f.cancel()
            self._pool.shutdown(wait=True)

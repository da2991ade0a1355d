"""Keep long passes over memory-mapped slides from piling up resident pages.

Pages of a mapped file count as the process's resident memory until the
kernel reclaims them, so one pass over a 5 GB image or a 20 GB feature map
would look like, and under pressure compete like, that much RAM. Dropping
them after each strip keeps the resident set at the working strip.
"""
import mmap
import os

import numpy as np


def new_npy(path, shape, dtype, sparse: bool = False) -> np.ndarray:
    """A new .npy memmap to fill in place. Its disk blocks are reserved first: a disk that fills while the pages
    of a mapped file are written back kills the process (SIGBUS), so a full disk must fail here, as an OSError
    naming the file. `sparse`: the caller fills a small part (the features of tissue superpixels) and has checked
    the free space for that part; reserving the whole would spend the disk the sparse file saves."""
    out = np.lib.format.open_memmap(path, mode="w+", dtype=dtype, shape=tuple(shape))
    if not sparse:
        reserve(path)
    return out


def reserve(file) -> None:
    """Allocate every block of `file` (a path or an open file) now; OSError (ENOSPC) where the disk cannot."""
    if isinstance(file, (str, os.PathLike)):
        with open(file, "r+b") as fh:
            return reserve(fh)
    size = os.fstat(file.fileno()).st_size
    if size and hasattr(os, "posix_fallocate"):  # not on macOS or Windows: there a full disk stays a crash
        try:
            os.posix_fallocate(file.fileno(), 0, size)
        except OSError as exc:
            raise OSError(exc.errno, exc.strerror, getattr(file, "name", None)) from None


def _mapping(arr):
    a = arr
    while a is not None:
        if isinstance(getattr(a, "_mmap", None), mmap.mmap):
            return a
        a = getattr(a, "base", None)
    return None


def release_pages(arr) -> None:
    """Write back (if writable) and drop the resident pages of the memmap behind `arr`; no-op otherwise."""
    m = _mapping(arr)
    if m is None or m._mmap.closed:
        return
    if isinstance(m, np.memmap) and m.mode in ("r+", "w+"):
        m.flush()
    try:
        m._mmap.madvise(mmap.MADV_DONTNEED)
    except (AttributeError, OSError, ValueError):  # not every platform offers madvise
        pass


class PageReleaser:
    """Call after each unit of work; releases the given memmaps every `every` calls."""

    def __init__(self, *arrays, every: int = 16):
        self.arrays, self.every, self.n = arrays, every, 0

    def __call__(self):
        self.n += 1
        if self.n % self.every == 0:
            for a in self.arrays:
                release_pages(a)

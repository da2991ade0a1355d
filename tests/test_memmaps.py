"""Long passes over memory-mapped slides must not keep the slide resident."""
from pathlib import Path

import numpy as np
import pytest

from pixel2gene.io.memmaps import _mapping, release_pages

STATUS = Path("/proc/self/status")


def rss_file_mib() -> float:
    for line in STATUS.read_text().splitlines():
        if line.startswith("RssFile:"):
            return int(line.split()[1]) / 1024
    pytest.skip("no RssFile in /proc/self/status")


@pytest.mark.skipif(not STATUS.exists(), reason="needs Linux /proc")
def test_released_pages_leave_the_resident_set(tmp_path):
    a = np.lib.format.open_memmap(tmp_path / "slide.npy", mode="w+", dtype=np.uint8, shape=(16384, 16384))
    a[:] = 7  # 256 MiB of written pages
    before = rss_file_mib()
    release_pages(a[100:200])  # a view finds its memmap
    after_write = rss_file_mib()
    b = np.load(tmp_path / "slide.npy", mmap_mode="r")
    assert int(b[::64, ::64].sum()) == 7 * 256 * 256  # written data survived the release
    assert before - after_write > 200, (before, after_write)
    total = sum(int(b[i:i + 1024].sum(dtype=np.int64)) for i in range(0, 16384, 1024))
    assert total == 7 * 16384 * 16384
    read = rss_file_mib()
    release_pages(b)
    assert read - rss_file_mib() > 200


def test_the_mapping_behind_a_view_is_found_and_a_plain_array_has_none(tmp_path):
    a = np.lib.format.open_memmap(tmp_path / "m.npy", mode="w+", dtype=np.uint8, shape=(64, 64))
    assert _mapping(a[8:16][:, 2:5])._mmap is a._mmap  # views of views: release_pages reaches the file mapping
    assert _mapping(np.asarray(a[1:3]) + 1) is None and _mapping(np.zeros(3)) is None and _mapping(None) is None
    plain = np.arange(5)
    release_pages(plain)  # a no-op that leaves the array as it was
    assert plain.tolist() == [0, 1, 2, 3, 4]


LAYERS = """
import resource, sys, torch
from pixel2gene.tool.allocator import keep_big_allocations
if sys.argv[1] == "keep" and not keep_big_allocations():
    print("not glibc")
    sys.exit()

def layers():  # a network's activations: each layer's output replaces its input
    x = torch.ones(9 * 2 ** 20)  # 36-56 MB each: over glibc's 32 MB, two at a time well under 256 MB
    for n in (12, 10, 14, 9, 11, 13):
        y = torch.empty(n * 2 ** 20).fill_(1.0)
        del x
        x = y

for _ in range(5):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    layers()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


@pytest.mark.skipif(not STATUS.exists(), reason="needs Linux /proc")
def test_freed_big_blocks_are_reused_without_page_faults():
    import os
    import subprocess
    import sys
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    faults = {}
    for mode in ("plain", "keep"):
        out = subprocess.run([sys.executable, "-c", LAYERS, mode], capture_output=True, text=True, env=env, check=True)
        if out.stdout.strip() == "not glibc":
            pytest.skip("not glibc")
        faults[mode] = int(out.stdout)
    assert faults["plain"] > 50_000  # glibc maps and unmaps every block over 32 MB: all pages fault again
    assert faults["keep"] < faults["plain"] / 20, faults

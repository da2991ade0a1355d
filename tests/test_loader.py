"""The feature step's plumbing: tiles read ahead on threads, coarse copies, writes behind the device."""
import time

import cv2
import numpy as np
import pytest
import torch

from pixel2gene.features.efficientnet import downsample_many
from pixel2gene.features.loader import batches, to_device
from pixel2gene.features.writer import BackgroundWriter, HostCopy


@pytest.fixture(scope="module")
def image():
    return np.random.default_rng(7).integers(0, 256, (1000, 777, 3), dtype=np.uint8)


@pytest.mark.parametrize("batch", [1, 7])
def test_overlapped_loader_yields_the_tiles_of_the_plain_loop_in_order(image, batch):
    tiles = [(i, j) for i in range(0, 900, 100) for j in range(0, 700, 150)]  # 45 tiles: 7 batches of 7, last 3

    def read(ij):
        time.sleep(0.004 * ((ij[0] + ij[1]) % 3))  # later tiles often finish first on the threads
        return image[ij[0]:ij[0] + 64, ij[1]:ij[1] + 48]

    plain = list(batches(read, tiles, batch, torch.device("cpu"), workers=0))
    ahead = list(batches(read, tiles, batch, torch.device("cpu"), workers=4, depth=10))
    assert [g for g, _ in plain] == [g for g, _ in ahead] == [tiles[k:k + batch] for k in range(0, 45, batch)]
    for (group, a), (_, b) in zip(plain, ahead):
        assert a.dtype == torch.uint8 and a.shape == (len(group), 64, 48, 3)
        assert torch.equal(a, b)
        assert all(np.array_equal(a[n].numpy(), read(t)) for n, t in enumerate(group))


def test_batches_reach_the_network_as_channels_last_floats(image):
    _, x = next(iter(batches(lambda ij: image[:32, :40], [0, 1], 2, torch.device("cpu"), workers=0)))
    y = to_device(x, torch.device("cpu"))
    assert y.shape == (2, 3, 32, 40) and y.dtype == torch.float32
    assert y.is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(y[0], torch.from_numpy(image[:32, :40]).permute(2, 0, 1).float())


@pytest.mark.parametrize("factors", [[8], [4, 16], [8, 16]])
def test_coarse_copies_from_one_read_equal_whole_image_area_resizes(image, factors):
    copies = downsample_many(image, factors, strip=5, workers=3)
    for f in factors:
        h, w = image.shape[0] // f, image.shape[1] // f
        want = cv2.resize(image[:h * f, :w * f], (w, h), interpolation=cv2.INTER_AREA)
        assert np.array_equal(copies[f], want)


def test_background_writes_run_in_order_and_errors_reach_the_caller():
    seen = []
    with BackgroundWriter(depth=2) as writer:
        for k in range(20):
            writer.submit(lambda k: (time.sleep(0.001 * (k % 3)), seen.append(k)), k)
    assert seen == list(range(20))
    with pytest.raises(RuntimeError, match="disk full"):
        with BackgroundWriter() as writer:
            writer.submit(lambda: (_ for _ in ()).throw(RuntimeError("disk full")))
            writer.wait()
    x = torch.arange(6, dtype=torch.float16).reshape(2, 3)
    assert np.array_equal(HostCopy(x).numpy(), x.numpy())

"""Tiles for an encoder, read and prepared on CPU threads while the device computes.

Reading a window of a memory-mapped slide and resizing it costs more than the
network on a GPU, so it runs on worker threads, a few batches ahead. A batch
is a uint8 (B, H, W, 3) tensor: in pinned memory on CUDA so the copy to the
device is asynchronous, and already channels-last, which is the layout the
networks run in (the permute to NCHW is free).
"""
from typing import Callable, List, Sequence

import numpy as np
import torch

from ..io.prefetch import available_cores, prefetch

MAX_WORKERS = 8  # past this, reads from one disk stop getting faster


def loader_workers(device: torch.device) -> int:
    """One reader keeps a CPU busy; a GPU is fed by several."""
    return min(MAX_WORKERS, available_cores()) if device.type == "cuda" else 1


def batches(read_tile: Callable[[object], np.ndarray], tiles: Sequence, batch: int, device: torch.device,
            workers: int = None, depth: int = 0):
    """Yield (tiles of the batch, uint8 (B, H, W, 3) tensor) in order; tiles are read `depth` ahead on threads.

    workers=0 reads in the caller's thread: the plain loop, which the
    threaded one must match tile for tile.
    """
    workers = loader_workers(device) if workers is None else workers
    pin = device.type == "cuda"

    def read(tile):  # a batch of one (a HIPT region) is pinned here, on the worker, and not copied again
        x = torch.from_numpy(np.ascontiguousarray(read_tile(tile)))
        return x.pin_memory() if pin and batch == 1 else x

    ahead = prefetch(read, tiles, workers, depth or max(2 * batch, workers + 1))
    group: List = []
    stack: List[torch.Tensor] = []
    for tile, x in zip(tiles, ahead):
        group.append(tile)
        stack.append(x)
        if len(group) == batch:
            yield group, _stacked(stack, pin)
            group, stack = [], []
    if group:
        yield group, _stacked(stack, pin)


def _stacked(tensors, pin: bool) -> torch.Tensor:
    if len(tensors) == 1:
        return tensors[0][None]
    out = torch.empty((len(tensors),) + tuple(tensors[0].shape), dtype=tensors[0].dtype, pin_memory=pin)
    return torch.stack(tensors, out=out)


def to_device(x: torch.Tensor, device: torch.device) -> torch.Tensor:
    """uint8 (B, H, W, 3) -> float32 (B, 3, H, W) in channels-last memory on `device` (asynchronous from pinned)."""
    return x.to(device, non_blocking=True).permute(0, 3, 1, 2).float()

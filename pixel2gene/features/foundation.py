"""Pathology foundation models (features/presets.py) as encoders: tokens per 8 µm superpixel, plus context.

Fine pass: the 0.5 µm/px image in tiles of the model's input size (224 px, 448
for CONCH), no overlap; each superpixel gets its area-resampled patch token
(features/token_grid.py) and, by the preset's rule, its tile's class token and
the mean of the tile's patch tokens. Context passes (--context, as for the
effnet encoders): the same network on area-downsampled copies at 4 or 8 µm per
network pixel, tiles overlapping by two tokens, patch tokens interpolated at
the superpixel centres. Tiles are streamed in batches; float32 on the CPU,
bfloat16 autocast on a GPU.

Weights come only from the file the user gives (--weights), or hf-hub:ORG/NAME;
random weights only with --random-init (tests and timing).
"""
from dataclasses import dataclass
from pathlib import Path
from typing import List

import numpy as np
import torch

from ..errors import InputError
from ..image import SUPERPIXEL
from ..io.memmaps import PageReleaser
from .base import (DEFAULT_CONTEXT, Encoder, ExtractContext, context_factors, context_field, random_init_field,
                   read_region, tiles, weights_field)
from .checkpoints import check_fits, read_tensors, to_network
from .efficientnet import _write_tiles, downsample_many
from .loader import batches, loader_workers, to_device
from .nets.token_vit import TokenViT
from .presets import PRESETS, Preset
from .registry import register_encoder
from .token_grid import area_matrix, linear_matrix, resample
from .writer import BackgroundWriter, HostCopy

CONTEXT_MARGIN_TOKENS = 2  # context tiles overlap by this many tokens a side: no superpixel reads a tile's edge
BATCH = {"cpu": 4, "cuda": 64}


@dataclass
class FoundationOptions:
    """What the foundation-model presets take from the command line."""
    weights: List[str] = weights_field()
    random_init: bool = random_init_field()
    context: str = context_field()


@dataclass(frozen=True)
class Pass:
    factor: int       # image pixels per network pixel: 1 (fine), 8 or 16 (context, 4 or 8 µm/px)
    margin: int       # network pixels of overlap each side

    @property
    def fine(self):
        return self.factor == 1


class FoundationEncoder(Encoder):
    def __init__(self, name: str, preset: Preset, weights=(), random_init: bool = False,
                 context: str = DEFAULT_CONTEXT, batch: int = 0):
        self.name, self.preset, self.batch = name, preset, batch
        weights = [str(w) for w in weights]
        if len(weights) > 1:
            raise InputError("--weights", f"the {name} encoder takes one checkpoint, got {len(weights)}",
                             f"give --weights with the one {preset.hub_file} of {preset.hub}")
        if not weights and not random_init:
            raise InputError("--weights", f"the {name} encoder needs its checkpoint (no weights are bundled)",
                             f"request access at huggingface.co/{preset.hub}, then give --weights "
                             f"/path/to/{preset.hub_file} (or --weights hf-hub:{preset.hub})")
        self.context = context
        self.factors = context_factors(context)
        self.net, self.weights = self._build(weights[0] if weights else None)
        self.random_init = not weights

    def _build(self, source):
        if source is None:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(0)  # a random-weight run is still repeatable
                net = TokenViT(self.preset.arch)
                net.random_init()
            return net.eval(), []
        state, path = read_tensors(source, self.preset.hub_file, f"{self.name} ({self.preset.hub})")
        with torch.device("meta"):  # no second copy of a multi-GB network: the checkpoint's tensors are used
            net = TokenViT(self.preset.arch)
        expected = net.state_dict()
        state = to_network(state, self.preset.checkpoint)
        check_fits(expected, state, path, f"{self.name} ({self.preset.hub})")
        net.load_state_dict({k: state[k].float() for k in expected}, strict=True, assign=True)
        where = source if str(source).startswith("hf-hub:") else str(Path(path).resolve())
        return net.eval(), [where]

    @property
    def channels(self):
        d, rule = self.preset.arch.dim, self.preset.tokens
        names = [f"{self.name}_tok{k}" for k in range(d)]
        if "cls" in rule:
            names += [f"{self.name}_cls{k}" for k in range(d)]
        if "mean" in rule:
            names += [f"{self.name}_mean{k}" for k in range(d)]
        for f in self.factors:
            names += [f"{self.name}_ctx{f // 2}um_{k}" for k in range(d)]
        return names

    def describe(self) -> dict:
        p = self.preset
        return {"name": self.name, "weights": self.weights, "random_init": self.random_init,
                "context": self.context, "tokens": p.tokens, "input_size": p.input_size, "patch": p.arch.patch,
                "um_per_px": p.um_per_px}

    def passes(self):
        margin = CONTEXT_MARGIN_TOKENS * self.preset.arch.patch
        return [Pass(1, 0)] + [Pass(f, margin) for f in self.factors]

    def extract(self, ctx: ExtractContext, out: np.ndarray) -> None:
        device = torch.device(ctx.device)
        self.net.to(device)
        plans = [(p, self._tiles(ctx, p)) for p in self.passes()]
        total = sum(len(t) for _, t in plans)
        coarse = downsample_many(ctx.image, sorted(self.factors), workers=loader_workers(device))
        release = PageReleaser(ctx.image, out, every=1)
        done, offset = 0, 0
        with BackgroundWriter() as writer:
            for p, todo in plans:
                width = self._width(p)
                for group, feats in self._run_pass(coarse.get(p.factor, ctx.image), p, todo, device):
                    writer.submit(_write_tiles, out, group, feats, offset, width, release)
                    done += len(group)
                    if ctx.progress:
                        ctx.progress(done, total)
                offset += width

    def _width(self, p: Pass) -> int:
        d = self.preset.arch.dim
        return d * (1 + self.preset.tokens.count("+")) if p.fine else d

    def _core(self, p: Pass) -> int:
        """Superpixels per tile side whose features the tile gives."""
        return (self.preset.input_size - 2 * p.margin) * p.factor // SUPERPIXEL

    def _tiles(self, ctx, p: Pass):
        core = self._core(p)
        return [(i, j) for i, j in tiles(ctx.grid_shape, core) if ctx.mask[i:i + core, j:j + core].any()]

    def _run_pass(self, src, p: Pass, todo, device):
        """(tiles, (B, core, core, width) float16 on their way to the host) per batch."""
        side = self.preset.input_size
        to_cells = self._fine_map() if p.fine else self._context_map(p)

        def load(ij):
            return read_region(src, ij[0] * SUPERPIXEL // p.factor - p.margin,
                               ij[1] * SUPERPIXEL // p.factor - p.margin, side, side)

        mean, std = (torch.tensor(v, device=device).view(1, 3, 1, 1) * 255 for v in self.preset.norm)
        amp = device.type == "cuda"
        for group, x in batches(load, todo, self.batch or BATCH.get(device.type, 4), device):
            x = (to_device(x, device) - mean) / std
            with torch.inference_mode(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
                cls, tokens = self.net(x)
            feats = to_cells(cls, tokens.float())
            yield group, HostCopy(feats.to(torch.float16).contiguous())

    def _fine_map(self):
        n_tok = self.preset.input_size // self.preset.arch.patch
        n_sp = self.preset.input_size // SUPERPIXEL
        weights = area_matrix(n_sp, SUPERPIXEL, n_tok, self.preset.arch.patch)
        rule = self.preset.tokens

        def to_cells(cls, tokens):
            cells = [resample(tokens, weights, weights)]
            shape = cells[0].shape[:3] + (-1,)
            if "cls" in rule:
                cells.append(cls.float()[:, None, None].expand(shape))
            if "mean" in rule:
                cells.append(tokens.mean((1, 2))[:, None, None].expand(shape))
            return torch.cat(cells, -1)
        return to_cells

    def _context_map(self, p: Pass):
        patch, n_tok = self.preset.arch.patch, self.preset.input_size // self.preset.arch.patch
        core = self._core(p)
        centres = (torch.arange(core, dtype=torch.float64) * SUPERPIXEL + SUPERPIXEL / 2) / p.factor - 0.5 + p.margin
        weights = linear_matrix((centres - (patch - 1) / 2) / patch, n_tok)
        return lambda cls, tokens: resample(tokens, weights, weights)


def check_weights(name: str, preset: Preset, weights=()) -> None:
    """The checkpoint fits the preset (read mapped, nothing built): for p2g-run to stop before any step."""
    if len(weights) == 1:
        state, path = read_tensors(str(weights[0]), preset.hub_file, f"{name} ({preset.hub})")
        with torch.device("meta"):
            expected = TokenViT(preset.arch).state_dict()
        check_fits(expected, to_network(state, preset.checkpoint), path, f"{name} ({preset.hub})")


def _factory(name: str, preset: Preset):
    def make(**kw):
        return FoundationEncoder(name, preset, **kw)
    make.preflight = lambda weights=(), **_: check_weights(name, preset, weights)
    return make


for _name, _preset in PRESETS.items():
    register_encoder(_name, FoundationOptions)(_factory(_name, _preset))

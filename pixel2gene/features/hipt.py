"""HIPT as Pixel2Gene uses it: ViT-S/16 tokens per 16-px superpixel, ViT-XS tokens per 256-px patch.

Each 4096-px region is cut into 16 x 16 patches of 256 px; the ViT-256 gives
every patch 16 x 16 "sub" tokens (384-d, one per superpixel) and a class
token; the ViT-4K turns the region's 16 x 16 class tokens into one 192-d
token per patch, repeated over its superpixels. The official DINO teacher
checkpoints load from paths the user gives; random weights only on request.
Shift averaging (16 runs offset by 0/64/128/192 px) is an option.
"""
import argparse
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import List

import numpy as np
import torch

from ..errors import InputError
from ..image import SUPERPIXEL
from ..io.memmaps import PageReleaser, reserve
from .base import Encoder, ExtractContext, random_init_field, read_region, weights_field
from .loader import batches
from .nets.vit import ViT4K, ViT256
from .writer import BackgroundWriter, HostCopy
from .registry import register_encoder

REGION, PATCH = 4096, 256
PER_REGION = REGION // PATCH           # patches per region side
SP_PER_PATCH = PATCH // SUPERPIXEL     # superpixels per patch side
SHIFTS = (0, 64, 128, 192)
CHECKPOINTS = {"vit256": "vit256_small_dino.pth (ViT-S/16)", "vit4k": "vit4k_xs_dino.pth (ViT-XS 4K)"}


@dataclass
class HIPTOptions:
    """What the hipt encoder takes from the command line."""
    weights: List[str] = weights_field()
    shift_average: bool = field(default=False, metadata=dict(
        help="hipt: average 16 runs shifted by 0/64/128/192 px, as the reference does (16x slower)"))
    random_init: bool = random_init_field()


def _strip(key: str) -> str:
    for prefix in ("module.", "backbone."):
        while key.startswith(prefix):
            key = key[len(prefix):]
    return key


def read_checkpoint(path) -> dict:
    """The tensors of a DINO checkpoint (its teacher when it holds one), with standard ViT names."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "checkpoint file is missing", f"give the paths of {' and '.join(CHECKPOINTS.values())}")
    try:  # DINO checkpoints carry their argparse Namespace; allow that one plain type, nothing executable
        with torch.serialization.safe_globals([argparse.Namespace]):
            ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise InputError(path, f"checkpoint does not load as plain tensors ({type(exc).__name__})",
                         "give the official DINO .pth file or a state dict saved with torch.save") from None
    state = ckpt
    for key in ("teacher", "state_dict", "model"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
            break
    if not isinstance(state, dict):
        raise InputError(path, "checkpoint holds no state dict", "give a HIPT DINO checkpoint")
    return {_strip(k): v for k, v in state.items()
            if isinstance(v, torch.Tensor) and not _strip(k).startswith("head.")}


def checkpoint_kind(state: dict):
    if "phi.0.weight" in state:
        return "vit4k"
    if "patch_embed.proj.weight" in state:
        return "vit256"
    return None


def load_vit(net, state: dict, path) -> None:
    """Load every tensor of `net` from `state`; any gap or misfit is an error, never a silent default."""
    expected = net.state_dict()
    missing = [k for k in expected if k not in state]
    if missing:
        raise InputError(path, f"checkpoint lacks '{missing[0]}' ({len(missing)} tensors missing)",
                         f"give the DINO teacher checkpoints {' and '.join(CHECKPOINTS.values())}")
    for k, v in expected.items():
        if k != "pos_embed" and state[k].shape != v.shape:
            raise InputError(path, f"'{k}' has shape {tuple(state[k].shape)}, the network needs {tuple(v.shape)}",
                             f"give the DINO teacher checkpoints {' and '.join(CHECKPOINTS.values())}")
    pos = state["pos_embed"]
    side = int(round((pos.shape[1] - 1) ** 0.5))
    if pos.ndim != 3 or pos.shape[2] != net.dim or side * side != pos.shape[1] - 1:
        raise InputError(path, f"'pos_embed' has shape {tuple(pos.shape)}", "give an unmodified HIPT checkpoint")
    net.pos_embed = torch.nn.Parameter(pos.clone().float())
    net.load_state_dict({k: state[k].float() for k in expected}, strict=True)


class HIPTEncoder(Encoder):
    name = "hipt"

    def __init__(self, weights=(), random_init: bool = False, shift_average: bool = False, batch: int = 0):
        if not weights and not random_init:
            raise InputError("--weights", "the hipt encoder needs its two DINO checkpoints",
                             f"give --weights {' '.join(c.split()[0] for c in CHECKPOINTS.values())}")
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)  # a random-weight run is still repeatable
            self.vit256, self.vit4k = ViT256().eval(), ViT4K().eval()
        self.weights = [str(Path(w).resolve()) for w in weights]
        if weights:
            self._load(weights)
        self.shift_average, self.batch, self.random_init = shift_average, batch, bool(random_init and not weights)

    def _load(self, paths):
        found = {}
        for p in paths:
            state = read_checkpoint(p)
            kind = checkpoint_kind(state)
            if kind is None:
                raise InputError(p, "not a HIPT ViT checkpoint (no patch_embed or phi tensors)",
                                 f"give {' and '.join(CHECKPOINTS.values())}")
            found[kind] = (p, state)
        for kind, label in CHECKPOINTS.items():
            if kind not in found:
                raise InputError("--weights", f"no {label} checkpoint among {', '.join(map(str, paths))}",
                                 "give both HIPT checkpoints")
        load_vit(self.vit256, found["vit256"][1], found["vit256"][0])
        load_vit(self.vit4k, found["vit4k"][1], found["vit4k"][0])

    @property
    def channels(self):
        return [f"hipt256_{k}" for k in range(384)] + [f"hipt4k_{k}" for k in range(192)]

    def describe(self) -> dict:
        return {"name": self.name, "weights": self.weights, "random_init": self.random_init,
                "shift_average": self.shift_average}

    def extract(self, ctx: ExtractContext, out: np.ndarray) -> None:
        device = torch.device(ctx.device)
        self.vit256.to(device)
        self.vit4k.to(device)
        shifts = [(a, b) for a in SHIFTS for b in SHIFTS] if self.shift_average else [(0, 0)]
        if len(shifts) == 1:
            self._run(ctx, out, 0, 0, device, 0, 1, add=False)
            return
        with tempfile.TemporaryFile() as f:  # float32 running sum on disk: a slide's worth never in RAM
            acc = np.memmap(f, dtype=np.float32, mode="w+", shape=out.shape)
            reserve(f)
            for n, (dy, dx) in enumerate(shifts):
                self._run(ctx, acc, dy, dx, device, n, len(shifts), add=True)
            for i in range(0, out.shape[0], 64):
                out[i:i + 64] = acc[i:i + 64] / len(shifts)

    def _regions(self, ctx, dy, dx):
        sy, sx = dy // SUPERPIXEL, dx // SUPERPIXEL
        side = REGION // SUPERPIXEL
        gh, gw = ctx.grid_shape
        todo = []
        for i0 in range(-sy, gh, side):
            for j0 in range(-sx, gw, side):
                if ctx.mask[max(0, i0):i0 + side, max(0, j0):j0 + side].any():
                    todo.append((i0, j0))
        return todo

    @torch.no_grad()
    def _run(self, ctx, out, dy, dx, device, n_run, n_runs, add):
        todo = self._regions(ctx, dy, dx)
        batch = self.batch or (PER_REGION * PER_REGION if device.type == "cuda" else 16)
        white = None
        release = PageReleaser(ctx.image, out, every=1)
        load = lambda ij: read_region(ctx.image, ij[0] * SUPERPIXEL, ij[1] * SUPERPIXEL, REGION, REGION)
        with BackgroundWriter() as writer:  # regions read ahead on threads, written behind the device
            for k, ([(i0, j0)], region) in enumerate(batches(load, todo, 1, device)):
                block, white = self._region(ctx, region[0], i0, j0, device, batch, white)
                writer.submit(_write_block, out, i0, j0, HostCopy(block), add, release)
                if ctx.progress:
                    ctx.progress(n_run * len(todo) + k + 1, n_runs * len(todo))

    def _region(self, ctx, region, i0, j0, device, batch, white):
        """(256, 256, 576) float32 features of one 4096-px region (uint8 (4096, 4096, 3)) at grid (i0, j0)."""
        h_img, w_img = ctx.image.shape[:2]
        patches = region.to(device, non_blocking=True).view(PER_REGION, PATCH, PER_REGION, PATCH, 3).transpose(1, 2)
        cls = torch.empty(PER_REGION, PER_REGION, 384, device=device)
        sub = torch.zeros(PER_REGION, PER_REGION, SP_PER_PATCH, SP_PER_PATCH, 384, device=device)
        tiles = [(a, b) for a in range(PER_REGION) for b in range(PER_REGION)]
        # patches wholly outside the image are identical white squares: compute that patch once
        outside = lambda a, b: ((i0 * SUPERPIXEL + a * PATCH >= h_img) or (j0 * SUPERPIXEL + b * PATCH >= w_img)
                                or (i0 * SUPERPIXEL + (a + 1) * PATCH <= 0) or (j0 * SUPERPIXEL + (b + 1) * PATCH <= 0))
        inside = [t for t in tiles if not outside(*t)]
        if len(inside) < len(tiles):
            if white is None:
                white = self._vit256(torch.full((1, PATCH, PATCH, 3), 255, dtype=torch.uint8, device=device))
            out_a, out_b = torch.tensor([t for t in tiles if outside(*t)], device=device).T
            cls[out_a, out_b] = white[0][0]
        for s in range(0, len(inside), batch):
            ia, ib = torch.tensor(inside[s:s + batch], device=device).T
            cls[ia, ib], sub[ia, ib] = self._vit256(patches[ia, ib])
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
            _, tok4k = self.vit4k(cls[None])
        side = PER_REGION * SP_PER_PATCH
        sub = sub.transpose(1, 2).reshape(side, side, 384)
        tok4k = tok4k[0].float().repeat_interleave(SP_PER_PATCH, 0).repeat_interleave(SP_PER_PATCH, 1)
        return torch.cat([sub, tok4k], -1), white

    def _vit256(self, x_uint8):
        """uint8 (B, 256, 256, 3) on the device -> class tokens (B, 384), tokens (B, 16, 16, 384), float32."""
        x = x_uint8.permute(0, 3, 1, 2).float().div_(127.5).sub_(1.0)  # HIPT: mean=std=0.5
        with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=x.device.type == "cuda"):
            cls, tokens = self.vit256(x)
        return cls.float(), tokens.float()


def _write_block(out, i, j, block: HostCopy, add: bool, release):
    """One write (or add) of a region's (H, W, C) features at grid (i, j), clipped to the grid."""
    block = block.numpy()
    a0, b0 = max(0, -i), max(0, -j)
    a1, b1 = min(block.shape[0], out.shape[0] - i), min(block.shape[1], out.shape[1] - j)
    if a1 > a0 and b1 > b0:
        target = (slice(i + a0, i + a1), slice(j + b0, j + b1))
        if add:
            out[target] += block[a0:a1, b0:b1]
        else:
            out[target] = block[a0:a1, b0:b1]
    release()


@register_encoder("hipt", HIPTOptions)
def _hipt(**kw):
    return HIPTEncoder(**kw)

"""One plain-torch ViT for the pathology foundation models, with timm's parameter names.

A spec says what differs between the models: width, depth, heads, patch size,
GELU or SwiGLU MLP, LayerScale, register tokens, an optional class token,
and whether the learned position table also covers the class and register
tokens (timm's no_embed_class=False) or the patch tokens only (True). The
parameter names are timm's VisionTransformer's (cls_token, reg_token,
pos_embed, patch_embed.proj, blocks.N.{norm1,attn.qkv,attn.proj,ls1.gamma,
norm2,mlp.fc1,mlp.fc2,ls2.gamma}, norm), so a timm checkpoint loads as it is
and other layouts are renamed onto it (features/checkpoints.py).

The position table is trained on one grid; other grids get it resampled
bicubically, DINOv2-style (the class/register entries are kept as they are).
"""
import math
from dataclasses import dataclass
from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

from .vit import Block


@dataclass(frozen=True)
class ViTSpec:
    dim: int
    depth: int
    heads: int
    patch: int
    mlp_ratio: float                 # fc1 width / dim, as timm counts it (packed width for SwiGLU)
    mlp: str = "gelu"                # or "swiglu"
    registers: int = 0
    class_token: bool = True
    pos_prefix: bool = True          # the position table has entries for the class/register tokens
    layerscale: Optional[float] = None
    eps: float = 1e-6
    grid: int = 14                   # side of the trained position table, in tokens
    pos_antialias: bool = True       # timm resamples with antialiasing; DINOv2/HF without

    @property
    def mlp_hidden(self) -> int:
        return int(self.dim * self.mlp_ratio)  # timm's rounding: the checkpoints' fc1 width

    @property
    def prefix(self) -> int:
        return int(self.class_token) + self.registers


class PatchEmbed(nn.Module):
    def __init__(self, patch: int, dim: int):
        super().__init__()
        self.proj = nn.Conv2d(3, dim, patch, stride=patch)


class TokenViT(nn.Module):
    """Normalised images (B, 3, H, W) -> (class token (B, dim) or None, patch tokens (B, H/p, W/p, dim))."""

    def __init__(self, spec: ViTSpec):
        super().__init__()
        self.spec = spec
        d = spec.dim
        self.patch_embed = PatchEmbed(spec.patch, d)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, d)) if spec.class_token else None
        self.reg_token = nn.Parameter(torch.zeros(1, spec.registers, d)) if spec.registers else None
        table = spec.grid * spec.grid + (spec.prefix if spec.pos_prefix else 0)
        self.pos_embed = nn.Parameter(torch.zeros(1, table, d))
        self.blocks = nn.ModuleList(Block(d, spec.heads, spec.mlp_hidden, spec.mlp, spec.layerscale, spec.eps)
                                    for _ in range(spec.depth))
        self.norm = nn.LayerNorm(d, eps=spec.eps)

    def random_init(self):
        """Untrained values that still give varied tokens (tests and timing only)."""
        for p in (self.pos_embed, self.cls_token, self.reg_token):
            if p is not None:
                nn.init.trunc_normal_(p, std=0.02)

    def patch_positions(self, gh: int, gw: int):
        """The patch tokens' position table for a gh x gw grid, (1, gh*gw, dim)."""
        table = self.pos_embed[:, self.spec.prefix:] if self.spec.pos_prefix else self.pos_embed
        side = self.spec.grid
        if (gh, gw) == (side, side):
            return table
        grid = table.reshape(1, side, side, -1).permute(0, 3, 1, 2).float()
        grid = F.interpolate(grid, size=(gh, gw), mode="bicubic", align_corners=False,
                             antialias=self.spec.pos_antialias)
        return grid.to(table.dtype).flatten(2).transpose(1, 2)

    def embed(self, x):
        """(B, 3, H, W) -> all tokens (B, prefix + gh*gw, dim) with positions added, and the grid shape."""
        x = self.patch_embed.proj(x)
        gh, gw = x.shape[-2:]
        x = x.flatten(2).transpose(1, 2) + self.patch_positions(gh, gw).to(x.dtype)
        prefix = [t.expand(len(x), -1, -1).to(x.dtype) for t in (self.cls_token, self.reg_token) if t is not None]
        if self.spec.pos_prefix and prefix:
            pos = self.pos_embed[:, :self.spec.prefix].to(x.dtype)
            prefix = [torch.cat(prefix, 1) + pos]
        return torch.cat(prefix + [x], 1), (gh, gw)

    def forward(self, x):
        x, (gh, gw) = self.embed(x)
        for block in self.blocks:
            x = block(x)
        x = self.norm(x)
        cls = x[:, 0] if self.spec.class_token else None
        return cls, x[:, self.spec.prefix:].reshape(len(x), gh, gw, self.spec.dim)


def parameter_count(spec: ViTSpec) -> int:
    """Parameters of the network, counted on the meta device (no memory)."""
    with torch.device("meta"):
        net = TokenViT(spec)
    return sum(math.prod(p.shape) for p in net.parameters())

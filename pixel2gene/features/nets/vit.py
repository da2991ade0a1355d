"""The Vision Transformer of DINO/HIPT, with the parameter names of their checkpoints.

Pre-norm blocks (LayerNorm eps 1e-6), fused qkv with bias, GELU MLP of 4x
width; a class token and learned position embeddings that are resized to the
input's token grid, so a 224-px-trained table serves 256-px patches.

The blocks also take what the pathology foundation models add (nets/token_vit.py):
LayerScale and a SwiGLU MLP, under timm's parameter names (ls1.gamma, mlp.fc1 packed).
HIPT's blocks have neither: their parameters and outputs are unchanged.
"""
import math

import torch
import torch.nn.functional as F
from torch import nn


class Attention(nn.Module):
    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, dim * 3, bias=True)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        b, n, c = x.shape
        q, k, v = self.qkv(x).view(b, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        x = F.scaled_dot_product_attention(q, k, v)  # fused kernels on GPU, same maths as softmax(qk^T/sqrt(d))v
        return self.proj(x.transpose(1, 2).reshape(b, n, c))


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x)))


class SwiGLU(nn.Module):
    """fc1 packs the gate (first half, through SiLU) and the value (second half), as timm's SwiGLUPacked
    and DINOv2 store them; fc2 reads the gated half-width."""

    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden // 2, dim)

    def forward(self, x):
        gate, value = self.fc1(x).chunk(2, dim=-1)
        return self.fc2(F.silu(gate) * value)


class LayerScale(nn.Module):
    def __init__(self, dim: int, init: float):
        super().__init__()
        self.gamma = nn.Parameter(torch.full((dim,), float(init)))

    def forward(self, x):
        return x * self.gamma


MLPS = {"gelu": Mlp, "swiglu": SwiGLU}


class Block(nn.Module):
    """mlp_hidden: width of fc1's output (packed for SwiGLU); layerscale: its initial value, None for none."""

    def __init__(self, dim: int, heads: int, mlp_hidden: int = 0, mlp: str = "gelu", layerscale=None,
                 eps: float = 1e-6):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=eps)
        self.attn = Attention(dim, heads)
        self.ls1 = LayerScale(dim, layerscale) if layerscale is not None else nn.Identity()
        self.norm2 = nn.LayerNorm(dim, eps=eps)
        self.mlp = MLPS[mlp](dim, mlp_hidden or dim * 4)
        self.ls2 = LayerScale(dim, layerscale) if layerscale is not None else nn.Identity()

    def forward(self, x):
        x = x + self.ls1(self.attn(self.norm1(x)))
        return x + self.ls2(self.mlp(self.norm2(x)))


class ViT(nn.Module):
    """Tokens in, tokens out: subclasses embed their input into (B, N, dim) tokens on a square grid."""

    def __init__(self, dim: int, depth: int, heads: int, table_grid: int = 14):
        super().__init__()
        self.dim = dim
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, 1 + table_grid * table_grid, dim))
        self.blocks = nn.ModuleList(Block(dim, heads) for _ in range(depth))
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        nn.init.trunc_normal_(self.cls_token, std=0.02)

    def position_table(self, grid: int):
        table = self.pos_embed[:, 1:]
        side = int(math.isqrt(table.shape[1]))
        if side == grid:
            return self.pos_embed
        table = table.reshape(1, side, side, self.dim).permute(0, 3, 1, 2)
        table = F.interpolate(table.float(), size=(grid, grid), mode="bicubic", align_corners=False)
        return torch.cat([self.pos_embed[:, :1], table.to(self.pos_embed.dtype).flatten(2).transpose(1, 2)], 1)

    def run_tokens(self, tokens, grid: int):
        """(B, grid*grid, dim) patch tokens -> (class token (B, dim), patch tokens (B, grid, grid, dim))."""
        x = torch.cat([self.cls_token.expand(len(tokens), -1, -1), tokens], 1)
        x = x + self.position_table(grid).to(x.dtype)
        for block in self.blocks:
            x = block(x)
        x = self.norm(x)
        return x[:, 0], x[:, 1:].reshape(len(x), grid, grid, self.dim)


class PatchEmbed(nn.Module):
    def __init__(self, patch: int, dim: int):
        super().__init__()
        self.proj = nn.Conv2d(3, dim, patch, stride=patch)


class ViT256(ViT):
    """ViT-S/16 over 256-px RGB patches: one 384-d token per 16-px superpixel."""

    def __init__(self):
        super().__init__(dim=384, depth=12, heads=6)
        self.patch_embed = PatchEmbed(16, 384)

    def forward(self, x):
        x = self.patch_embed.proj(x)  # (B, 384, 16, 16)
        return self.run_tokens(x.flatten(2).transpose(1, 2), x.shape[-1])


class ViT4K(ViT):
    """ViT-XS over the 16 x 16 class tokens of a 4096-px region's 256-px patches: 192-d per patch."""

    def __init__(self):
        super().__init__(dim=192, depth=6, heads=6)
        self.phi = nn.Sequential(nn.Linear(384, 192), nn.GELU(), nn.Dropout(0.25))

    def forward(self, cls_grid):
        """cls_grid (B, 16, 16, 384)."""
        grid = cls_grid.shape[1]
        return self.run_tokens(self.phi(cls_grid.flatten(1, 2)), grid)

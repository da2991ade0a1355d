"""Token grids onto the superpixel grid, as separable linear maps (rows x tokens x columns).

Fine pass: a token covers `token` image pixels and a superpixel 16; each
superpixel gets the area-weighted mean of the tokens it overlaps. For a /16
model at 0.5 µm/px that is the identity (one token per superpixel); for a /14
model a 224-px tile holds 16 tokens of 7 µm and 14 superpixels of 8 µm, and
superpixel 0 is 14/16 of token 0 plus 2/16 of token 1. Keeping the trained
magnification (rather than resizing 16 px onto 14) is the choice made here.

Context pass: tokens of 56-128 µm, linearly interpolated at the superpixel
centres (their positions in token units), clamped at the tile's edge.
"""
import torch


def area_matrix(n_cells: int, cell: float, n_tokens: int, token: float) -> torch.Tensor:
    """(n_cells, n_tokens): the share of cell c covered by token t, for cells and tokens laid end to end."""
    c0 = torch.arange(n_cells, dtype=torch.float64)[:, None] * cell
    t0 = torch.arange(n_tokens, dtype=torch.float64)[None, :] * token
    overlap = (torch.minimum(c0 + cell, t0 + token) - torch.maximum(c0, t0)).clamp(min=0)
    return (overlap / cell).float()


def linear_matrix(positions: torch.Tensor, n_tokens: int) -> torch.Tensor:
    """(len(positions), n_tokens): linear interpolation at fractional token coordinates (token t's centre is t)."""
    u = positions.double().clamp(0, n_tokens - 1)
    lo = u.floor().long().clamp(max=n_tokens - 2) if n_tokens > 1 else u.long()
    frac = u - lo
    out = torch.zeros(len(u), n_tokens, dtype=torch.float64)
    rows = torch.arange(len(u))
    out[rows, lo] = 1 - frac
    if n_tokens > 1:
        out[rows, lo + 1] += frac
    return out.float()


def resample(tokens: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
    """(B, gh, gw, C) tokens -> (B, len(rows), len(cols), C) cells, each a weighted sum of tokens."""
    return torch.einsum("si,bijc,tj->bstc", rows.to(tokens), tokens, cols.to(tokens))

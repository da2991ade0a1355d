"""Stacked fold MLPs: M independent networks evaluated with batched matmuls.

Each fold's network is the method's MLP (4 x 256 LeakyReLU(0.1), linear
output, ELU(alpha=0.01) + 0.01 so outputs stay positive). Stacking them
lets one device train all folds at once: independent parameters, independent
Adam moments, one kernel launch per layer instead of M.
"""
import math
from typing import Optional, Sequence

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F

HIDDEN = 256
DEPTH = 4


class StackedMLP(nn.Module):
    def __init__(self, n_models: int, n_in: int, n_out: int, hidden: int = HIDDEN, depth: int = DEPTH,
                 generators: Optional[Sequence[torch.Generator]] = None):
        """`generators`: one CPU generator per model, so each model's initial weights are its own
        (the same whichever other models share the stack); without them the global stream is used."""
        super().__init__()
        sizes = [n_in] + [hidden] * depth + [n_out]
        gens = list(generators) if generators is not None else [None] * n_models
        if len(gens) != n_models:
            raise ValueError("one generator per model")
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        for a, b in zip(sizes[:-1], sizes[1:]):
            self.weights.append(nn.Parameter(torch.empty(n_models, a, b)))
            self.biases.append(nn.Parameter(torch.empty(n_models, 1, b)))
        with torch.no_grad():
            for m, g in enumerate(gens):  # model by model: its draws do not depend on its neighbours
                for a, w, bias in zip(sizes[:-1], self.weights, self.biases):
                    bound = 1 / math.sqrt(a)  # nn.Linear's default initialisation
                    w[m].uniform_(-bound, bound, generator=g)
                    bias[m].uniform_(-bound, bound, generator=g)
        self.n_models, self.n_in, self.n_out, self.hidden, self.depth = n_models, n_in, n_out, hidden, depth

    def forward(self, x: torch.Tensor, model: Optional[int] = None) -> torch.Tensor:
        """x: (M, N, n_in) -> (M, N, n_out) positive outputs; or (1, N, n_in) for one `model`."""
        last = len(self.weights) - 1
        pick = slice(None) if model is None else slice(model, model + 1)
        inplace = not torch.is_grad_enabled()  # prediction: no second (models, n, genes) array per activation
        for k, (w, b) in enumerate(zip(self.weights, self.biases)):
            x = torch.baddbmm(b[pick], x, w[pick])
            if k < last:
                x = F.leaky_relu(x, 0.1, inplace=inplace)
            else:
                x = F.elu_(x, alpha=0.01).add_(0.01) if inplace else F.elu(x, alpha=0.01) + 0.01
        return x

    def model_state(self, m: int) -> dict:
        """One fold's parameters as a plain tensor dict (safe to save and load)."""
        state = {}
        for k, (w, b) in enumerate(zip(self.weights, self.biases)):
            state[f"layer{k}.weight"] = w[m].detach().cpu().clone()
            state[f"layer{k}.bias"] = b[m, 0].detach().cpu().clone()
        return state

    @classmethod
    def from_states(cls, states, hidden=HIDDEN, depth=DEPTH):
        first = states[0]
        net = cls(len(states), first["layer0.weight"].shape[0], first[f"layer{depth}.weight"].shape[1],
                  hidden, depth)
        with torch.no_grad():
            for k in range(depth + 1):
                net.weights[k].copy_(torch.stack([s[f"layer{k}.weight"] for s in states]))
                net.biases[k].copy_(torch.stack([s[f"layer{k}.bias"] for s in states])[:, None])
        return net


def gene_span(gene_min: np.ndarray, gene_max: np.ndarray) -> np.ndarray:
    """Per-gene scale of the min-max targets the MLP learns (1 for genes that never vary): what its outputs are
    multiplied by, after which gene_min is added back."""
    return np.where(gene_max > gene_min, gene_max - gene_min, 1.0).astype(np.float32)

"""Adam for stacked fold parameters: a learning rate per fold, and folds that can stop.

Every parameter's first dimension is the fold. `step(active, t)` updates only
the active folds; a finished fold's weights and moments stay exactly as they
were, so it ends as if it had been trained alone for its own number of steps.
Active folds have all taken `t` steps, so bias correction is one scalar.
Weight decay is decoupled (AdamW: the weights shrink by lr x decay each step, outside the adaptive
scaling), so a decay means the same shrinkage whatever the gradients' scale.
"""
import math
from typing import List, Sequence

import torch


class StackedAdam:
    def __init__(self, params: List[torch.Tensor], lr: Sequence[float], betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0):
        self.params = list(params)
        self.lr = torch.tensor(list(lr), dtype=torch.float32, device=self.params[0].device)
        self.b1, self.b2 = betas
        self.eps, self.weight_decay = eps, weight_decay
        self.m = [torch.zeros_like(p) for p in self.params]
        self.v = [torch.zeros_like(p) for p in self.params]

    def zero_grad(self):
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self, active: torch.Tensor, t: int, all_active: bool = False):
        """active: (folds,) bool on the parameters' device; t: the step number of the active folds (from 1).

        `all_active` (known to the caller without asking the device) takes the in-place path; both paths
        apply the same elementwise operations in the same order, so a fold's numbers do not depend on it.
        """
        c1 = 1 - self.b1 ** t
        root_c2 = math.sqrt(1 - self.b2 ** t)
        for p, m, v in zip(self.params, self.m, self.v):
            if p.grad is None:
                continue
            shape = (-1,) + (1,) * (p.dim() - 1)
            step_size = (self.lr / c1).view(shape)
            g = p.grad
            keep = (1 - self.lr * self.weight_decay).view(shape) if self.weight_decay else None
            if all_active:
                if keep is not None:
                    p.mul_(keep)
                m.mul_(self.b1).add_(g * (1 - self.b1))
                v.mul_(self.b2).add_(g * g * (1 - self.b2))
                p.sub_(step_size * m / (v.sqrt() / root_c2 + self.eps))
                continue
            on = active.view(shape)
            m.copy_(torch.where(on, m * self.b1 + g * (1 - self.b1), m))
            v.copy_(torch.where(on, v * self.b2 + g * g * (1 - self.b2), v))
            decayed = p * keep if keep is not None else p
            p.copy_(torch.where(on, decayed - step_size * m / (v.sqrt() / root_c2 + self.eps), p))

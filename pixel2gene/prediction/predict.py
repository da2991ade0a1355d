"""All folds over all tissue superpixels, in chunks, summed into a gene-major memmap."""
import numpy as np
import torch

from ..features.store import standardise
from ..io.memmaps import PageReleaser
from ..model.checkpoint import ModelSet
from ..model.mlp import StackedMLP
from ..training.trainer import gene_span

CHUNK = 8192


class Ensemble:
    """All fold models at once: standardised features (n, C) -> counts per superpixel (models, n, G)."""

    def __init__(self, models: ModelSet, device="cpu"):
        self.device = torch.device(device)
        self.net = StackedMLP.from_states(models.states).to(self.device).eval()
        self.span = torch.from_numpy(gene_span(models.gene_min, models.gene_max)).to(self.device)
        self.low = torch.from_numpy(models.gene_min.astype(np.float32)).to(self.device)

    @property
    def n_models(self):
        return self.net.n_models

    @torch.no_grad()
    def __call__(self, x: np.ndarray) -> torch.Tensor:
        x = torch.from_numpy(x).to(self.device)
        y = self.net(x.expand(self.net.n_models, -1, -1)) * self.span + self.low
        return torch.clamp(y, min=0)  # counts cannot be negative after unscaling


def predict_sum(features, mask, mean, std, models: ModelSet, out: np.ndarray, device="cpu", progress=None):
    """out (G, n_tissue) receives the sum over folds of counts per superpixel."""
    ensemble = Ensemble(models, device)
    rows = np.flatnonzero(mask.any(1))
    done, total = 0, int(mask.sum())
    buf, buffered = [], 0
    release = PageReleaser(features)
    for i in rows:  # row by row keeps memory flat on whole slides
        buf.append(np.asarray(features[i][mask[i]]))
        buffered += len(buf[-1])
        if buffered >= CHUNK or i == rows[-1]:
            y = ensemble(standardise(np.concatenate(buf), mean, std)).sum(0)
            out[:, done:done + buffered] = y.T.cpu().numpy()
            done += buffered
            buf, buffered = [], 0
            release()
            if progress:
                progress(done, total)
    return ensemble.n_models

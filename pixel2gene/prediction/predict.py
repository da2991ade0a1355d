"""All folds over all tissue superpixels, in chunks, summed into a gene-major memmap."""
import numpy as np
import torch

from ..features.store import standardise
from ..io.memmaps import PageReleaser
from ..model.checkpoint import ModelSet
from ..model.mlp import StackedMLP
from ..training.trainer import gene_span

CHUNK = 8192


@torch.no_grad()
def predict_sum(features, mask, mean, std, models: ModelSet, out: np.ndarray, device="cpu", progress=None):
    """out (G, n_tissue) receives the sum over folds of counts per superpixel."""
    dev = torch.device(device)
    net = StackedMLP.from_states(models.states).to(dev).eval()
    rows = np.flatnonzero(mask.any(1))
    done, total = 0, int(mask.sum())
    span = torch.from_numpy(gene_span(models.gene_min, models.gene_max)).to(dev)
    low = torch.from_numpy(models.gene_min.astype(np.float32)).to(dev)
    buf, buffered = [], 0
    release = PageReleaser(features)
    for i in rows:  # row by row keeps memory flat on whole slides
        buf.append(np.asarray(features[i][mask[i]]))
        buffered += len(buf[-1])
        if buffered >= CHUNK or i == rows[-1]:
            x = torch.from_numpy(standardise(np.concatenate(buf), mean, std)).to(dev)
            y = net(x.expand(net.n_models, -1, -1)) * span + low
            y = torch.clamp(y, min=0).sum(0)  # counts cannot be negative after unscaling
            out[:, done:done + len(x)] = y.T.cpu().numpy()
            done += len(x)
            buf, buffered = [], 0
            release()
            if progress:
                progress(done, total)
    return net.n_models

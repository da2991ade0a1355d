"""Predictions as an AnnData .h5ad: tissue superpixels x genes, placed on the user's he-raw image.

X is streamed into the file a block of genes at a time, so a whole slide's
predictions never sit in memory at once; obs, var, obsm, layers and uns go
through anndata's own writer, so the file follows its on-disk format.
"""
from pathlib import Path

import anndata as ad
import h5py
import numpy as np
import pandas as pd
import scipy.sparse as sp

from ..image import SUPERPIXEL
from ..io.outputs import load_npy
from ..prediction.maps import gene_filename
from ..training.disks import gather_disks

GENE_BLOCK = 64


def superpixel_table(mask: np.ndarray, scale: float):
    """obs of the tissue superpixels (row-major, the order of every prediction) and their he-raw centres."""
    rows, cols = np.nonzero(mask)
    obs = pd.DataFrame({"array_row": rows.astype(np.int32), "array_col": cols.astype(np.int32)},
                       index=pd.Index([f"r{r}_c{c}" for r, c in zip(rows, cols)], name="superpixel"))
    xy = np.stack([(cols + 0.5) * SUPERPIXEL / scale, (rows + 0.5) * SUPERPIXEL / scale], 1)
    return obs, xy  # (x, y) = (column, row), as scanpy and squidpy expect


def measured_layer(mask, counts: pd.DataFrame, xy_rescaled: np.ndarray, diameter_px: float, genes):
    """Each measured bin's counts shared evenly over its tissue superpixels (a sparse superpixels x genes
    matrix whose sums over a bin give back its counts), plus each superpixel's bin id."""
    index, n_tissue, _ = gather_disks(xy_rescaled, diameter_px, mask)
    order = np.full(mask.size, -1, np.int64)
    order[np.flatnonzero(mask.ravel())] = np.arange(int(mask.sum()))
    have = [g for g in genes if g in counts.columns]
    gene_pos = pd.Index(genes).get_indexer(have)
    values = counts[have].to_numpy(np.float32)
    valid = index >= 0
    b, k = np.nonzero(valid)
    obs_rows = order[index[b, k]]
    share = values[b] / n_tissue[b, None]
    layer = sp.coo_matrix((share.ravel(), (np.repeat(obs_rows, len(have)), np.tile(gene_pos, len(b)))),
                          shape=(int(mask.sum()), len(genes)), dtype=np.float32).tocsr()
    bin_id = np.full(int(mask.sum()), "", object)
    bin_id[obs_rows] = np.asarray(counts.index)[b]
    return layer, bin_id, np.isin(genes, have)


def write_h5ad(path: Path, result_dir: Path, genes, mask, scale: float, uns: dict, thumb=None, thumb_factor=1,
               measured=None, progress=None):
    obs, xy = superpixel_table(mask, scale)
    var = pd.DataFrame(index=pd.Index(genes, name="gene"))
    layers = {}
    if measured is not None:
        layer, bin_id, in_table = measured_layer(mask, *measured, genes)
        layers["measured"] = layer
        obs["measured"] = bin_id != ""
        obs["bin"] = pd.Categorical(bin_id)
        var["measured"] = in_table
    library = uns["pixel2gene"]["sample"]
    spatial = {library: {"scalefactors": {"tissue_hires_scalef": scale / thumb_factor,
                                          "spot_diameter_fullres": SUPERPIXEL / scale}}}
    if thumb is not None:
        spatial[library]["images"] = {"hires": thumb}
    adata = ad.AnnData(obs=obs, var=var, obsm={"spatial": xy}, layers=layers, uns={**uns, "spatial": spatial})
    adata.write_h5ad(path, compression="gzip")  # X is written below, uncompressed
    _stream_x(path, result_dir, genes, mask, progress)


def _stream_x(path, result_dir, genes, mask, progress):
    n = int(mask.sum())
    with h5py.File(path, "a") as f:
        if "X" in f:
            del f["X"]
        x = f.create_dataset("X", shape=(n, len(genes)), dtype=np.float32,
                             chunks=(min(n, 16384), min(len(genes), GENE_BLOCK)))
        x.attrs["encoding-type"] = "array"
        x.attrs["encoding-version"] = "0.2.0"
        for g0 in range(0, len(genes), GENE_BLOCK):
            block = genes[g0:g0 + GENE_BLOCK]
            x[:, g0:g0 + len(block)] = np.stack(
                [load_npy(Path(result_dir) / "cnts-super" / f"{gene_filename(g)}.npy", mmap=True)[mask]
                 for g in block], 1)
            if progress:
                progress(g0 + len(block), len(genes))

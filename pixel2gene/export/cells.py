"""Predictions summed into cells, written as a cells x genes AnnData .h5ad.

A superpixel's prediction is the expression of its whole 8 µm square; a cell
gets of it the share of the square it covers: X[cell] = sum over superpixels
of area(cell ∩ superpixel) / area(superpixel) x prediction(superpixel). The
weights are a sparse cells x superpixels matrix (image/cells.py) multiplied
with the tissue predictions a block of genes at a time, so neither a dense
weight matrix nor all genes of a slide are ever in memory.
"""
import anndata as ad
import numpy as np
import pandas as pd
import scipy.sparse as sp

from ..artifacts.files import AnnDataFile
from ..artifacts.result import Result
from .anndata import gene_table, spatial_uns, stream_x

X_UNITS = "predicted counts per cell: the area-weighted sum of the 8 µm superpixels it covers"


def cell_weights(coverage, superpixel_um2: float) -> sp.csr_matrix:
    """(cells, tissue superpixels): the share of each superpixel's area that lies in each cell."""
    on_tissue = coverage.pixels[:, :-1]
    return (on_tissue * np.float32(coverage.pixel_um2 / superpixel_um2)).astype(np.float32).tocsr()


def cell_table(ids, coverage, weights, result: Result, mask, classes=None) -> pd.DataFrame:
    """obs: the segmentation's ids, each cell's area, the share of it on tissue, and its novelty and colour
    share (area-weighted over its tissue superpixels, NaN where it covers none)."""
    obs = pd.DataFrame(index=pd.Index(list(ids), dtype=object, name="cell"))
    obs["area_um2"] = (coverage.n_pixels * coverage.pixel_um2).astype(np.float32)
    on_tissue = np.asarray(coverage.pixels[:, :-1].sum(1)).ravel()
    obs["tissue_fraction"] = (on_tissue / coverage.n_pixels).astype(np.float32)
    share = np.asarray(weights.sum(1)).ravel()
    for column, part in (("novelty", result.novelty), ("colour_share", result.colour_share)):
        if part.exists():
            total = weights @ part.read()[mask].astype(np.float32)
            obs[column] = np.divide(total, share, out=np.full(len(share), np.nan, np.float32), where=share > 0)
    if classes is not None:
        obs["class"] = pd.Categorical(np.asarray(classes, object),
                                      categories=pd.Index(sorted(set(classes)), dtype=object))
    return obs


def write_cells_h5ad(path, result: Result, genes, mask, obs, centroid, weights, uns: dict, spatial: dict,
                     progress=None):
    adata = ad.AnnData(obs=obs, var=gene_table(result, genes), obsm={"spatial": np.asarray(centroid, np.float64)},
                       uns={**uns, "spatial": spatial})
    adata.write_h5ad(path, compression="gzip")  # X is written below, uncompressed
    stream_x(path, len(obs), len(genes),
             lambda g0, g1: np.asarray(weights @ result.tissue_values(genes[g0:g1], mask), np.float32), progress)


def cells_uns(uns: dict, segmentation: dict) -> dict:
    """The sample's uns['pixel2gene'], with what a row is and the segmentation it came from."""
    own = dict(uns[AnnDataFile.UNS_KEY], X_units=X_UNITS, observations="cells",
               segmentation=str(segmentation["file"]), segmentation_kind=segmentation["kind"])
    return {**uns, AnnDataFile.UNS_KEY: own}


def cells_spatial(library: str, scale: float, thumb, factor, area_um2, pixel_size_raw: float) -> dict:
    """uns['spatial'], its spot size the median cell's diameter in he-raw pixels."""
    diameter = 2 * np.sqrt(float(np.median(area_um2)) / np.pi) / pixel_size_raw if len(area_um2) else 1.0
    return spatial_uns(library, scale, thumb, factor, diameter)

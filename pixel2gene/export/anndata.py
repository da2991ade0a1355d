"""Predictions as an AnnData .h5ad: tissue superpixels x genes, placed on the user's he-raw image.

X is streamed into the file a block of genes at a time, so a whole slide's
predictions never sit in memory at once; obs, var, obsm, layers and uns go
through anndata's own writer, so the file follows its on-disk format.
"""
import json
from pathlib import Path

import anndata as ad
import h5py
import numpy as np
import pandas as pd
import scipy.sparse as sp

from .. import __version__
from ..artifacts.files import AnnDataFile
from ..artifacts.result import Result
from ..image import SUPERPIXEL
from ..image.disks import gather_disks

GENE_BLOCK = 64


def superpixel_table(mask: np.ndarray, scale: float):
    """obs of the tissue superpixels (row-major, the order of every prediction) and their he-raw centres."""
    rows, cols = np.nonzero(mask)
    obs = pd.DataFrame({"array_row": rows.astype(np.int32), "array_col": cols.astype(np.int32)},
                       index=pd.Index([f"r{r}_c{c}" for r, c in zip(rows, cols)], dtype=object, name="superpixel"))
    xy = np.stack([(cols + 0.5) * SUPERPIXEL / scale, (rows + 0.5) * SUPERPIXEL / scale], 1)
    return obs, xy  # (x, y) = (column, row), as scanpy and squidpy expect


def measured_layer(mask, counts: sp.csr_matrix, bin_ids, have, xy_rescaled: np.ndarray, diameter_px: float, genes):
    """Each measured bin's counts shared evenly over its tissue superpixels (a sparse superpixels x genes
    matrix whose sums over a bin give back its counts), plus each superpixel's bin id.

    counts (bins x `have`) stays sparse: the layer is (superpixels x bins shares) @ counts, so a Visium HD
    section's measured layer holds only its non-zero counts.
    """
    index, n_tissue, _ = gather_disks(xy_rescaled, diameter_px, mask)
    n_obs = int(mask.sum())
    order = np.full(mask.size, -1, np.int64)
    order[np.flatnonzero(mask.ravel())] = np.arange(n_obs)
    b, k = np.nonzero(index >= 0)
    obs_rows = order[index[b, k]]
    share = sp.csr_matrix((np.float32(1) / n_tissue[b].astype(np.float32), (obs_rows, b)),
                          shape=(n_obs, len(bin_ids)), dtype=np.float32)
    gene_pos = pd.Index(genes).get_indexer(have)
    place = sp.csr_matrix((np.ones(len(have), np.float32), (np.arange(len(have)), gene_pos)),
                          shape=(len(have), len(genes)), dtype=np.float32)
    layer = (share @ sp.csr_matrix(counts, dtype=np.float32) @ place).tocsr()
    layer.eliminate_zeros()
    bin_id = np.full(n_obs, "", object)
    bin_id[obs_rows] = np.asarray(bin_ids, object)[b]
    return layer, bin_id, np.isin(genes, have)


def gene_table(result: Result, genes) -> pd.DataFrame:
    """var: the genes, and how far to trust each one's map (its out-of-fold skill on the training bins)."""
    var = pd.DataFrame(index=pd.Index(genes, dtype=object, name="gene"))
    if result.skill.exists():  # NaN: one fold, nothing held out
        skill = result.skill.read().set_index("gene").reindex(genes)
        for column in ("cv_r_counts", "cv_r_composition", "cv_bins", "skilful"):
            var[column] = skill[column].to_numpy()
    return var


def spatial_uns(library: str, scale: float, thumb, thumb_factor, diameter_px: float) -> dict:
    """uns['spatial'] as scanpy.pl.spatial reads it: the H&E thumbnail and how it scales to he-raw."""
    spatial = {library: {"scalefactors": {"tissue_hires_scalef": scale / thumb_factor,
                                          "spot_diameter_fullres": diameter_px}}}
    if thumb is not None:
        spatial[library]["images"] = {"hires": thumb}
    return spatial


def sample_uns(sample: dict, meta: dict) -> dict:
    """uns['pixel2gene']: the sample, units, encoder and the run's record, as every .h5ad of a sample holds it."""
    pred = meta["prediction"][0] if meta.get("prediction") else {}
    return {AnnDataFile.UNS_KEY: {
        "sample": sample["name"], "version": __version__,
        "pixel_size_um": sample["pixel_size"], "pixel_size_raw_um": sample["pixel_size_raw"],
        "superpixel_px": SUPERPIXEL, "superpixel_um": SUPERPIXEL * sample["pixel_size"],
        "spatial_units": "pixels of he-raw (x = column, y = row)",
        "X_units": meta.get("units", "counts per superpixel"),
        "encoder": pred.get("encoder", {}).get("name", "unknown"), "n_models": meta.get("n_models", 0),
        # how far to trust the maps: a flag, the warnings in words (one per line), and the numbers behind them
        "warning": bool(meta.get("warnings")), "warnings": "\n".join(meta.get("warnings") or []),
        # nested run parameters as JSON text: h5ad stores no None values and no ragged lists
        "trust_json": json.dumps({"skill": meta.get("skill"), "familiarity": meta.get("familiarity")}),
        "run_json": json.dumps({"encoder": pred.get("encoder"), "training": pred.get("training"),
                                "versions": meta.get("versions")}, default=str),
    }}


def write_h5ad(path: Path, result: Result, genes, mask, scale: float, uns: dict, thumb=None, thumb_factor=1,
               measured=None, progress=None, domains=None):
    """`domains`: (the domain of each tissue superpixel, the domains' colours), from p2g-domains."""
    obs, xy, extra = tissue_obs(result, mask, scale, domains)
    var = gene_table(result, genes)
    layers = {}
    if measured is not None:
        layer, bin_id, in_table = measured_layer(mask, *measured, genes)
        layers["measured"] = layer
        obs["measured"] = bin_id != ""
        obs["bin"] = pd.Categorical(bin_id, categories=pd.Index(np.unique(bin_id), dtype=object))
        var["measured"] = in_table
    library = uns[AnnDataFile.UNS_KEY]["sample"]
    spatial = spatial_uns(library, scale, thumb, thumb_factor, SUPERPIXEL / scale)
    # object strings: pandas 3's default string arrays are refused by anndata's writer (allow_write_nullable_strings)
    adata = ad.AnnData(obs=obs, var=var, obsm={"spatial": xy}, layers=layers,
                       uns={**uns, "spatial": spatial, **extra})
    adata.write_h5ad(path, compression="gzip")  # X is written below, uncompressed
    stream_x(path, int(mask.sum()), len(genes), lambda g0, g1: result.tissue_values(genes[g0:g1], mask), progress)


def tissue_obs(result: Result, mask, scale: float, domains=None):
    """(obs of the tissue superpixels with their novelty, colour share and domain where they exist, their he-raw
    centres, the uns entries that go with them): what every table of superpixels holds."""
    obs, xy = superpixel_table(mask, scale)
    for column, part in (("novelty", result.novelty), ("colour_share", result.colour_share)):
        if part.exists():  # how unlike the training tissue, and how much of the prediction leans on colour
            obs[column] = part.read()[mask]
    extra = {}
    if domains is not None:
        labels, colours = domains
        obs["domain"] = domain_categories(labels, len(colours))
        extra["domain_colors"] = np.asarray(colours, dtype=object)  # scanpy draws obs['domain'] in these
    return obs, xy, extra


def domain_categories(labels: np.ndarray, k: int) -> pd.Categorical:
    """Domain numbers as scanpy's clusters are: strings '0'..'k-1', a categorical in that order."""
    names = pd.Index([str(d) for d in range(k)], dtype=object)
    return pd.Categorical.from_codes(np.asarray(labels, np.int64), categories=names)


def stream_x(path, n: int, n_genes: int, block, progress=None):
    """X, (n, n_genes) float32, written `GENE_BLOCK` genes at a time: block(g0, g1) gives those columns."""
    with h5py.File(path, "a", rdcc_nbytes=0) as f:  # no chunk cache: a failed write fails here, not at close
        if "X" in f:
            del f["X"]
        x = f.create_dataset("X", shape=(n, n_genes), dtype=np.float32,
                             chunks=(max(1, min(n, 16384)), max(1, min(n_genes, GENE_BLOCK))))
        x.attrs["encoding-type"] = "array"
        x.attrs["encoding-version"] = "0.2.0"
        for g0 in range(0, n_genes, GENE_BLOCK):
            g1 = min(n_genes, g0 + GENE_BLOCK)
            x[:, g0:g1] = block(g0, g1)
            if progress:
                progress(g1, n_genes)

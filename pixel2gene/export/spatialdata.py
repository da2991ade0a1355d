"""A sample's predictions as one SpatialData store: the H&E pyramid, the superpixels (and cells) as shapes, and
the predictions as tables annotating them, all placed in pixels of he-raw.

spatialdata is an optional extra: it is imported only here, and only when a store is written, so the rest of
the package neither needs it nor pays for importing it. The H&E is read from he-raw in row strips as dask
asks for them, and the superpixels' predictions a block of genes at a time, so neither a whole slide nor all
genes of it are in memory at once.
"""
import math

import anndata as ad
import numpy as np
import pandas as pd

from ..artifacts.files import SpatialDataStore
from ..errors import InputError
from ..image import SUPERPIXEL
from ..io.image_reader import ImageReader
from .anndata import GENE_BLOCK, gene_table, tissue_obs

INSTALL = "pip install 'pixel2gene[spatialdata]'"
CHUNK = 1024          # image chunk side (zarr chunks of 3 MiB) and the rows read from he-raw at a time
SMALLEST_LEVEL = 1024  # the pyramid halves he-raw until its longest side is about this
MOST_LEVELS = 7        # he-raw and at most six halvings (128x smaller): enough for any viewer's overview


def require():
    """spatialdata's modules, or the one-line error that says how to install them."""
    try:
        import spatialdata
        import spatialdata.models
        import spatialdata.transformations
    except ImportError as exc:
        raise InputError("spatialdata", f"is not installed ({exc.name} is missing); SpatialData output is an "
                         "optional extra", f"install it with {INSTALL}") from None
    return spatialdata


def halvings(shape) -> int:
    """How many times the pyramid halves he-raw: until its longest side is near SMALLEST_LEVEL."""
    return max(0, min(MOST_LEVELS - 1, math.floor(math.log2(max(max(shape) / SMALLEST_LEVEL, 1)))))


def he_image(reader: ImageReader):
    """he-raw as a (c, y, x) uint8 multiscale image, read lazily in strips of CHUNK rows (the reader stays open
    until the store is written); the coarser levels are spatialdata's (mean of 2x2, kept uint8)."""
    import dask
    import dask.array as da
    from spatialdata.models import Image2DModel
    from spatialdata.transformations import Identity
    h, w = reader.shape
    strips = [da.from_delayed(dask.delayed(reader.read_rows)(y0, min(h, y0 + CHUNK)), (min(h, y0 + CHUNK) - y0, w, 3),
                              np.uint8) for y0 in range(0, h, CHUNK)]
    cyx = da.concatenate(strips, axis=0).transpose(2, 0, 1).rechunk((3, CHUNK, CHUNK))
    return Image2DModel.parse(cyx, dims=("c", "y", "x"), c_coords=["r", "g", "b"],
                              scale_factors=[2] * halvings((h, w)) or None, chunks=(3, CHUNK, CHUNK),
                              transformations={SpatialDataStore.COORDINATES: Identity()})


def superpixel_shapes(mask: np.ndarray, index: pd.Index, scale: float):
    """Each tissue superpixel as its unit square on the superpixel grid (x = column, y = row), placed in he-raw
    pixels by one scale transform: a superpixel is SUPERPIXEL / scale he-raw pixels wide."""
    import geopandas as gpd
    import shapely
    from spatialdata.models import ShapesModel
    from spatialdata.transformations import Scale
    rows, cols = np.nonzero(mask)
    squares = gpd.GeoDataFrame(geometry=shapely.box(cols, rows, cols + 1, rows + 1), index=index)
    side = SUPERPIXEL / scale
    return ShapesModel.parse(squares, transformations={SpatialDataStore.COORDINATES: Scale([side, side],
                                                                                          axes=("x", "y"))})


def lazy_columns(n: int, genes, block):
    """(n, genes) float32 as a dask array whose chunks are GENE_BLOCK genes: block(g0, g1) gives those columns
    when the store's writer asks for them."""
    import dask
    import dask.array as da
    parts = [da.from_delayed(dask.delayed(block)(g0, min(len(genes), g0 + GENE_BLOCK)),
                             (n, min(len(genes), g0 + GENE_BLOCK) - g0), np.float32)
             for g0 in range(0, len(genes), GENE_BLOCK)]
    return da.concatenate(parts, axis=1)


def annotating(adata: ad.AnnData, region: str):
    """A table whose rows annotate the shapes element `region`, one row per shape of the same name."""
    from spatialdata.models import TableModel
    adata.obs[SpatialDataStore.REGION_KEY] = pd.Categorical([region] * adata.n_obs)
    adata.obs[SpatialDataStore.INSTANCE_KEY] = adata.obs_names.to_numpy(dtype=object)
    return TableModel.parse(adata, region=region, region_key=SpatialDataStore.REGION_KEY,
                            instance_key=SpatialDataStore.INSTANCE_KEY)


def superpixel_table(result, genes, mask, scale: float, uns: dict, domains=None):
    """(the superpixels' table: the .h5ad's obs, var, obsm['spatial'] and X, the names of its rows)."""
    obs, xy, extra = tissue_obs(result, mask, scale, domains)
    x = lazy_columns(len(obs), genes, lambda g0, g1: np.asarray(result.tissue_values(genes[g0:g1], mask),
                                                                  np.float32))
    adata = ad.AnnData(X=x, obs=obs, var=gene_table(result, genes), obsm={"spatial": xy}, uns={**uns, **extra})
    return annotating(adata, SpatialDataStore.SUPERPIXELS), obs.index


def cell_elements(cells_h5ad, pixel_size_raw: float):
    """(the cells as circles of their own area at their centroids in he-raw pixels, their table): p2g-cells
    keeps no outlines, so a circle is the shape that has each cell's place and size."""
    import geopandas as gpd
    import shapely
    from spatialdata.models import ShapesModel
    from spatialdata.transformations import Identity
    cells = ad.read_h5ad(cells_h5ad)
    cells.uns.pop("spatial", None)  # scanpy's thumbnail: the store has the H&E itself
    centre = np.asarray(cells.obsm["spatial"], np.float64)
    radius = np.sqrt(cells.obs["area_um2"].to_numpy(np.float64) / np.pi) / pixel_size_raw
    circles = gpd.GeoDataFrame({"radius": radius}, geometry=shapely.points(centre), index=cells.obs_names.copy())
    shapes = ShapesModel.parse(circles, transformations={SpatialDataStore.COORDINATES: Identity()})
    return shapes, annotating(cells, SpatialDataStore.CELLS)


def write_store(tmp, reader: ImageReader, tables: dict, shapes: dict):
    """Write the store at `tmp` (which must not exist): the H&E, the shapes and the tables annotating them."""
    import spatialdata
    sdata = spatialdata.SpatialData(images={SpatialDataStore.IMAGE: he_image(reader)}, shapes=shapes, tables=tables)
    sdata.write(tmp)
    return sdata

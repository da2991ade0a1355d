"""p2g-cells' folder: the predictions summed into the user's cells, and how they were counted.

    cells.h5ad   cells x genes (AnnData): obs = the segmentation's own ids, area, tissue share, novelty;
                 obsm['spatial'] = centroids in he-raw pixels; var = the genes' skill, as the superpixel .h5ad
    cells.json   the segmentation (file, kind, cells kept and dropped), the counting grid, units
"""
from .base import Json, StepFolder


class Cells(StepFolder):
    STEP = "cells"
    TABLE = "cells.h5ad"            # written by export/cells.py through anndata, not a one-line writer
    record = Json("cells.json")

    @property
    def table(self):
        return self.file(self.TABLE)

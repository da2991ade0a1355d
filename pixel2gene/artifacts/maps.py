"""p2g-maps' folder: the overview and gene maps over the H&E, as PNGs, and what each shows."""
from .base import Json, StepFolder


class Maps(StepFolder):
    STEP = "maps"
    FORMAT = 2  # 0.2.0: per-gene skill and the novelty of each superpixel (issue #26)
    OVERVIEW = "overview.png"
    NOVELTY = "novelty.png"           # how unlike the training tissue each superpixel is, over the H&E
    GENES = "genes"                  # genes/STEM.png, one per drawn gene
    record = Json("maps.json")       # the overview, each gene's file and colour range, units, window

    def gene_png(self, stem: str) -> str:
        """A gene map's path inside the folder, as maps.json records it."""
        return f"{self.GENES}/{stem}.png"
